"""Region priors: the toy face parser (models.face_parser) and landmark part maps for photos."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from chatface_widgets.photos.landmark_parts import PARTS_NAMES, aligned_face_parts, landmark_labels, landmark_parts
from chatface_widgets.models.face_parser import (CONFIG_NAME, WEIGHTS_NAME, FaceParser, FaceParserConfig,
                                                 count_parameters, load_parser, save_parser)
from chatface_widgets.toy.params import HELDOUT_SEED_START, PARTS
from chatface_widgets.toy.render import render_masked_batch

SHIPPED = Path(__file__).resolve().parents[1] / "weights" / "toy"
TINY = FaceParserConfig(widths=(4, 8), parts=PARTS)


pytestmark = pytest.mark.usefixtures("one_thread")


# ------------------------------------------------------------------------------------------ the parser


def test_parser_shapes_and_probabilities():
    torch.manual_seed(0)
    model = FaceParser(TINY)
    x = torch.rand(2, 3, 48, 48) * 2 - 1
    assert model(x).shape == (2, len(PARTS), 48, 48)
    for side in (48, 64, 30):
        probs = model.probabilities(torch.rand(2, 3, side, side) * 2 - 1)
        assert probs.shape == (2, len(PARTS), side, side) and probs.dtype == torch.float32
        assert not probs.requires_grad
        torch.testing.assert_close(probs.sum(1), torch.ones(2, side, side))
        assert probs.min() >= 0
    assert model.training  # probabilities() leaves the mode as it was


def test_default_parser_is_small():
    assert count_parameters(FaceParser()) <= 300_000
    assert FaceParserConfig().parts == PARTS  # the default names are the toy world's parts, in order


def test_config_json_round_trip():
    config = FaceParserConfig(image_size=32, widths=(8, 16, 24), parts=("a", "b"))
    assert FaceParserConfig.from_json(json.loads(json.dumps(config.to_json()))) == config


def test_save_and_load(tmp_path):
    torch.manual_seed(0)
    model = FaceParser(TINY).eval()
    save_parser(model, tmp_path, {"command": "test", "steps": 0})
    card = json.loads((tmp_path / CONFIG_NAME).read_text())
    assert card["config"]["parts"] == list(PARTS) and card["command"] == "test"
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".part")]  # atomic: no temporaries left
    loaded = load_parser(tmp_path)
    assert loaded.config == TINY and not loaded.training
    x = torch.rand(1, 3, 48, 48) * 2 - 1
    torch.testing.assert_close(loaded.probabilities(x), model.probabilities(x), atol=2e-2, rtol=0)


def test_load_parser_absent_is_none(tmp_path):
    assert load_parser(tmp_path) is None
    assert load_parser(tmp_path / "nowhere") is None


def test_load_parser_broken_files_name_the_file(tmp_path):
    save_parser(FaceParser(TINY), tmp_path, {})
    weights = tmp_path / WEIGHTS_NAME
    weights.write_bytes(b"\x00\x01 not a safetensors file" * 10)
    with pytest.raises(ValueError, match=WEIGHTS_NAME) as info:
        load_parser(tmp_path)
    assert "\n" not in str(info.value)
    weights.unlink()
    with pytest.raises(ValueError, match=WEIGHTS_NAME):  # half a parser is an error, not "absent"
        load_parser(tmp_path)
    save_parser(FaceParser(TINY), tmp_path, {})
    (tmp_path / CONFIG_NAME).write_text("{ truncated")
    with pytest.raises(ValueError, match=CONFIG_NAME):
        load_parser(tmp_path)


def _iou(pred: np.ndarray, truth: np.ndarray, part: int) -> float:
    p, t = pred == part, truth == part
    return float((p & t).sum() / max((p | t).sum(), 1))


@pytest.mark.skipif(not (SHIPPED / WEIGHTS_NAME).is_file(), reason="no shipped parser weights")
def test_shipped_parser_on_heldout_faces():
    model = load_parser(SHIPPED)
    assert tuple(model.config.parts) == PARTS
    assert (SHIPPED / WEIGHTS_NAME).stat().st_size < 1_000_000
    start = HELDOUT_SEED_START + 12345  # not the faces of the training report
    images, _, masks = render_masked_batch(range(start, start + 20), model.config.image_size)
    x = torch.from_numpy(images).permute(0, 3, 1, 2).float() / 127.5 - 1
    pred = model.probabilities(x).argmax(1).numpy()
    for name in ("hair", "skin", "eyes", "mouth"):
        assert _iou(pred, masks, PARTS.index(name)) >= 0.8, name


# ----------------------------------------------------------------------------------- landmark part maps


def synthetic_landmarks(size: int = 128) -> np.ndarray:
    """A plausible frontal iBUG-68 set on a ``size`` crop (eyes at ~0.47, mouth at ~0.72 of the height)."""
    s = size / 128
    lm = np.zeros((68, 2))
    t = np.linspace(0, np.pi, 17)
    lm[0:17] = np.stack([64 - 40 * np.cos(t), 60 + 45 * np.sin(t)], 1)  # jaw: ear to chin to ear
    for k, x0 in enumerate((32, 70)):  # brows: 17-21 and 22-26
        u = np.linspace(0, 1, 5)
        lm[17 + 5 * k:22 + 5 * k] = np.stack([x0 + 26 * u, 49 - 4 * np.sin(np.pi * u)], 1)
    lm[27:31] = np.stack([np.full(4, 64.0), np.linspace(55, 74, 4)], 1)  # bridge
    lm[31:36] = np.stack([np.linspace(56, 72, 5), [78, 79, 80, 79, 78]], 1)  # nose bottom (33 in the middle)
    a = np.deg2rad([180, 120, 60, 0, -60, -120])  # eye: outer/inner corner, top, corner, bottom
    for k, cx in enumerate((45, 83)):
        lm[36 + 6 * k:42 + 6 * k] = np.stack([cx + 8 * np.cos(a), 60 - 3 * np.sin(a)], 1)
    b = np.deg2rad(np.linspace(180, -150, 12))  # outer lips from the left corner, over the top
    lm[48:60] = np.stack([64 + 14 * np.cos(b), 92 - 5 * np.sin(b)], 1)
    c = np.deg2rad(np.linspace(180, -135, 8))
    lm[60:68] = np.stack([64 + 9 * np.cos(c), 92 - 2 * np.sin(c)], 1)
    return lm * s


def _at(maps: np.ndarray, part: str, point) -> float:
    x, y = np.rint(point).astype(int)
    return float(maps[PARTS_NAMES.index(part), y, x])


def test_landmark_parts_on_synthetic_landmarks():
    lm = synthetic_landmarks(128)
    maps = landmark_parts(lm, 128)
    assert maps.shape == (len(PARTS_NAMES), 128, 128) and maps.dtype == np.float32
    assert maps.min() >= 0 and maps.max() <= 1
    np.testing.assert_allclose(maps.sum(0), 1.0, atol=1e-5)
    assert PARTS_NAMES == PARTS  # the same order as the toy parser's channels
    assert _at(maps, "eyes", lm[36:42].mean(0)) == 1 and _at(maps, "eyes", lm[42:48].mean(0)) == 1
    assert _at(maps, "mouth", lm[48:60].mean(0)) == 1
    assert _at(maps, "skin", (64, 40)) == 1  # forehead, above the brows
    assert _at(maps, "skin", (35, 72)) == 1  # cheek
    assert _at(maps, "background", (3, 3)) == 1 and _at(maps, "background", (124, 3)) == 1
    assert _at(maps, "hair", (64, 12)) == 1  # above the forehead
    assert _at(maps, "clothes", (10, 124)) == 1 and _at(maps, "clothes", (118, 124)) == 1
    assert maps[PARTS_NAMES.index("glasses")].max() == 0  # nothing to see: documented as empty
    beard = maps[PARTS_NAMES.index("beard")]
    ys, xs = np.nonzero(beard > 0.5)
    assert len(ys) > 100 and ys.min() >= lm[33, 1] - 1  # below the bottom of the nose
    assert ys.max() <= lm[8, 1] + 1 and xs.min() >= lm[0:17, 0].min() - 1 and xs.max() <= lm[0:17, 0].max() + 1
    hair = maps[PARTS_NAMES.index("hair")]
    assert np.nonzero(hair > 0.5)[0].max() < lm[8, 1]  # hair stays above the jaw line
    # a picked subset comes in the asked order; labels at supersample 1 agree with the maps' majority
    sub = landmark_parts(lm, 128, parts=("mouth", "eyes"))
    np.testing.assert_array_equal(sub, maps[[PARTS_NAMES.index("mouth"), PARTS_NAMES.index("eyes")]])
    labels = landmark_labels(lm, 128)
    assert labels.shape == (128, 128) and (labels == maps.argmax(0)).mean() > 0.97


def test_landmark_parts_scale_with_the_crop_and_refuse_bad_input():
    small, big = landmark_parts(synthetic_landmarks(64), 64), landmark_parts(synthetic_landmarks(256), 256)
    down = big.reshape(len(PARTS_NAMES), 64, 4, 64, 4).mean((2, 4))
    assert np.abs(down - small).mean() < 0.02
    with pytest.raises(ValueError, match="68"):
        landmark_parts(np.zeros((5, 2)), 64)
    with pytest.raises(ValueError, match="unknown part"):
        landmark_parts(synthetic_landmarks(64), 64, parts=("eyes", "ears"))


def test_landmark_parts_on_a_real_photo():
    pytest.importorskip("dlib")
    pytest.importorskip("face_recognition_models")
    skimage_data = pytest.importorskip("skimage.data")
    from PIL import Image

    from chatface_widgets.photos.align import align_face

    face = align_face(Image.fromarray(skimage_data.astronaut()), size=256)
    lm = face.to_crop(face.landmarks, 256)
    maps = aligned_face_parts(face)
    assert maps.shape == (len(PARTS_NAMES), 256, 256)
    np.testing.assert_allclose(maps.sum(0), 1.0, atol=1e-5)
    assert _at(maps, "eyes", lm[36:42].mean(0)) > 0.9 and _at(maps, "eyes", lm[42:48].mean(0)) > 0.9
    assert _at(maps, "mouth", lm[48:60].mean(0)) > 0.9
    assert _at(maps, "beard", lm[8] + (lm[33] - lm[8]) * 0.2) > 0.9  # just above the chin
    half = aligned_face_parts(face, size=128)  # another size: the same face, scaled
    assert half.shape == (len(PARTS_NAMES), 128, 128)
    assert _at(half, "eyes", face.to_crop(face.landmarks, 128)[36:42].mean(0)) > 0.9
