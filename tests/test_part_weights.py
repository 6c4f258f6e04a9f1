"""Part-weighted training loss: small parts (eyes, mouth) can count more, from the renderer's own masks."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from chatface_widgets.models.diffae import build_diffae
from chatface_widgets.testing.tiny import TINY_CONFIG
from chatface_widgets.toy import PARTS, render_batch, render_face, render_masked_batch, sample_params
from chatface_widgets.train.diffae_trainer import (FaceStream, TrainSettings, alpha_bar_table, diffusion_loss,
                                                   parse_part_weights, pixel_weights, train, training_timesteps)


def test_masked_batch_matches_plain_batch_and_render_face():
    seeds = [3, 17, 40]
    images, labels = render_batch(seeds, 32)
    m_images, m_labels, masks = render_masked_batch(seeds, 32)
    assert np.array_equal(images, m_images) and np.array_equal(labels, m_labels)
    assert masks.shape == (3, 32, 32) and masks.dtype == np.uint8
    for seed, mask in zip(seeds, masks):
        assert np.array_equal(mask, render_face(sample_params(seed), 32).mask)


def test_pixel_weights_follow_the_mask():
    masks = torch.tensor([[[PARTS.index("eyes"), PARTS.index("mouth")], [PARTS.index("skin"), 0]]], dtype=torch.uint8)
    w = pixel_weights(masks, (("eyes", 12.0), ("mouth", 8.0)))
    assert w.shape == (1, 1, 2, 2)
    assert w[0, 0].tolist() == [[12.0, 8.0], [1.0, 1.0]]
    with pytest.raises(ValueError, match="unknown part 'nose'"):
        pixel_weights(masks, (("nose", 2.0),))


def test_parse_part_weights_cli():
    assert parse_part_weights(["eyes=12", "mouth=8"]) == (("eyes", 12.0), ("mouth", 8.0))
    for bad in ["eyes", "nose=3", "eyes=0", "eyes=x"]:
        with pytest.raises(SystemExit, match="PART=W"):
            parse_part_weights([bad])


def test_weighted_loss_scales_with_the_weights():
    model = build_diffae(TINY_CONFIG).eval()
    x0 = torch.rand(2, 3, TINY_CONFIG.image_size, TINY_CONFIG.image_size) * 2 - 1
    settings = TrainSettings(image_size=TINY_CONFIG.image_size, bf16=False)
    grid, ab = training_timesteps(), alpha_bar_table()

    def loss(weights):
        with torch.no_grad():
            return diffusion_loss(model, x0, settings, grid, ab, torch.Generator().manual_seed(0), weights).item()

    plain = loss(None)
    assert loss(torch.ones(2, 1, *x0.shape[2:])) == pytest.approx(plain, rel=1e-6)
    assert loss(torch.full((2, 1, *x0.shape[2:]), 3.0)) == pytest.approx(3 * plain, rel=1e-5)
    half = torch.ones(2, 1, *x0.shape[2:])
    half[..., : x0.shape[2] // 2, :] = 5.0
    assert plain < loss(half) < 5 * plain


def test_stream_gives_weights_only_when_asked():
    x, w = FaceStream(32, 2, seed=0).next()
    assert x.shape == (2, 3, 32, 32) and w is None
    x2, w2 = FaceStream(32, 2, seed=0, part_weights=(("eyes", 4.0),)).next()
    assert torch.equal(x, x2) and w2.shape == (2, 1, 32, 32)
    assert set(w2.unique().tolist()) == {1.0, 4.0}


def test_training_records_part_weights(tmp_path):
    settings = TrainSettings(image_size=32, images_per_batch=2, warmup_steps=2, bf16=False,
                             part_weights=(("eyes", 6.0),))
    state = train(tmp_path / "run", minutes=0.02, settings=settings, config=TINY_CONFIG, log_every=1)
    assert state["step"] >= 1
    assert [list(p) for p in state["history"][-1]["settings"]["part_weights"]] == [["eyes", 6.0]]
