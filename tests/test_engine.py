"""The editing API users call: Engine.load / open / render, SMS, and errors on bad input."""

from __future__ import annotations

import hashlib
import struct
import zlib

import numpy as np
import pytest
import torch
from PIL import Image

from chatface_widgets.diffusion import conditioning, samplers
from chatface_widgets.foundation.steps import check_steps, ddim_timesteps, valid_step_counts
from chatface_widgets.diffusion.schedule import make_schedule
from chatface_widgets.editing.registry import UnknownAttributeError
from chatface_widgets.engine.engine import Engine
from chatface_widgets.photos.photo import PhotoError, load_photo
from chatface_widgets.testing.tiny import save_tiny_model, tiny_engine, tiny_model
from chatface_widgets.toy import sample_photo


@pytest.fixture(scope="module")
def engine():
    return tiny_engine()


@pytest.fixture(scope="module")
def face(engine):
    return engine.open(sample_photo(0, size=48))


def pixels(img: Image.Image) -> np.ndarray:
    return np.asarray(img, dtype=np.int16)


def test_respacing_and_invalid_step_counts():
    assert ddim_timesteps(8) == [0, 125, 250, 375, 500, 625, 750, 875]
    assert ddim_timesteps(20)[:3] == [0, 50, 100]
    assert len(valid_step_counts()) == 62
    with pytest.raises(ValueError, match="36 or 38"):
        ddim_timesteps(37)
    for bad in (1, 0, -5, 1001, 2.5, "8", True):
        with pytest.raises(ValueError):
            check_steps(bad)


def test_sms_code_goes_from_z_edit_to_near_z():
    z, z_edit = torch.zeros(1, 4), torch.ones(1, 4)
    schedule = conditioning.sms(z, z_edit)
    codes = [schedule(i, 8)[0, 0].item() for i in range(7, -1, -1)]  # decoding order: i = T−1 … 0
    assert codes[0] == 1.0 and codes[-1] == pytest.approx(1 / 8)
    assert codes == sorted(codes, reverse=True)


def test_sms_decode_sees_z_edit_first_and_z_last():
    """The network is called with z_edit at the noisiest step and close to z at the last step."""
    seen = []

    def model(x, t, cond):
        seen.append((int(t[0]), cond[0, 0].item()))
        return torch.zeros_like(x)

    samplers.decode(model, torch.zeros(1, 3, 4, 4), conditioning.sms(torch.zeros(1, 2), torch.ones(1, 2)), make_schedule(8))
    assert seen[0] == (875, 1.0)
    assert seen[-1][0] == 0 and seen[-1][1] == pytest.approx(0.125)


def test_decode_with_z_edit_equal_z_is_plain_decoding():
    model = tiny_model(1)
    z = torch.randn(1, model.config.z_channels)
    x_T = torch.randn(1, 3, 32, 32)
    schedule = make_schedule(8)
    assert torch.equal(samplers.decode(model, x_T, z, schedule),
                       samplers.decode(model, x_T, conditioning.sms(z, z.clone()), schedule))


def test_callback_sees_every_step_and_can_stop():
    model = tiny_model(1)
    z, x_T = torch.randn(1, model.config.z_channels), torch.randn(1, 3, 32, 32)
    steps, schedule = [], make_schedule(8)
    samplers.decode(model, x_T, z, schedule, callback=lambda info: steps.append(info["i"]))
    assert steps == list(range(8))
    stopped = []
    out = samplers.decode(model, x_T, z, schedule, callback=lambda info: stopped.append(info["i"]) or info["i"] < 2)
    assert stopped == [0, 1, 2] and out.shape == x_T.shape


def test_render_with_no_edits_is_the_reconstruction_and_deterministic(face):
    recon = face.reconstruct(steps=8)
    assert np.array_equal(pixels(face.render({}, steps=8, local=False)), pixels(recon))
    assert np.array_equal(pixels(face.render({"smile": 0.0, "beard": 0.0}, steps=8, local=False)), pixels(recon))
    assert np.array_equal(pixels(face.render({}, steps=8)), pixels(face.image))  # local (default): the photo
    edited = face.render({"smile": 0.8, "eyeglasses": 0.4}, steps=8)
    assert np.array_equal(pixels(edited), pixels(face.render({"eyeglasses": 0.4, "smile": 0.8}, steps=8)))
    assert np.abs(pixels(edited) - pixels(recon)).mean() > 1.0
    assert edited.size == (32, 32) and edited.mode == "RGB"


def test_sms_and_plain_decoding_differ_for_an_edit(face):
    a = face.render({"smile": 1.0}, steps=8, sms=True)
    b = face.render({"smile": 1.0}, steps=8, sms=False)
    assert not np.array_equal(pixels(a), pixels(b))


def test_render_many_matches_single_renders(face):
    edits = [{}, {"smile": 1.0}, {"smile": 0.5, "beard": -0.5}]
    batch = face.render_many(edits, steps=8)
    for e, img in zip(edits, batch):
        assert np.abs(pixels(img) - pixels(face.render(e, steps=8))).max() <= 2


def test_x_T_is_cached_per_step_count(face):
    assert face.noise(8) is face.noise(8)
    assert face.noise(10).shape == face.noise(8).shape


def test_unknown_attribute_lists_known_ones(face):
    with pytest.raises(UnknownAttributeError, match="smile") as info:
        face.render({"hat": 1.0})
    assert "hat" in str(info.value)


def test_synonym_spelling_is_resolved(face):
    a = face.render({"Red_Lipstick": 0.7}, steps=8)
    b = face.render({"red lipstick": 0.7}, steps=8)
    assert np.array_equal(pixels(a), pixels(b))


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), 5.0, "a lot", None])
def test_invalid_strengths_are_rejected(face, bad):
    with pytest.raises(ValueError):
        face.render({"smile": bad})


def test_invalid_step_count_names_valid_ones(face):
    with pytest.raises(ValueError, match="nearest valid"):
        face.render({"smile": 0.5}, steps=37)


def test_engine_load_from_model_folder_and_path(tmp_path):
    folder = save_tiny_model(tmp_path / "m")
    for target in (folder, folder / "diffae.safetensors"):
        engine = Engine.load(str(target), device="cpu")
        assert engine.attributes[:2] == ["smile", "eyeglasses"]
        assert engine.info.align is False
    with pytest.raises(FileNotFoundError, match="toy"):
        Engine.load(str(tmp_path / "nothing-here"))


def test_engine_renders_a_photo_file_and_never_writes_it(tmp_path, engine):
    photo = tmp_path / "me.jpg"
    sample_photo(1, size=120).save(photo, quality=95)
    before = (hashlib.sha256(photo.read_bytes()).hexdigest(), photo.stat().st_mtime_ns)
    face = engine.open(photo)
    face.render({"smile": 0.5})
    assert (hashlib.sha256(photo.read_bytes()).hexdigest(), photo.stat().st_mtime_ns) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["me.jpg"]


# ----------------------------------------------------------------------------- photo handling


def _rgb_reference() -> Image.Image:
    return sample_photo(2, size=64)


@pytest.mark.parametrize("mode", ["RGBA", "LA", "L", "P", "CMYK", "I;16", "I", "1", "F"])
def test_image_modes_are_converted_to_rgb(mode, engine):
    img = _rgb_reference()
    if mode == "I;16":
        img = Image.fromarray((np.asarray(img.convert("L"), dtype=np.uint16) * 257))
    elif mode == "F":
        img = Image.fromarray(np.asarray(img.convert("L"), dtype=np.float32))
    else:
        img = img.convert(mode)
    out = load_photo(img)
    assert out.mode == "RGB" and out.size == (64, 64)
    engine.open(img).render({"smile": 0.3})


def test_alpha_is_composited_on_white():
    img = Image.new("RGBA", (32, 32), (10, 20, 30, 0))
    assert load_photo(img).getpixel((5, 5)) == (255, 255, 255)


def test_exif_orientation_is_honoured(tmp_path):
    img = Image.new("RGB", (60, 30), (200, 0, 0))
    img.paste((0, 0, 200), (0, 0, 30, 30))  # left half blue
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise on display
    path = tmp_path / "rot.jpg"
    img.save(path, exif=exif, quality=95)
    out = load_photo(path)
    assert out.size == (30, 60)
    r, g, b = out.getpixel((15, 5))
    assert b > r  # after rotating clockwise the blue (left) half is on top


def _png_header_only(path, width, height):
    """A tiny PNG file that claims a huge size (no pixel data worth decoding)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"")) + chunk(b"IEND", b""))


def test_bad_files_give_clear_errors(tmp_path, engine):
    text = tmp_path / "notes.png"
    text.write_text("hello, I am not an image")
    empty = tmp_path / "empty.jpg"
    empty.write_bytes(b"")
    huge = tmp_path / "huge.png"
    _png_header_only(huge, 20000, 20000)
    large = tmp_path / "large.png"
    _png_header_only(large, 9000, 9500)
    tiny = Image.new("RGB", (4, 4))
    cases = [(text, "not a readable image"), (empty, "empty"), (huge, "too large"), (large, "too large"), (tmp_path / "none.jpg", "no such file"),
             (tmp_path, "folder"), (tiny, "too small")]
    for photo, message in cases:
        with pytest.raises(PhotoError, match=message):
            engine.open(photo)
    with pytest.raises(PhotoError, match="NaN"):
        engine.open(np.full((32, 32, 3), np.nan, dtype=np.float32))
    with pytest.raises(PhotoError):
        engine.open(12345)


def test_small_models_render_on_one_thread_and_restore_the_callers_setting(face):
    """48 px and smaller models are faster on one intra-op thread; the user's setting comes back after."""
    seen = []
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        face.render({"smile": 0.3}, steps=8, callback=lambda info: seen.append(torch.get_num_threads()))
        assert face.engine.threads == 1 and set(seen) == {1}
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)
    with pytest.raises(ValueError):
        Engine(face.engine.model, face.engine.registry, face.engine.info, torch.device("cpu"), threads=0)
