"""ChatFace mapper losses: values on hand-made inputs, gradients, and the judges' contracts."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from chatface_widgets.train.losses import (LossWeights, directional_loss, global_margin_loss, identity_loss,
                                           mapper_loss, preservation_loss, text_direction, unit)


def test_preservation_is_l1_plus_latent_norm():
    x0 = torch.zeros(2, 3, 4, 4)
    x_edit = torch.full((2, 3, 4, 4), 0.5)
    dz = torch.tensor([[3.0, 4.0], [0.0, 0.0]])
    assert preservation_loss(x0, x_edit, dz).item() == pytest.approx(0.5 + (5.0 + 0.0) / 2)


def test_identity_loss_is_one_minus_cosine():
    a = F.normalize(torch.tensor([[1.0, 0.0], [1.0, 0.0]]), dim=-1)
    b = F.normalize(torch.tensor([[1.0, 0.0], [0.0, 1.0]]), dim=-1)
    assert identity_loss(a, b).item() == pytest.approx((0.0 + 1.0) / 2)


def test_directional_loss_parallel_orthogonal_opposite():
    rec = torch.tensor([[1.0, 0.0, 0.0]])
    text_dir = unit(torch.tensor([0.0, 1.0, 0.0]))
    along, sideways, against = torch.tensor([[1.0, 1.0, 0.0]]), torch.tensor([[1.0, 0.0, 1.0]]), torch.tensor([[1.0, -1.0, 0.0]])
    assert directional_loss(rec, along, text_dir).item() == pytest.approx(0.0, abs=1e-6)
    assert directional_loss(rec, sideways, text_dir).item() == pytest.approx(1.0, abs=1e-6)
    assert directional_loss(rec, against, text_dir).item() == pytest.approx(2.0, abs=1e-6)


def test_directional_loss_is_finite_when_the_image_does_not_change():
    rec = F.normalize(torch.randn(2, 8), dim=-1)
    edit = rec.clone().requires_grad_(True)
    loss = directional_loss(rec, edit, unit(torch.randn(8)))
    loss.backward()
    assert loss.item() == pytest.approx(1.0)
    assert torch.isfinite(edit.grad).all()


def test_total_uses_paper_weights_and_reports_parts():
    torch.manual_seed(0)
    x0, x_edit = torch.rand(2, 3, 8, 8), torch.rand(2, 3, 8, 8)
    dz = torch.randn(2, 4)
    ids = [F.normalize(torch.randn(2, 5), dim=-1) for _ in range(2)]
    clips = [F.normalize(torch.randn(2, 6), dim=-1) for _ in range(2)]
    tdir = unit(torch.randn(6))
    total, parts = mapper_loss(x0, x_edit, dz, ids[0], ids[1], clips[0], clips[1], tdir)
    w = LossWeights()
    assert (w.pre, w.id, w.dir) == (0.2, 0.5, 2.0)
    assert total.item() == pytest.approx(0.2 * parts["pre"] + 0.5 * parts["id"] + 2.0 * parts["dir"], rel=1e-6)
    assert set(parts) == {"total", "pre", "id", "dir"}


@pytest.mark.needs("open_clip")
def test_text_direction_with_tiny_clip_is_unit_and_prompt_sensitive():
    from chatface_widgets.train.judges import tiny_random_judges

    clip, _ = tiny_random_judges()
    d1 = text_direction(clip, "a face with a smile", "a face")
    d2 = text_direction(clip, ["a face with eyeglasses"], ["a face"])
    assert d1.norm().item() == pytest.approx(1.0, abs=1e-5)
    assert not torch.allclose(d1, d2)


@pytest.mark.needs("open_clip")
def test_judges_return_unit_embeddings_and_pass_gradients():
    from chatface_widgets.train.judges import tiny_random_judges

    clip, ident = tiny_random_judges(image_size=32)
    x = (torch.rand(3, 3, 48, 48) * 2 - 1).requires_grad_(True)  # any size: judges resize
    e_img, e_id = clip.encode_image(x), ident.embed(x)
    assert torch.allclose(e_img.norm(dim=-1), torch.ones(3), atol=1e-5)
    assert torch.allclose(e_id.norm(dim=-1), torch.ones(3), atol=1e-5)
    (e_img.sum() + e_id.sum()).backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    assert not any(p.requires_grad for p in clip.parameters()) and not any(p.requires_grad for p in ident.parameters())
    clip.train()
    assert not clip.training and not clip.model.training


@pytest.mark.needs("open_clip")
def test_clip_preprocessing_matches_clip_recipe():
    from chatface_widgets.train.judges import resize_center_crop, tiny_random_judges

    clip, _ = tiny_random_judges(image_size=32)
    x = torch.zeros(1, 3, 64, 64)  # mid-grey in [-1, 1] is 0.5 in [0, 1]
    out = clip.preprocess(x)
    assert out.shape == (1, 3, 32, 32)
    expected = (0.5 - clip.mean) / clip.std
    assert torch.allclose(out, expected.expand_as(out), atol=1e-5)
    wide = torch.rand(1, 3, 40, 80)
    assert resize_center_crop(wide, 20).shape == (1, 3, 20, 20)


@pytest.mark.needs("open_clip")
def test_toy_judges_load_if_shipped():
    from chatface_widgets.engine.catalogue import builtin_folder
    from chatface_widgets.train.judges import load_toy_judges

    folder = builtin_folder()
    if not (folder / "clip.json").is_file() or not (folder / "identity.json").is_file():
        pytest.skip("toy judges not trained yet")
    clip, ident = load_toy_judges(folder)
    x = torch.zeros(2, 3, 48, 48)
    assert clip.encode_image(x).shape[0] == 2 and ident.embed(x).shape[0] == 2
    t = clip.encode_text(["a face", "a face with eyeglasses"])
    assert math.isclose(t[0].norm().item(), 1.0, abs_tol=1e-5)


def test_optional_global_clip_term():
    torch.manual_seed(1)
    x0, x_edit, dz = torch.rand(2, 3, 8, 8), torch.rand(2, 3, 8, 8), torch.randn(2, 4)
    ids = [F.normalize(torch.randn(2, 5), dim=-1) for _ in range(2)]
    clips = [F.normalize(torch.randn(2, 6), dim=-1) for _ in range(2)]
    tdir, target = unit(torch.randn(6)), unit(torch.randn(6))
    base, parts = mapper_loss(x0, x_edit, dz, ids[0], ids[1], clips[0], clips[1], tdir)
    assert "global" not in parts and LossWeights().glob == 0.0
    total, parts = mapper_loss(x0, x_edit, dz, ids[0], ids[1], clips[0], clips[1], tdir, LossWeights(glob=1.5), target)
    expected = 1.0 - (clips[1] * target).sum(-1).mean()
    assert parts["global"] == pytest.approx(expected.item(), rel=1e-6)
    assert total.item() == pytest.approx(base.item() + 1.5 * parts["global"], rel=1e-6)
    with pytest.raises(ValueError):
        mapper_loss(x0, x_edit, dz, ids[0], ids[1], clips[0], clips[1], tdir, LossWeights(glob=1.0))


@pytest.mark.needs("open_clip")
def test_compact_tokenizer_keeps_argmax_pooling_and_flags_unknown_words():
    from chatface_widgets.train.toy_clip import CompactTokenizer, caption_vocabulary

    tok = CompactTokenizer.from_texts(caption_vocabulary(200))
    ids = tok(["a face with curly hair", "a happy face"])
    eot = tok.vocab_size - 1
    assert ids.shape == (2, tok.context_length) and int(ids.max()) == eot
    assert ids[0].argmax().item() == (ids[0] == eot).nonzero()[0].item()  # open_clip pools at argmax = end token
    assert (ids[1] == CompactTokenizer.UNKNOWN).sum() >= 1 and tok.unknown_words("a happy face") == ["happy"]


def test_hinged_global_term_stops_once_clip_prefers_the_target_by_the_margin():
    target, source = torch.tensor([1.0, 0.0, 0.0]), torch.tensor([0.0, 1.0, 0.0])
    clip_edit = F.normalize(torch.tensor([[0.1, 1.0, 0.0], [1.0, 0.0, 0.2]]), dim=-1)  # reads source; reads target
    gap = clip_edit @ target - clip_edit @ source
    loss = global_margin_loss(clip_edit, target, source, 0.25)
    assert loss.item() == pytest.approx(((0.25 - gap[0]) / 2).item(), rel=1e-6)  # only the first row pays
    x0 = x_edit = torch.zeros(2, 3, 4, 4)
    ids = F.normalize(torch.randn(2, 5), dim=-1)
    tdir = unit(target - source)
    w = LossWeights(glob=2.0, glob_margin=0.25)
    total, parts = mapper_loss(x0, x_edit, torch.zeros(2, 3), ids, ids, clip_edit, clip_edit, tdir, w, target, source)
    assert parts["global"] == pytest.approx(loss.item(), rel=1e-6)
    with pytest.raises(ValueError, match="text_source"):
        mapper_loss(x0, x_edit, torch.zeros(2, 3), ids, ids, clip_edit, clip_edit, tdir, w, target)
    loss_far = global_margin_loss(clip_edit[1:], target, source, 0.25)
    assert loss_far.item() == 0.0  # a clear target reading is not pushed further
