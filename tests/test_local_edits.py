"""Local edits: the region is cached, outside it the photo's own pixels, off is as before, regions unite, SMS works."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from chatface_widgets.diffusion import conditioning, local, samplers
from chatface_widgets.testing.tiny import tiny_engine
from chatface_widgets.toy import sample_photo
from chatface_widgets.widgets.state import PanelState


@pytest.fixture(scope="module")
def engine():
    return tiny_engine()


@pytest.fixture
def face(engine):
    return engine.open(sample_photo(0, size=48))


def pixels(image) -> np.ndarray:
    return np.asarray(image, dtype=np.int16)


def outside(face, edits, **kwargs) -> np.ndarray:
    """Boolean (H, W): where the local mask of ``edits`` is exactly 0."""
    mask = face.local_mask(edits, local=True, **kwargs)
    return mask[0, 0].numpy() == 0


def test_keep_outside_is_the_trajectory_where_the_mask_is_zero_and_the_decoder_where_it_is_one(engine, face):
    schedule = engine.schedule(8)
    trajectory = face.trajectory(8)
    assert trajectory.steps == 8 and trajectory.x0 is face.x0 and torch.equal(trajectory.x_T, face.noise(8))
    z_edit = face.edit_code({"smile": 1.0})
    codes = conditioning.sms(face.z, z_edit)
    plain = samplers.decode(engine.model, trajectory.x_T, codes, schedule)
    zeros = samplers.decode(engine.model, trajectory.x_T, codes, schedule,
                            keep=local.KeepOutside(trajectory, torch.zeros_like(face.x0[:, :1])))
    ones = samplers.decode(engine.model, trajectory.x_T, codes, schedule,
                           keep=local.KeepOutside(trajectory, torch.ones_like(face.x0[:, :1])))
    assert torch.equal(zeros, face.x0)
    torch.testing.assert_close(ones, plain, rtol=0, atol=1e-4)  # the decoder itself (up to float rounding)


def test_region_is_computed_once_per_attribute_not_per_slider_tick(face):
    for strength in (0.1, 0.3, 0.55, 0.8, 1.0):
        face.render({"smile": strength}, steps=8, local=True)
    assert face.region_computations == 1
    face.render({"smile": 0.5, "beard": 0.4}, steps=8, local=True)  # one new attribute: one new score
    assert face.region_computations == 2
    face.render({"smile": -0.5}, steps=8, local=True)  # the other direction acts elsewhere: its own score
    assert face.region_computations == 3
    face.render_many([{"smile": s} for s in (-1.0, -0.5, 0.0, 0.5, 1.0)], steps=8, local=True)
    assert face.region_computations == 3


@pytest.mark.parametrize("sms", [True, False])
def test_outside_the_region_the_pixels_are_the_photos_own(face, sms):
    edits = {"smile": 1.0, "eyeglasses": 0.6}
    keep = outside(face, edits, steps=8)
    assert 0 < keep.mean() < 1  # the test means something: some pixels kept, some edited
    edited = pixels(face.render(edits, steps=8, sms=sms, local=True))
    photo = pixels(face.image)
    assert np.array_equal(edited[keep], photo[keep])
    assert np.abs(edited[~keep] - photo[~keep]).mean() > 1.0  # the edit happened inside
    plain = pixels(face.render(edits, steps=8, sms=sms, local=False))
    assert not np.array_equal(plain[keep], photo[keep])  # without local, the rest changes too


def test_sms_on_and_off_give_different_local_edits(face):
    a = pixels(face.render({"smile": 1.0}, steps=8, sms=True, local=True))
    b = pixels(face.render({"smile": 1.0}, steps=8, sms=False, local=True))
    assert not np.array_equal(a, b)


def test_local_off_is_the_plain_decoder(engine, face):
    z_edit = face.edit_code({"smile": 0.7})
    expected = engine.decode(face.noise(8), conditioning.sms(face.z, z_edit), 8)
    assert torch.equal(face.render_tensor({"smile": 0.7}, steps=8, local=False), expected)
    assert torch.equal(face.render_tensor({}, steps=8, local=False), engine.decode(face.noise(8), face.z, 8))
    assert face.local_mask({"smile": 0.7}, steps=8, local=False) is None


def test_no_edit_with_local_on_is_the_photo_itself(face):
    assert np.array_equal(pixels(face.render({}, steps=8, local=True)), pixels(face.image))
    assert np.array_equal(pixels(face.render({"smile": 0.0}, steps=8, local=True)), pixels(face.image))


def test_combined_attributes_unite_their_regions(face):
    a, b = face.region({"smile": 1.0}, steps=8), face.region({"beard": 0.3}, steps=8)
    both = face.region({"smile": 0.2, "beard": 1.0}, steps=8)
    assert torch.equal(both, torch.maximum(a, b))
    assert bool((both >= a).all()) and bool((both >= b).all())


def test_reach_grows_the_region_and_is_checked(face):
    small, large = face.region({"smile": 1.0}, steps=8, reach=0.0), face.region({"smile": 1.0}, steps=8, reach=0.1)
    assert bool((large >= small).all()) and float(large.gt(0).float().mean()) > float(small.gt(0).float().mean())
    with pytest.raises(ValueError, match="reach"):
        face.region({"smile": 1.0}, steps=8, reach=-0.1)


def test_render_many_gives_each_edit_its_own_region(face):
    edits = [{}, {"smile": 1.0}, {"beard": 1.0}]
    batch = face.render_many(edits, steps=8, local=True)
    for e, image in zip(edits, batch):
        keep = outside(face, e, steps=8)
        assert np.array_equal(pixels(image)[keep], pixels(face.image)[keep])
        assert np.abs(pixels(image) - pixels(face.render(e, steps=8, local=True))).max() <= 2


def test_soft_region_is_hard_at_zero_reach_and_feathered_outwards():
    score = torch.zeros(1, 1, 9, 9)
    score[..., 4, 4] = 1.0
    assert torch.equal(local.soft_region(score, 0.0), score)
    soft = local.soft_region(score, 2 / 9)  # radius 2: dilate 2 px, fade over 2 more
    assert soft[0, 0, 4, 4] == 1 and soft[0, 0, 2, 2] == 1 and 0 < soft[0, 0, 0, 4] < 1
    assert torch.equal(local.union([soft, score]), soft)


def test_panel_state_local_and_reach_are_one_change_each_and_undoable():
    state = PanelState(["smile", "beard"], steps=8)
    seen = []
    state.subscribe(seen.append)
    assert state.snapshot().local is True
    assert state.set_local(False) and len(seen) == 1 and seen[-1].local is False
    assert not state.set_local(False) and len(seen) == 1  # no change: no render
    assert state.apply({"smile": 0.5}, local=True, reach=0.1) and len(seen) == 2  # one plan, one render
    assert seen[-1].render_key != seen[0].render_key
    with pytest.raises(ValueError, match="reach"):
        state.set_reach(5.0)
    assert state.undo() and state.snapshot().local is False and state.snapshot().reach != 0.1


def test_real_photo_path_keeps_the_whole_photo_outside_the_pasted_edit_region(engine):
    """Through alignment and paste-back (tiny model, the geometry only): untouched pixels stay bit-identical."""
    pytest.importorskip("dlib")
    pytest.importorskip("face_recognition_models")
    cbook = pytest.importorskip("matplotlib.cbook")
    from PIL import Image

    photo = Image.open(cbook.get_sample_data("grace_hopper.jpg", asfileobj=False)).convert("RGB")
    face = engine.open(photo, align=True)
    edits = {"smile": 1.0}
    mask = face.local_mask(edits, steps=8, local=True)[0, 0].numpy()
    assert 0 < (mask > 0).mean() < 1
    pasted = np.asarray(face.render(edits, steps=8, local=True, paste=True))
    before = np.asarray(photo)
    # where the region, warped back into the photo, has weight 0, nothing may change
    untouched = np.ones(before.shape[:2], bool)
    for value in (0, 255):  # a pixel neither a black nor a white paste can reach
        flat = Image.new("RGB", face.image.size, (value,) * 3)
        untouched &= np.all(np.asarray(face.aligned.paste(flat, mask=mask)) == before, axis=-1)
    assert untouched.mean() > 0.5
    assert np.array_equal(pasted[untouched], before[untouched])
    # the pasted region is smaller than without local (the whole feathered ellipse)
    plain = np.asarray(face.render(edits, steps=8, local=False, paste=True))
    assert np.any(plain != before, axis=-1).sum() > np.any(pasted != before, axis=-1).sum()
    # an empty region pastes nothing at all
    assert np.array_equal(np.asarray(face.aligned.paste(face.image, mask=np.zeros_like(mask))), before)


def test_auto_keeps_global_edits_for_attributes_whose_card_says_local_loses_them(monkeypatch):
    from chatface_widgets.engine.engine import Engine

    engine = Engine.load("toy")
    monkeypatch.setitem(engine.registry["beard"].card, "local", False)  # as a card whose region cut its edit off
    face = engine.open("sample:ben")
    beard = {"beard": 1.0}
    assert face.local_mask(beard, local="auto") is None
    assert face.render(beard, local="auto").tobytes() == face.render(beard, local=False).tobytes()
    glasses = {"eyeglasses": 1.0}
    assert face.local_mask(glasses, local="auto") is not None
    # the first local render decodes the reconstruction in the same batch: equal up to float rounding (1/255)
    auto, forced = (np.asarray(face.render(glasses, local=v), np.int16) for v in ("auto", True))
    assert np.abs(auto - forced).max() <= 1
    assert not np.array_equal(auto, np.asarray(face.render(glasses, local=False), np.int16))
    both = {"eyeglasses": 1.0, "beard": 0.5}  # one attribute that loses its edit makes the whole edit global
    assert face.local_mask(both, local="auto") is None


def test_transfer_keeps_the_photo_where_the_edit_changes_nothing_and_the_edit_where_it_replaces():
    photo = torch.full((1, 3, 4, 4), 0.2)
    recon = torch.full((1, 3, 4, 4), 0.1)  # the decoder's approximation of the photo
    edited = recon.clone()
    edited[..., 0, 0] = 0.9  # replaced: |Δ| = 0.8 ≥ tolerance
    edited[..., 1, 1] = 0.4  # changed half way: |Δ| = 0.3
    out = local.transfer(photo, edited, recon, tolerance=0.6)
    assert torch.equal(out[..., 2:, 2:], photo[..., 2:, 2:])  # untouched: the photo's own values, exactly
    assert torch.equal(out[..., 0, 0], edited[..., 0, 0])  # replaced: the edit itself, no ghost of the photo
    torch.testing.assert_close(out[..., 1, 1], torch.full((1, 3), 0.4 + 0.5 * 0.1))  # half the photo's detail kept


def test_part_prior_grows_the_named_parts_and_restrict_rescales_inside_it():
    parts = torch.zeros(1, 3, 9, 9)
    parts[:, 0] = 1.0
    parts[:, 0, 4, 4], parts[:, 2, 4, 4] = 0.0, 1.0  # part 2 is one pixel
    prior = local.part_prior(parts, [2], grow=1 / 9)
    assert prior.sum() == 9 and prior[0, 0, 3:6, 3:6].sum() == 9
    score = torch.zeros(1, 1, 9, 9)
    score[..., 0, 0], score[..., 4, 4] = 1.0, 0.4  # the strongest change lies outside the prior
    inside = local.restrict(score, prior)
    assert inside[0, 0, 0, 0] == 0 and inside[0, 0, 4, 4] == 1.0
    assert torch.equal(local.restrict(score, torch.zeros_like(prior)), score)  # an empty prior: no restriction


def test_region_stays_inside_the_attributes_parts(engine):
    from chatface_widgets.toy.attributes import REGION_PRIORS

    face = engine.open(sample_photo(1, size=48))
    n = face.x0.shape[-1]
    names = ("background", "skin", "hair", "eyes", "mouth", "glasses", "clothes", "beard")
    maps = torch.zeros(1, len(names), n, n)
    maps[:, 0] = 1.0
    y0, y1, x0, x1 = int(0.6 * n), int(0.75 * n), int(0.35 * n), int(0.65 * n)
    maps[:, 0, y0:y1, x0:x1], maps[:, names.index("mouth"), y0:y1, x0:x1] = 0.0, 1.0
    face._parts = (names, maps)
    region = face.region({"smile": 1.0}, steps=8, reach=0.0)[0, 0]
    grow = round(REGION_PRIORS["smile"][1] * n)
    allowed = torch.zeros(n, n, dtype=torch.bool)
    allowed[y0 - grow:y1 + grow, x0 - grow:x1 + grow] = True
    assert bool((region > 0).any()) and not bool((region[~allowed] > 0).any())


def test_a_slider_tick_decodes_no_second_reconstruction(engine, face, monkeypatch):
    batches = []
    real = engine.decode

    def counting(x_T, *args, **kwargs):
        batches.append(x_T.shape[0])
        return real(x_T, *args, **kwargs)

    monkeypatch.setattr(engine, "decode", counting)
    first = face.render_tensor({"smile": 0.4}, steps=8, local=True)
    second = face.render_tensor({"smile": 0.9}, steps=8, local=True)
    assert batches == [2, 1]  # the edit plus its masked reconstruction once, then the edit alone
    assert not torch.equal(first, second)
    stopped = face.render_tensor({"beard": 0.5}, steps=8, local=True, callback=lambda info: False)
    assert stopped.shape[0] == 1 and batches[-1] == 2  # a stopped render shows the edit's rows only ...
    face.render_tensor({"beard": 0.5}, steps=8, local=True)
    assert batches[-1] == 2  # ... and caches nothing it did not finish
