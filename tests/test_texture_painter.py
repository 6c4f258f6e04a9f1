"""Texture painter (models.texture_painter): curls the built-in DiffAE's z does not carry, and how the engine applies them."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from chatface_widgets.models.texture_painter import (TexturePainter, TexturePainterConfig, file_stem, load_painter,
                                                     painters_in, save_painter)
from chatface_widgets.photos.photo import to_pil

SHIPPED = Path(__file__).resolve().parents[1] / "weights" / "toy" / "textures"
TINY = TexturePainterConfig(widths=(4, 8))


pytestmark = pytest.mark.usefixtures("one_thread")


def _tiny(seed=0):
    torch.manual_seed(seed)
    model = TexturePainter(TINY).eval()
    for p in model.parameters():  # a visible residual (a fresh head is near zero)
        p.data.normal_(0, 0.3)
    return model


def test_paint_scales_the_residual_with_strength_and_leaves_zero_rows_alone():
    model = _tiny()
    x = (torch.rand(1, 3, 48, 48) * 1.2 - 0.6).repeat(3, 1, 1, 1)
    out = model.paint(x, torch.tensor([0.0, 0.5, 1.0]))
    assert torch.equal(out[0], x[0])  # strength 0: the image itself, bit for bit
    half, full = out[1] - x[1], out[2] - x[2]
    inner = (x[2] + full).abs() < 0.999  # away from the clamp
    torch.testing.assert_close(half[inner], 0.5 * full[inner], atol=1e-5, rtol=1e-4)
    assert full.abs().max() > 0.01
    strong = model.paint(x[2:], torch.tensor([3.0]))  # strengths past 1 draw the full texture, no more
    torch.testing.assert_close(strong, out[2:])
    assert out.min() >= -1 and out.max() <= 1
    with pytest.raises(ValueError, match="2 strengths"):
        model.paint(x, torch.tensor([1.0, 1.0]))


def test_negative_strength_asks_for_the_other_direction():
    model = _tiny()
    x = torch.rand(1, 3, 48, 48) * 1.2 - 0.6
    up, down = model.paint(x, torch.tensor([0.2])) - x, model.paint(x, torch.tensor([-0.2])) - x
    assert not torch.allclose(up, down) and not torch.allclose(up, -down)


def test_other_sizes_are_painted_at_the_models_size():
    model = _tiny()
    for side in (32, 64):
        assert model.paint(torch.zeros(2, 3, side, side), torch.ones(2)).shape == (2, 3, side, side)


def test_save_load_round_trip_and_broken_files(tmp_path):
    model = _tiny()
    save_painter(model, tmp_path, {"command": "test"})
    assert painters_in(tmp_path) == ["curly hair"]
    card = json.loads((tmp_path / "curly_hair.json").read_text())
    assert card["config"]["attribute"] == "curly hair" and card["dtype"] == "float16" and card["command"] == "test"
    loaded = load_painter(tmp_path, "Curly  Hair")
    x = torch.rand(1, 3, 48, 48) * 2 - 1
    torch.testing.assert_close(loaded.paint(x, torch.ones(1)), model.paint(x, torch.ones(1)), atol=0.02, rtol=0)
    assert load_painter(tmp_path, "beard") is None  # no files: no painter
    (tmp_path / "beard.json").write_text((tmp_path / "curly_hair.json").read_text())
    (tmp_path / "beard.safetensors").write_bytes((tmp_path / "curly_hair.safetensors").read_bytes())
    with pytest.raises(ValueError, match="beard.json.*'curly hair'"):
        load_painter(tmp_path, "beard")  # a card for another attribute
    (tmp_path / "curly_hair.safetensors").write_bytes(b"not a tensor file")
    with pytest.raises(ValueError, match="curly_hair.safetensors: not a readable safetensors file"):
        load_painter(tmp_path, "curly hair")
    (tmp_path / "curly_hair.safetensors").unlink()
    with pytest.raises(ValueError, match="curly_hair.safetensors: missing.*painter_trainer"):
        load_painter(tmp_path, "curly hair")
    assert file_stem("Curly Hair") == "curly_hair"
    with pytest.raises(ValueError):
        TexturePainterConfig(attribute=" ")


def test_config_json_round_trip():
    config = TexturePainterConfig(attribute="freckles", part="skin", image_size=32, widths=(8, 16), with_mapper=False)
    assert TexturePainterConfig.from_json(json.loads(json.dumps(config.to_json()))) == config


def test_the_training_loss_prefers_curls_in_the_wrong_phase_to_no_curls():
    from chatface_widgets.train.painter_trainer import painter_loss

    source = torch.zeros(1, 3, 16, 16)
    yy, xx = torch.meshgrid(torch.arange(16), torch.arange(16), indexing="ij")
    stripes = (((xx + yy) % 4 < 2).float() * 0.6 - 0.3).expand(1, 3, 16, 16).clone()
    stripes[..., :, :8] = 0  # texture on the right half only
    blurred_mean = torch.zeros_like(stripes)  # what squared error alone learns when the phase is unpredictable
    shifted = torch.roll(stripes, 1, dims=-1) * (xx >= 8)  # the same curls a quarter period off (uncorrelated)
    assert painter_loss(blurred_mean, stripes, source, 0.0) < painter_loss(shifted, stripes, source, 0.0)
    assert painter_loss(shifted, stripes, source, 1.0) < painter_loss(blurred_mean, stripes, source, 1.0)
    # texture where the target has none costs too
    assert painter_loss(blurred_mean, blurred_mean, source, 1.0) < painter_loss(stripes, blurred_mean, source, 1.0)


# ----------------------------------------------------------------------- the shipped painter on held-out faces


@pytest.mark.skipif(not (SHIPPED / "curly_hair.json").is_file(), reason="no shipped curly-hair painter")
def test_shipped_painter_draws_curls_in_the_hair_and_nowhere_else():
    from chatface_widgets.photos import metrics as M
    from chatface_widgets.toy.params import HELDOUT_SEED_START, PARTS, sample_params
    from chatface_widgets.toy.render import render_face
    from chatface_widgets.train.painter_trainer import PAINTABLE_STYLES, blur

    painter = load_painter(SHIPPED, "curly hair")
    hair = PARTS.index("hair")
    shown, outside, seed = [], [], HELDOUT_SEED_START + 7_000
    while len(shown) < 10:
        p = sample_params(seed)
        seed += 1
        if p.hair_style not in PAINTABLE_STYLES or p.attributes["curly hair"] >= 0.5:
            continue
        src, tgt = render_face(p, 48), render_face(p.with_attributes({"curly hair": 1.0}), 48)
        x = blur(torch.from_numpy(np.array(src.image)).permute(2, 0, 1)[None].float() / 127.5 - 1, torch.tensor([0.7]))
        painted = ((painter.paint(x, torch.ones(1))[0].permute(1, 2, 0) + 1) / 2).numpy()
        plain = ((x[0].permute(1, 2, 0) + 1) / 2).numpy()
        inside = ~M.dilate(src.mask != hair, 1)
        shown.append(M.texture_shown(M.texture(painted, inside), M.texture(plain, inside),
                                     M.texture(np.asarray(tgt.image) / 255.0, inside)))
        far = ~M.dilate((src.mask == hair) | (tgt.mask == hair), 2)
        outside.append(M.masked_psnr(painted, plain, far))
    assert np.nanmean(shown) >= 0.8  # curls a judge can see on most faces
    assert np.median(outside) >= 35  # and little else changes


# ----------------------------------------------------------------------------------- in the engine


@pytest.fixture
def painted_engine():
    from chatface_widgets.testing.tiny import tiny_engine

    engine = tiny_engine()
    engine._painters["curly hair"] = _tiny(1)
    yield engine
    engine._painters.clear()


def _face(engine):
    from chatface_widgets.toy import sample_photo

    return engine.open(sample_photo(0, size=48))


def test_a_global_edit_is_the_decoded_edit_with_its_texture_painted(painted_engine):
    face = _face(painted_engine)
    painter = painted_engine._painters["curly hair"]
    got = face.render_tensor({"curly hair": 0.6, "smile": 0.4}, local=False)
    painted_engine._painters["curly hair"] = None  # the same engine without the painter
    plain = face.render_tensor({"curly hair": 0.6, "smile": 0.4}, local=False)
    torch.testing.assert_close(got, painter.paint(plain, torch.tensor([0.6])))
    assert (got - plain).abs().max() > 0.01
    smile_only = face.render_tensor({"smile": 0.4}, local=False)
    painted_engine._painters["curly hair"] = painter
    torch.testing.assert_close(face.render_tensor({"smile": 0.4}, local=False), smile_only)  # nothing to paint


def test_a_local_edit_paints_only_inside_the_attributes_part(painted_engine):
    face = _face(painted_engine)
    side = face.x0.shape[-1]
    top = side // 3
    prior = torch.zeros(1, 1, side, side)
    prior[..., :top, :] = 1.0  # "the hair": the top third
    face._priors["curly hair"] = prior
    out = face.render_tensor({"curly hair": 1.0}, local=True)
    painted_engine._painters["curly hair"] = None
    face._recons.clear()
    plain = face.render_tensor({"curly hair": 1.0}, local=True)
    assert torch.equal(out[..., top:, :], plain[..., top:, :])  # outside the part: untouched by the painter
    assert (out[..., :top, :] - plain[..., :top, :]).abs().max() > 0.01


def test_a_texture_only_attribute_leaves_z_and_paints_the_photo(painted_engine):
    import dataclasses

    painter = painted_engine._painters["curly hair"]
    painter.config = dataclasses.replace(painter.config, with_mapper=False)
    face = _face(painted_engine)
    assert torch.equal(face.edit_code({"curly hair": 1.0}), face.z)
    assert not painted_engine.moves_z("curly hair") and painted_engine.moves_z("smile")
    recon = face.render_tensor({}, local=False)
    torch.testing.assert_close(face.render_tensor({"curly hair": 0.7}, local=False),
                               painter.paint(recon, torch.tensor([0.7])))
    calls = []
    decode = painted_engine.decode
    painted_engine.decode = lambda *a, **k: calls.append(a[0].shape[0]) or decode(*a, **k)
    try:
        local = face.render_tensor({"curly hair": 0.7}, local=True)
        assert calls == []  # the photo is painted: nothing to decode
        mixed = face.render_many([{"curly hair": 0.7}, {"smile": 1.0}], local=True)
        assert calls  # the smile row is decoded, in the same batch
    finally:
        painted_engine.decode = decode
    painted_photo = painter.paint(face.x0, torch.tensor([0.7]))
    torch.testing.assert_close(local, painted_photo)  # no prior here: the whole photo
    assert np.abs(np.asarray(mixed[0], np.int16) - np.asarray(to_pil(painted_photo)[0], np.int16)).max() <= 1


def test_batches_paint_like_single_renders(painted_engine):
    from chatface_widgets.foundation.settings import RenderSettings
    from chatface_widgets.jobs.batch import render_padded

    face = _face(painted_engine)
    settings = RenderSettings(edits={"curly hair": 0.8}, steps=10, local="off")
    out = render_padded(painted_engine, [painted_engine.read_face(face.image)], settings, 2)
    single = face.render({"curly hair": 0.8}, steps=10, local=False)
    diff = np.abs(np.asarray(out[0], np.int16) - np.asarray(single, np.int16))
    assert diff.max() <= 2


@pytest.mark.skipif(not (SHIPPED / "curly_hair.json").is_file(), reason="no shipped curly-hair painter")
def test_auto_paints_curls_on_the_photo_even_when_the_hair_covers_most_of_it():
    from chatface_widgets.engine.engine import AUTO_MAX_AREA, Engine

    face = Engine.load("toy").open("sample:ada")  # long hair: its grown prior covers more than AUTO_MAX_AREA
    curly = {"curly hair": 1.0}
    mask = face.local_mask(curly, local="auto")
    assert mask is not None and float(mask.mean()) > AUTO_MAX_AREA
    out = np.asarray(face.render(curly), np.int16)
    photo = np.asarray(face.image.convert("RGB").resize(out.shape[1::-1]), np.int16)
    outside = mask[0, 0].numpy() == 0
    assert outside.any() and np.abs(out - photo)[outside].max() <= 1  # the photo's own pixels, not the reconstruction
    assert np.abs(out - photo)[~outside].mean() > 2  # and curls inside the hair
