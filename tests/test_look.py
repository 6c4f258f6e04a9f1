"""What makes edits look like the attribute (issue 28): the decoder's chroma smoothing and signed mappers with a strength curve."""

import json

import numpy as np
import pytest
import torch

from chatface_widgets.diffusion.chroma import luma, smooth_chroma
from chatface_widgets.eval.truth import speckle
from chatface_widgets.models.mapper import MLPMapper, SignedMapper, compose, load_mapper, save_mapper


def _noisy_face(seed: int = 0) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    base = torch.linspace(-0.6, 0.6, 32).view(1, 1, 1, 32).expand(1, 3, 32, 32).clone()
    return (base + 0.15 * torch.randn(1, 3, 32, 32, generator=gen)).clamp(-1, 1)


def test_smoothing_keeps_luma_and_removes_colour_noise():
    x = _noisy_face()
    out = smooth_chroma(x, 0.7)
    assert torch.allclose(luma(out), luma(x), atol=1e-5)  # the detail a viewer reads as shape stays
    as_image = lambda t: (t[0].permute(1, 2, 0).numpy() + 1) / 2  # noqa: E731
    mask = np.ones((32, 32), bool)
    assert speckle(as_image(out), mask) < 0.6 * speckle(as_image(x), mask)


def test_smoothing_leaves_the_photo_where_the_mask_is_zero():
    x = _noisy_face(1)
    mask = torch.zeros(1, 1, 32, 32)
    mask[..., 8:20, 8:20] = 1.0
    out = smooth_chroma(x, 0.7, mask)
    assert torch.equal(out[..., mask[0, 0] == 0], x[..., mask[0, 0] == 0])  # bit for bit
    assert not torch.equal(out[..., 8:20, 8:20], x[..., 8:20, 8:20])
    assert torch.equal(smooth_chroma(x, 0.0), x)


def test_the_built_in_model_smooths_its_decodes_and_local_edits_keep_the_photo():
    from chatface_widgets.engine.engine import Engine

    engine = Engine.load("toy", threads=1)
    assert engine.info.chroma_sigma == 0.7  # from weights/toy/diffae.json
    face = engine.open("sample", align=False)
    photo = np.asarray(face.original, np.int16)
    edit = np.asarray(face.render({"eyeglasses": 1.0}), np.int16)
    region = face.region({"eyeglasses": 1.0}).squeeze().cpu().numpy()
    assert (region == 0).any() and np.array_equal(edit[region == 0], photo[region == 0])
    import dataclasses

    raw_engine = Engine(engine.model, engine.registry, dataclasses.replace(engine.info, chroma_sigma=0.0),
                        engine.device, threads=1, spec=engine.spec)
    raw = np.asarray(raw_engine.open("sample", align=False).reconstruct(), np.float64) / 255
    smooth = np.asarray(face.reconstruct(), np.float64) / 255
    whole = np.ones(raw.shape[:2], bool)
    assert speckle(smooth, whole) < 0.8 * speckle(raw, whole)


@pytest.mark.parametrize("value", [-0.1, 5.5, "0.7", True, None])
def test_a_card_with_a_bad_chroma_sigma_is_refused_with_one_line(tmp_path, value):
    from chatface_widgets.engine.catalogue import find
    from chatface_widgets.models.diffae import ModelCardError, read_model_card

    card = json.loads((find("toy").folder / "diffae.json").read_text())
    card["chroma_sigma"] = value
    (tmp_path / "diffae.json").write_text(json.dumps(card))
    with pytest.raises(ModelCardError, match="chroma_sigma"):
        read_model_card(tmp_path / "diffae.safetensors")


def _signed(seed: int = 0) -> SignedMapper:
    torch.manual_seed(seed)
    add, remove = MLPMapper(8, name="beard"), MLPMapper(8, name="beard")
    with torch.no_grad():
        for w in list(add.parameters()) + list(remove.parameters()):
            w.normal_(0.0, 0.3)
    return SignedMapper(add, remove, name="beard")


def test_a_signed_mapper_removes_with_its_own_step():
    m, z = _signed(), torch.randn(3, 8)
    assert torch.allclose(compose(z, {"beard": m}, {"beard": 0.5}), z + 0.5 * m.add(z))
    assert torch.allclose(compose(z, {"beard": m}, {"beard": -0.5}), z + 0.5 * m.remove(z))
    assert not torch.allclose(m.remove(z), -m.add(z))


def test_signed_mappers_and_curves_survive_the_card(tmp_path):
    m = _signed()
    path = save_mapper(m, tmp_path / "beard.safetensors", {"attribute": "beard", "strength_curve": 0.5})
    loaded, card = load_mapper(path)
    z = torch.randn(2, 8)
    assert card["signed"] is True and isinstance(loaded, SignedMapper) and loaded.curve == (0.5, 0.5)
    assert torch.allclose(loaded.step(z, -1.0), m.remove(z)) and torch.allclose(loaded.step(z, 1.0), m.add(z))
    assert torch.allclose(loaded.step(z, 0.25), 0.5 * m.add(z))  # |0.25|^0.5: a quarter shows as half the step
    assert torch.allclose(loaded.step(z, -0.25), 0.5 * m.remove(z))
    plain = MLPMapper(8, name="smile")
    path = save_mapper(plain, tmp_path / "smile.safetensors", {"attribute": "smile"})
    again, card = load_mapper(path)
    assert "signed" not in card and again.curve == (1.0, 1.0) and torch.allclose(again.step(z, 0.3), 0.3 * plain(z))


def test_a_curve_may_differ_by_sign(tmp_path):
    m = _signed()
    path = save_mapper(m, tmp_path / "smile.safetensors",
                       {"attribute": "smile", "strength_curve": {"add": 0.5, "remove": 0.25}})
    loaded, _ = load_mapper(path)
    z = torch.randn(2, 8)
    assert torch.allclose(loaded.step(z, 0.25), 0.5 * m.add(z))
    assert torch.allclose(loaded.step(z, -0.0625), 0.5 * m.remove(z))  # 0.0625^0.25 = 0.5


@pytest.mark.parametrize("curve", [0.0, -1, 9, "0.5", True, {"add": 0.5, "up": 1.0}, {"remove": 0}])
def test_a_bad_strength_curve_names_the_card(tmp_path, curve):
    path = save_mapper(MLPMapper(8, name="smile"), tmp_path / "smile.safetensors",
                       {"attribute": "smile", "strength_curve": curve})
    with pytest.raises(ValueError, match=r"smile\.json.*strength_curve"):
        load_mapper(path)


def test_sms_can_differ_by_sign():
    from chatface_widgets.editing.registry import Attribute, AttributeRegistry

    plain = MLPMapper(8)
    reg = AttributeRegistry([Attribute("smile", plain, card={"sms": False}),
                             Attribute("beard", plain, card={"sms": {"add": True, "remove": False}}),
                             Attribute("gray hair", plain, card={})])
    assert reg.steady("smile", 1.0) and reg.steady("smile", -0.5)
    assert not reg.steady("beard", 0.5) and reg.steady("beard", -0.5)
    assert not reg.steady("gray hair", 1.0) and not reg.steady("gray hair", -1.0)


def test_the_painters_strength_curve_matches_a_mappers():
    from chatface_widgets.engine.catalogue import find
    from chatface_widgets.models.texture_painter import load_painter

    painter = load_painter(find("toy").folder / "textures", "curly hair")
    assert painter.curve == (0.5, 0.5)  # weights/toy/textures/curly_hair.json
    x = _noisy_face().expand(2, -1, -1, -1).clone()
    x = torch.nn.functional.interpolate(x, size=48)
    quarter = painter.paint(x, torch.tensor([0.25, -0.25]))
    painter.curve = (1.0, 1.0)
    half = painter.paint(x, torch.tensor([0.5, -0.5]))
    assert torch.allclose(quarter, half, atol=1e-6) and not torch.equal(quarter, x)


def test_a_removal_half_keeps_the_mapper_that_adds(tmp_path):
    from chatface_widgets.engine.engine import Engine
    from chatface_widgets.train.truth_latents import add_removal

    engine = Engine.load("toy", threads=1)
    torch.manual_seed(0)
    add = MLPMapper(128, name="beard")
    save_mapper(add, tmp_path / "beard.safetensors", {"attribute": "beard", "synonyms": ["stubble"]})
    out = add_removal(engine, "beard", tmp_path, faces=40, iters=30, curve=0.5)
    loaded, card = load_mapper(out["path"])
    z = torch.randn(2, 128)
    assert isinstance(loaded, SignedMapper) and card["signed"] is True and card["synonyms"] == ["stubble"]
    assert card["sms"] == {"add": True, "remove": False} and card["strength_curve"] == 0.5
    assert torch.allclose(loaded.add(z), add(z)) and not torch.allclose(loaded.remove(z), -add(z))
    assert card["remove_training"]["iterations"] == 30


def test_the_trainers_decode_is_smoothed_like_the_renders():
    from chatface_widgets.engine.engine import Engine

    engine = Engine.load("toy", threads=1)
    face = engine.open("sample", align=False)
    x_T, z = face.trajectory(4).x_T, face.z
    plain = engine.decode(x_T, z, 4, fast=False)
    with torch.no_grad():
        trained = engine.decode_differentiable(x_T, z, 4, checkpoint=False)
    assert torch.allclose(plain, trained, atol=1e-4)


def test_a_painter_card_says_what_the_chroma_blur_smooths(tmp_path):
    from chatface_widgets.models.texture_painter import TexturePainter, TexturePainterConfig, load_painter, save_painter

    painter = TexturePainter(TexturePainterConfig(attribute="pale skin", part="skin", widths=(8, 16)))
    save_painter(painter, tmp_path, {"chroma_of": "result"})
    assert load_painter(tmp_path, "pale skin").smooth_result
    save_painter(painter, tmp_path)
    assert not load_painter(tmp_path, "pale skin").smooth_result  # the default: its change only
    save_painter(painter, tmp_path, {"chroma_of": "everything"})
    with pytest.raises(ValueError, match=r"pale_skin\.json.*chroma_of"):
        load_painter(tmp_path, "pale skin")


def test_pale_skin_leaves_less_colour_noise_than_the_photo_and_nothing_outside_the_skin():
    from chatface_widgets.engine.engine import Engine

    engine = Engine.load("toy", threads=1)
    assert not engine.moves_z("pale skin") and engine.painter("pale skin").smooth_result  # weights/toy/textures
    face = engine.open("sample:ben")
    photo = np.asarray(face.original, np.float64) / 255
    pale = np.asarray(face.render({"pale skin": 1.0}), np.float64) / 255
    changed = np.abs(pale - photo).max(-1) > 2 / 255
    assert changed.mean() > 0.1  # the skin turns pale
    prior = face._prior("pale skin")[0, 0].cpu().numpy()
    assert np.array_equal(pale[prior == 0], photo[prior == 0])  # the rest is the photo, bit for bit
    engine.painter("pale skin").smooth_result = False
    try:
        only_change = np.asarray(face.render({"pale skin": 1.0}), np.float64) / 255
    finally:
        engine.painter("pale skin").smooth_result = True
    assert speckle(pale, changed) < speckle(only_change, changed)  # the photo's colour noise washes out as in real pale skin


def test_the_users_own_mapper_wins_over_a_texture_only_painter(tmp_path):
    import shutil

    from chatface_widgets.engine.catalogue import find
    from chatface_widgets.engine.engine import Engine

    shipped = Engine.load("toy", threads=1)
    assert not shipped.moves_z("smile") and shipped.painter("smile") is not None  # weights/toy/textures/smile.*
    shutil.copytree(find("toy").folder / "mappers", tmp_path / "mappers")
    own = Engine.load("toy", threads=1, mappers=tmp_path / "mappers")
    assert own.moves_z("smile") and own.painter("smile") is None
    face = own.open("sample", align=False)
    assert not torch.equal(face.edit_code({"smile": 1.0}), face.z)  # the user's mapper moves z
    inside = Engine.load("toy", threads=1, mappers=find("toy").folder / "mappers")
    assert not inside.moves_z("smile")  # the model's own folder named explicitly: still its painter
