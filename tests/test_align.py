"""FFHQ-style alignment and paste-back on two public-domain photos shipped with scikit-image and matplotlib."""

import io

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("dlib")
pytest.importorskip("face_recognition_models")

from chatface_widgets.photos import align  # noqa: E402
from chatface_widgets.photos.align import NoFaceError, align_face, find_faces, load_photo  # noqa: E402

SIZE = 256
# Where the FFHQ recipe puts the eye centres. With e = eye-to-eye, m = eye-to-mouth, the quad half-side
# is s = max(2|e|, 1.8|m|) (2|e| for both photos here), centred at eye_avg + 0.1 m, and is mapped onto
# [0, SIZE]. So the eyes sit at continuous x = SIZE/2 -+ SIZE*|e|/(4s) = 96 and 160 and at
# y = SIZE/2 - 0.05*SIZE*|m|/s (about 122 for a typical |m|/|e| of 0.85-0.9); pixel indices are 0.5 less.
EXPECTED_EYE_X = (95.5, 159.5)
EXPECTED_EYE_Y = (120.0, 123.5)


def _astronaut() -> Image.Image:
    skdata = pytest.importorskip("skimage.data")
    return Image.fromarray(skdata.astronaut())


def _grace_hopper_path():
    cbook = pytest.importorskip("matplotlib.cbook")
    return cbook.get_sample_data("grace_hopper.jpg", asfileobj=False)


def _eyes(landmarks: np.ndarray) -> np.ndarray:
    return np.stack([landmarks[36:42].mean(axis=0), landmarks[42:48].mean(axis=0)])


def _recipe_eyes_in_crop(lm: np.ndarray, size: int) -> np.ndarray:
    """Independent restatement of the recipe's geometry: eye centres in crop pixel indices."""
    eyes = _eyes(lm)
    e = eyes[1] - eyes[0]
    m = (lm[48] + lm[54]) / 2 - eyes.mean(axis=0)
    x = e - np.flipud(m) * [-1, 1]
    x *= max(np.hypot(*e) * 2.0, np.hypot(*m) * 1.8) / np.hypot(*x)
    y = np.flipud(x) * [-1, 1]
    top_left = eyes.mean(axis=0) + 0.1 * m - x - y
    d = eyes + 0.5 - (top_left + 0.5)
    return np.stack([d @ x, d @ y], axis=1) / (2 * np.hypot(*x) ** 2) * size - 0.5  # side = 2x, 2y


@pytest.fixture(scope="module")
def photos():
    return {"astronaut": _astronaut(), "grace_hopper": _grace_hopper_path()}


@pytest.mark.parametrize("name", ["astronaut", "grace_hopper"])
def test_eyes_land_where_the_ffhq_recipe_puts_them(photos, name):
    face = align_face(photos[name], size=SIZE)
    assert face.image.size == (SIZE, SIZE) and face.image.mode == "RGB"
    expected = _recipe_eyes_in_crop(face.landmarks, SIZE)
    np.testing.assert_allclose(face.to_crop(_eyes(face.landmarks)), expected, atol=1e-6)
    np.testing.assert_allclose(expected[:, 0], EXPECTED_EYE_X, atol=0.3)
    assert EXPECTED_EYE_Y[0] < expected[:, 1].min() and expected[:, 1].max() < EXPECTED_EYE_Y[1]
    # The pixels agree with the geometry: landmarks found again in the crop sit within a few pixels.
    again = find_faces(face.image)
    assert len(again) == 1
    found = _eyes(again[0].landmarks)
    assert np.abs(found - expected).max() < 4.5, (found, expected)
    assert np.abs(found.mean(axis=0) - expected.mean(axis=0)).max() < 2.5


def test_paste_back_keeps_the_rest_of_the_photo_bit_identical(photos):
    photo = Image.open(photos["grace_hopper"])
    face = align_face(photo)
    pasted = face.paste(Image.fromarray(255 - np.asarray(face.image)))
    assert pasted.size == photo.size and pasted.mode == "RGB"
    before, after = np.asarray(photo.convert("RGB")), np.asarray(pasted)
    for corner in (np.s_[:40, :40], np.s_[:40, -40:], np.s_[-40:, :40], np.s_[-40:, -40:]):
        assert np.array_equal(before[corner], after[corner])
    changed = np.any(before != after, axis=-1)
    ys, xs = np.nonzero(changed)
    q = face.quad
    assert xs.min() >= np.floor(q[:, 0].min()) - 1 and xs.max() <= np.ceil(q[:, 0].max()) + 1
    assert ys.min() >= np.floor(q[:, 1].min()) - 1 and ys.max() <= np.ceil(q[:, 1].max()) + 1
    box = face.face
    inner = np.abs(after[box.top:box.bottom, box.left:box.right].astype(int)
                   - before[box.top:box.bottom, box.left:box.right].astype(int))
    assert inner.mean() > 60  # the inverted face really went in
    # Pasting the unedited crop back changes the face area only a little (resampling twice).
    same = np.asarray(face.paste(face.image)).astype(int)
    assert np.abs(same - before.astype(int))[box.top:box.bottom, box.left:box.right].mean() < 6


def test_photo_path_is_only_read(photos, tmp_path):
    path = tmp_path / "photo.png"
    _astronaut().save(path)
    data, mtime = path.read_bytes(), path.stat().st_mtime_ns
    align_face(path).paste(Image.new("RGB", (SIZE, SIZE)))
    assert path.read_bytes() == data and path.stat().st_mtime_ns == mtime


@pytest.mark.parametrize("kind", ["blank", "noise"])
def test_no_face_raises(kind):
    rng = np.random.default_rng(0)
    arr = np.full((300, 300, 3), 128, np.uint8) if kind == "blank" else rng.integers(0, 256, (300, 300, 3), np.uint8)
    with pytest.raises(NoFaceError, match="No face found"):
        align_face(Image.fromarray(arr))
    assert find_faces(Image.fromarray(arr)) == []


def test_exif_rotated_copy_aligns_to_the_same_crop():
    upright = _astronaut().crop((0, 0, 512, 400))  # not square, so a missed rotation shows in the size
    stored = upright.transpose(Image.Transpose.ROTATE_90)  # as a camera held sideways stores it
    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation: rotate 90 degrees clockwise to display
    buf = io.BytesIO()
    stored.save(buf, format="PNG", exif=exif.tobytes())
    buf.seek(0)
    rotated = Image.open(buf)
    assert rotated.size == (400, 512)
    a, b = align_face(upright), align_face(rotated)
    assert b.photo.size == upright.size
    np.testing.assert_allclose(a.quad, b.quad, atol=1.0)
    diff = np.abs(np.asarray(a.image, dtype=int) - np.asarray(b.image, dtype=int))
    assert diff.mean() < 2.0


@pytest.mark.parametrize("mode", ["RGBA", "L", "P", "CMYK", "I;16"])
def test_modes_are_converted_to_rgb(mode):
    photo = _astronaut()
    if mode == "I;16":
        gray = np.asarray(photo.convert("L"), dtype=np.uint16) * 257
        img = Image.fromarray(gray)  # Pillow stores uint16 arrays as I;16
        assert img.mode == "I;16"
    else:
        img = photo.convert(mode)
    rgb = load_photo(img)
    assert rgb.mode == "RGB" and rgb.size == photo.size
    if mode in ("L", "I;16"):
        np.testing.assert_array_equal(np.asarray(rgb)[..., 0], np.asarray(photo.convert("L")))
    face = align_face(img)
    assert face.image.mode == "RGB" and face.paste(face.image).mode == "RGB"


def test_missing_dlib_gives_install_hint(monkeypatch):
    import builtins

    real_import = builtins.__import__

    def fake_import(name, *args, **kwargs):
        if name == "dlib":
            raise ImportError("No module named 'dlib'", name="dlib")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", fake_import)
    with pytest.raises(ImportError, match=r"pip install 'chatface-widgets\[align\]'"):
        align._dlib()


def test_two_faces_are_counted_and_each_can_be_chosen():
    crop = _astronaut().crop((100, 0, 350, 300))
    photo = Image.new("RGB", (500, 300))
    photo.paste(crop, (0, 0))
    photo.paste(crop, (250, 0))
    faces = find_faces(photo)
    assert len(faces) == 2
    first, second = (align_face(photo, index=i, size=64) for i in (0, 1))
    assert (first.count, first.index, second.count, second.index) == (2, 0, 2, 1)
    assert first.face.right <= 250 <= second.face.left  # equal faces: numbered left to right
    assert align_face(photo, index=-1, size=64).index == 1
    with pytest.raises(IndexError, match="2 face"):
        align_face(photo, index=2, size=64)
    assert align_face(_astronaut(), size=64).count == 1
