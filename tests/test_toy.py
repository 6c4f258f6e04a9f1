"""Tests for the procedural toy face world."""

import numpy as np
import pytest

from chatface_widgets.toy import (
    ATTRIBUTES,
    HELDOUT_SEED_START,
    PARTS,
    SAMPLE_NAMES,
    FaceParams,
    ToyFace,
    attribute_labels,
    render_batch,
    render_face,
    sample_params,
    sample_photo,
)

PART = {name: i for i, name in enumerate(PARTS)}


def _pixels(face: ToyFace) -> np.ndarray:
    """Image as a signed int array for differencing."""
    return np.asarray(face.image, dtype=np.int32)


def _changed(a: ToyFace, b: ToyFace) -> np.ndarray:
    """Boolean map of pixels that differ between two renders."""
    return np.abs(_pixels(a) - _pixels(b)).sum(-1) > 0


def _bbox_fraction(changed: np.ndarray, region: np.ndarray, pad: int = 1) -> float:
    """Fraction of changed pixels inside the (padded) bounding box of region."""
    ys, xs = np.nonzero(region)
    assert len(ys), "region is empty"
    box = np.zeros_like(changed)
    box[max(ys.min() - pad, 0) : ys.max() + pad + 1, max(xs.min() - pad, 0) : xs.max() + pad + 1] = True
    return (changed & box).sum() / max(changed.sum(), 1)


def test_api_constants():
    assert ATTRIBUTES == (
        "smile", "eyeglasses", "red lipstick", "curly hair", "gray hair", "beard", "blue eyes", "pale skin",
    )
    assert PARTS == ("background", "skin", "hair", "eyes", "mouth", "glasses", "clothes", "beard")
    assert HELDOUT_SEED_START == 2_000_000_000


def test_same_seed_same_bytes():
    a, b = render_face(sample_params(123), 48), render_face(sample_params(123), 48)
    assert a.params == b.params
    assert a.image.tobytes() == b.image.tobytes()
    assert np.array_equal(a.mask, b.mask)
    assert a.caption == b.caption


def test_different_seeds_differ():
    images = [render_face(sample_params(s), 48).image.tobytes() for s in range(6)]
    assert len(set(images)) == 6
    assert sample_params(1).identity != sample_params(2).identity


def test_identity_fields_and_ranges():
    p = sample_params(7)
    for key in ("face_width", "face_length", "skin_tone", "eye_spacing", "eye_size", "nose_size",
                "brow_thickness", "brow_tilt", "hair_style", "hair_length", "hair_hue", "background_hue",
                "background_pattern", "clothing_hue", "head_x", "head_y", "head_scale"):
        assert key in p.identity
        lo = -1.0 if key in ("head_x", "head_y") else 0.0
        assert lo <= p.identity[key] <= 1.0
    assert set(p.attributes) == set(ATTRIBUTES)
    assert all(0.0 <= v <= 1.0 for v in p.attributes.values())


@pytest.mark.parametrize("size", [48, 64])
def test_image_and_mask_format(size):
    face = render_face(sample_params(3), size)
    assert face.image.mode == "RGB" and face.image.size == (size, size)
    assert face.mask.dtype == np.uint8 and face.mask.shape == (size, size)
    assert face.mask.max() < len(PARTS)


def test_typical_faces_have_core_parts():
    for seed in range(5):
        face = render_face(sample_params(seed), 48)
        counts = np.bincount(face.mask.ravel(), minlength=len(PARTS))
        for part in ("background", "skin", "hair", "eyes", "mouth", "clothes"):
            assert counts[PART[part]] > 0, (seed, part)


def test_replace_keeps_identity_and_other_attributes():
    p = sample_params(11)
    q = p.replace(smile=1.0, eyeglasses=0.0)
    assert q.identity == p.identity and q.seed == p.seed
    assert q.attributes["smile"] == 1.0 and q.attributes["eyeglasses"] == 0.0
    for name in ATTRIBUTES:
        if name not in ("smile", "eyeglasses"):
            assert q.attributes[name] == p.attributes[name]
    assert p.replace(red_lipstick=0.9).attributes["red lipstick"] == 0.9
    assert p.with_attributes({"red lipstick": 0.8}).attributes["red lipstick"] == 0.8
    assert p.with_attributes({"red_lipstick": 0.7}).attributes["red lipstick"] == 0.7
    assert p.replace(beard=3.0).attributes["beard"] == 1.0


def test_unknown_attribute_raises_listing_names():
    p = sample_params(0)
    with pytest.raises(KeyError) as info:
        p.replace(moustache=1.0)
    for name in ATTRIBUTES:
        assert name in str(info.value)
    with pytest.raises(KeyError):
        p.with_attributes({"bald": 1.0})


def test_eyeglasses_change_only_glasses_area():
    p = sample_params(21)
    off, on = render_face(p.replace(eyeglasses=0.0), 64), render_face(p.replace(eyeglasses=1.0), 64)
    glasses = on.mask == PART["glasses"]
    assert glasses.sum() > 20
    assert not (off.mask == PART["glasses"]).any()
    changed = _changed(off, on)
    assert changed.sum() > 40
    assert _bbox_fraction(changed, glasses) > 0.8


def test_smile_changes_mouth_region():
    p = sample_params(22)
    neutral, smiling = render_face(p.replace(smile=0.0), 64), render_face(p.replace(smile=1.0), 64)
    mouth = (neutral.mask == PART["mouth"]) | (smiling.mask == PART["mouth"])
    changed = _changed(neutral, smiling)
    assert changed.sum() > 15
    assert _bbox_fraction(changed, mouth, pad=2) > 0.9
    assert (smiling.mask == PART["mouth"]).sum() > (neutral.mask == PART["mouth"]).sum()


def _first_seed(pred) -> int:
    """First seed whose params satisfy pred."""
    return next(s for s in range(1000) if pred(sample_params(s)))


def test_gray_hair_raises_hair_brightness():
    seed = _first_seed(lambda q: q.hair_hue[0] in ("dark", "brown", "red") and q.hair_style != "buzz")
    p = sample_params(seed)
    dark, gray = render_face(p.replace(gray_hair=0.0), 48), render_face(p.replace(gray_hair=1.0), 48)
    hair = (dark.mask == PART["hair"]) & (gray.mask == PART["hair"])
    assert _pixels(gray)[hair].mean() > _pixels(dark)[hair].mean() + 40


def test_blue_eyes_raise_blue_in_eyes():
    p = sample_params(31)
    brown, blue = render_face(p.replace(blue_eyes=0.0), 48), render_face(p.replace(blue_eyes=1.0), 48)
    eyes = brown.mask == PART["eyes"]
    b0, b1 = _pixels(brown)[eyes], _pixels(blue)[eyes]
    assert (b1[:, 2] - b1[:, 0]).mean() > (b0[:, 2] - b0[:, 0]).mean() + 20


@pytest.mark.parametrize(
    "name,part,channel_test",
    [
        ("red lipstick", "mouth", lambda px: (px[:, 0] - px[:, 1]).mean()),
        ("pale skin", "skin", lambda px: px.mean()),
    ],
)
def test_colour_attributes_shift_their_part(name, part, channel_test):
    p = sample_params(41).with_attributes({"smile": 0.0, "beard": 0.0})
    a, b = render_face(p.with_attributes({name: 0.0}), 48), render_face(p.with_attributes({name: 1.0}), 48)
    region = a.mask == PART[part]
    assert channel_test(_pixels(b)[region]) > channel_test(_pixels(a)[region]) + 15


def test_beard_and_curls_are_visible():
    p = sample_params(_first_seed(lambda q: q.hair_style in ("bob", "long")))
    plain = render_face(p.replace(beard=0.0, curly_hair=0.0), 48)
    bearded = render_face(p.replace(beard=1.0), 48)
    assert (bearded.mask == PART["beard"]).sum() > 30 and not (plain.mask == PART["beard"]).any()
    curly = render_face(p.replace(curly_hair=1.0, beard=0.0), 48)
    assert _changed(plain, curly).sum() > 60


def test_attribute_frequencies():
    labels = np.array([[v for v in attribute_labels(sample_params(s)).values()] for s in range(300)])
    freq = labels.mean(0)
    assert ((freq > 0.25) & (freq < 0.45)).all(), dict(zip(ATTRIBUTES, freq))
    values = np.array([[sample_params(s).attributes[a] for a in ATTRIBUTES] for s in range(300)])
    assert not ((values > 0.2) & (values < 0.55)).any()  # clean gap around the 0.5 threshold


def test_attribute_labels_threshold():
    p = sample_params(0).with_attributes({a: 0.0 for a in ATTRIBUTES}).replace(smile=0.5, beard=0.49)
    labels = attribute_labels(p)
    assert labels["smile"] and not labels["beard"]
    assert list(labels) == list(ATTRIBUTES)


_WORDS = {
    "smile": "smile", "eyeglasses": "eyeglasses", "red lipstick": "red lipstick", "curly hair": "curly",
    "gray hair": "gray", "beard": "beard", "blue eyes": "blue eyes", "pale skin": "pale skin",
}


def test_caption_mentions_present_attributes():
    for seed in range(40):
        face = render_face(sample_params(seed), 48)
        for name, present in attribute_labels(face.params).items():
            assert (_WORDS[name] in face.caption) == present, (face.caption, name)
    base = sample_params(0).with_attributes({a: 0.05 for a in ATTRIBUTES})
    assert render_face(base, 48).caption == "a face"
    assert render_face(base.replace(smile=0.6), 48).caption == "a face with a slight smile"
    assert render_face(base.replace(smile=0.95), 48).caption == "a face with a big smile"
    both = render_face(base.replace(curly_hair=0.9, gray_hair=0.9, smile=0.9), 48).caption
    assert both == "a face with curly gray hair and a big smile"


def test_render_batch_matches_render_face():
    seeds = [5, 6, 7]
    images, labels = render_batch(seeds, 48)
    assert images.shape == (3, 48, 48, 3) and images.dtype == np.uint8
    assert labels.shape == (3, len(ATTRIBUTES)) and labels.dtype == np.float32
    for j, seed in enumerate(seeds):
        p = sample_params(seed)
        assert np.array_equal(images[j], np.asarray(render_face(p, 48).image))
        assert np.allclose(labels[j], [p.attributes[a] for a in ATTRIBUTES])


def test_sample_photos():
    assert len(SAMPLE_NAMES) == 4 and len(set(SAMPLE_NAMES)) == 4
    photos = [sample_photo(name) for name in SAMPLE_NAMES]
    assert all(im.size == (64, 64) and im.mode == "RGB" for im in photos)
    assert len({im.tobytes() for im in photos}) == 4
    assert sample_photo(0).tobytes() == sample_photo(SAMPLE_NAMES[0]).tobytes() == photos[0].tobytes()
    assert sample_photo(1, size=48).size == (48, 48)
    with pytest.raises(KeyError):
        sample_photo("nobody")


def test_faceparams_is_plain_data():
    p = sample_params(9)
    q = FaceParams(identity=dict(p.identity), attributes=dict(p.attributes), seed=p.seed)
    assert q == p
    assert render_face(q, 48).image.tobytes() == render_face(p, 48).image.tobytes()
