"""The ``chatface`` command, run in-process through ``cli.main`` (issue 17: items 3, 5, 9, 11, 12, 17, 19, 20)."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
from PIL import Image

from chatface_widgets.cli import main as cli
from chatface_widgets.engine.engine import Engine, Face

REQUEST = "make her smile a lot and add glasses"  # the README's main command


@pytest.fixture(scope="module")
def toy_engine():
    return Engine.load("toy", device="cpu")


@pytest.fixture
def loads(monkeypatch, toy_engine):
    """Engine.load returns the module's toy engine (one load for the file); records each call."""
    calls = []

    def fake_load(cls, name="toy", device=None, **kwargs):
        calls.append(name)
        return toy_engine

    monkeypatch.setattr(Engine, "load", classmethod(fake_load))
    return calls


def run(capsys, *argv):
    """(exit status, stdout, stderr) of ``chatface ARGV``."""
    status = cli.main([str(a) for a in argv])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def one_error_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("chatface: error: "), err
    assert "Traceback" not in err
    return lines[0]


def _astronaut() -> Image.Image:
    skdata = pytest.importorskip("skimage.data")
    return Image.fromarray(skdata.astronaut())


# ------------------------------------------------------------------------- 17.5: re-runnable, 17.9 output


def test_readme_command_runs_twice_and_prints_the_reply(loads, capsys, tmp_path):
    out = tmp_path / "out.png"
    status, stdout, stderr = run(capsys, "edit", "sample", REQUEST, "-o", out, "--scale", "4")
    assert status == 0, stderr
    assert "smile" in stdout.lower() and not stdout.lstrip().startswith("{")  # the reply, for people
    assert f"wrote {out} (192×192" in stderr
    first = out.read_bytes()
    status, stdout, stderr = run(capsys, "edit", "sample", REQUEST, "-o", out, "--scale", "4")
    assert status == 0, stderr
    assert f"replaced {out}" in stderr
    assert out.read_bytes() == first  # deterministic: the second run behaves like the first
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.png"]  # no temporary files left


def test_json_prints_the_plan(loads, toy_engine, capsys, tmp_path):
    status, stdout, _ = run(capsys, "edit", "sample", "add glasses", "-o", tmp_path / "o.png", "--json")
    assert status == 0
    data = json.loads(stdout)
    assert data["edits"] == {"eyeglasses": pytest.approx(data["plan"]["edits"]["eyeglasses"])}
    assert data["steps"] == toy_engine.info.default_steps and data["plan"]["reply"]


def test_no_clobber_refuses_an_existing_output(loads, capsys, tmp_path):
    out = tmp_path / "o.png"
    out.write_bytes(b"keep")
    status, _, err = run(capsys, "edit", "sample", "add glasses", "-o", out, "--no-clobber")
    assert status == 2 and "--no-clobber" in one_error_line(err)
    assert out.read_bytes() == b"keep"


def test_a_request_that_changes_nothing_writes_nothing_and_exits_3(loads, capsys, tmp_path):
    out = tmp_path / "o.png"
    status, stdout, stderr = run(capsys, "edit", "sample", "what a lovely day", "-o", out)
    assert status == cli.EXIT_NO_CHANGE == 3
    assert stdout.strip()  # the interpreter's reply says what it can do
    assert "nothing to change" in stderr and "not written" in stderr
    assert not out.exists()
    assert "3  the request changes nothing" in cli.build_parser()._subparsers._group_actions[0].choices["edit"].format_help()


# ------------------------------------------------------------------------------- 17.11: links, atomic writes


def test_hard_link_to_the_input_is_refused(loads, capsys, tmp_path):
    src = tmp_path / "in.png"
    _astronaut().resize((64, 64)).save(src)
    link = tmp_path / "copy.png"
    os.link(src, link)
    before = src.read_bytes()
    status, _, err = run(capsys, "edit", src, "add a smile", "-o", link, "--force")
    line = one_error_line(err)
    assert status == 2 and "copy.png" in line and "input" in line
    assert src.read_bytes() == before
    assert loads == []  # refused before any model work


def test_a_failed_write_leaves_the_old_output_whole(loads, capsys, tmp_path, monkeypatch):
    out = tmp_path / "o.png"
    out.write_bytes(b"earlier output")

    def broken_save(self, fp, format=None, **params):
        with open(fp, "wb") as handle:
            handle.write(b"\x89PNG trunc")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Image.Image, "save", broken_save)
    status, _, err = run(capsys, "edit", "sample", "add glasses", "-o", out)
    assert status == 2 and "No space left" in one_error_line(err)
    assert out.read_bytes() == b"earlier output"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["o.png"]


@pytest.mark.parametrize("error", [MemoryError(), FloatingPointError("the model produced NaN or infinite values"),
                                   PermissionError(13, "Permission denied", "/nope/o.png")])
def test_resource_errors_are_one_line(loads, capsys, tmp_path, monkeypatch, error):
    def fail(*args, **kwargs):
        raise error

    monkeypatch.setattr(Face, "render", fail)
    status, _, err = run(capsys, "edit", "sample", "add glasses", "-o", tmp_path / "o.png")
    assert status == 2
    one_error_line(err)
    assert not (tmp_path / "o.png").exists()


# --------------------------------------------------------------------------------------- 17.12, 17.20: bounds


@pytest.mark.parametrize("scale", ["0", "-3"])
def test_scale_below_one_is_an_error(loads, capsys, tmp_path, scale):
    status, _, err = run(capsys, "edit", "sample", "add glasses", "-o", tmp_path / "o.png", "--scale", scale)
    assert status == 2 and f"--scale {scale}" in one_error_line(err) and "at least 1" in err
    assert loads == []


@pytest.mark.parametrize("scale", ["300", "1000"])
def test_scale_that_makes_a_huge_image_is_an_error(loads, capsys, tmp_path, scale):
    status, _, err = run(capsys, "edit", "sample", "add glasses", "-o", tmp_path / "o.png", "--scale", scale)
    line = one_error_line(err)
    assert status == 2 and "4096" in line and "--scale 1 to 85" in line
    assert not (tmp_path / "o.png").exists()


def test_steps_zero_is_an_error_naming_valid_counts(loads, capsys, tmp_path):
    status, _, err = run(capsys, "edit", "sample", "add glasses", "-o", tmp_path / "o.png", "--steps", "0")
    line = one_error_line(err)
    assert status == 2 and "--steps 0" in line and "at least 2" in line and "Python" in line


def test_steps_above_the_interactive_bound_is_an_error(loads, capsys, tmp_path):
    status, _, err = run(capsys, "edit", "sample", "add glasses", "-o", tmp_path / "o.png", "--steps", "1000")
    line = one_error_line(err)
    assert status == 2 and "100" in line and "face.render(steps=" in line
    assert not (tmp_path / "o.png").exists()


# ----------------------------------------------------------------------------------- 17.17: the photo first


@pytest.mark.parametrize("content", [b"", b"not an image"])
def test_a_bad_photo_is_refused_before_the_model_loads(loads, capsys, tmp_path, content):
    photo = tmp_path / "bad.png"
    photo.write_bytes(content)
    status, _, err = run(capsys, "edit", photo, "add glasses", "-o", tmp_path / "o.png")
    assert status == 2 and "bad.png" in one_error_line(err)
    assert loads == []


def test_unknown_sample_is_refused_before_the_model_loads(loads, capsys, tmp_path):
    status, _, err = run(capsys, "edit", "sample:zed", "add glasses", "-o", tmp_path / "o.png")
    assert status == 2 and "ada, ben" in one_error_line(err)
    assert loads == []


def test_named_sample_is_accepted(loads, capsys, tmp_path):
    status, _, err = run(capsys, "edit", "sample:ben", "add glasses", "-o", tmp_path / "o.png")
    assert status == 0, err


# --------------------------------------------------------------------------- 17.3: real photo, built-in model


def test_real_photo_on_the_builtin_model_is_refused_with_the_way_out(loads, capsys, tmp_path):
    photo = tmp_path / "astronaut.png"
    _astronaut().save(photo)
    out = tmp_path / "out.png"
    status, _, err = run(capsys, "edit", photo, "add glasses", "-o", out)
    line = one_error_line(err)
    assert status == 2 and "astronaut.png" in line
    assert "chatface weights download ffhq256_autoenc" in line and "--force-builtin" in line
    assert not out.exists()
    status, _, err = run(capsys, "edit", photo, "add glasses", "-o", out, "--force-builtin")
    assert status == 0
    assert "warning" in err and "centre 512×512 square" in err and "ffhq256_autoenc" in err
    assert Image.open(out).size == (48, 48)


def test_the_builtin_models_own_faces_are_accepted_from_files(loads, capsys, tmp_path):
    small, big = tmp_path / "a.png", tmp_path / "b.png"
    assert run(capsys, "edit", "sample", "add glasses", "-o", small)[0] == 0
    assert run(capsys, "edit", "sample", "add glasses", "-o", big, "--scale", "3")[0] == 0
    for photo in (small, big):  # a chained edit of an earlier output, also one written with --scale
        status, _, err = run(capsys, "edit", photo, "add a smile", "-o", tmp_path / "c.png")
        assert status == 0, err


# ------------------------------------------------------------------------------------ 17.19: several faces


@pytest.fixture
def aligning_engine(monkeypatch):
    pytest.importorskip("dlib", reason="face alignment needs dlib (extra [align])")
    pytest.importorskip("face_recognition_models", reason="face alignment needs the dlib landmark model")
    engine = Engine.load("toy", device="cpu", align=True)  # a real-photo model in miniature
    monkeypatch.setattr(Engine, "load", classmethod(lambda cls, *a, **k: engine))
    return engine


def _two_faces(tmp_path):
    crop = _astronaut().crop((100, 0, 350, 300))
    photo = Image.new("RGB", (500, 300))
    photo.paste(crop, (0, 0))
    photo.paste(crop, (250, 0))
    path = tmp_path / "two.png"
    photo.save(path)
    return path


def test_two_faces_are_counted_and_chosen_with_face(aligning_engine, capsys, tmp_path):
    photo = _two_faces(tmp_path)
    status, _, err = run(capsys, "edit", photo, "add glasses", "-o", tmp_path / "o.png")
    assert status == 0, err
    assert "found 2 faces; edited face 1 (box x 83-" in err and "--face 2" in err
    status, _, err = run(capsys, "edit", photo, "add glasses", "-o", tmp_path / "o2.png", "--face", "2")
    assert status == 0, err
    assert "found 2 faces; edited face 2 (box x 333-" in err and "--face 1" in err
    one, two = (np.asarray(Image.open(tmp_path / n), dtype=int) for n in ("o.png", "o2.png"))
    original = np.asarray(Image.open(photo), dtype=int)
    assert np.abs(one - original)[:, :250].sum() > np.abs(one - original)[:, 250:].sum()
    assert np.abs(two - original)[:, 250:].sum() > np.abs(two - original)[:, :250].sum()
    status, _, err = run(capsys, "edit", photo, "add glasses", "-o", tmp_path / "o3.png", "--face", "3")
    assert status == 2 and "--face 3" in one_error_line(err)
    assert not (tmp_path / "o3.png").exists()


def test_face_zero_is_an_error(loads, capsys, tmp_path):
    status, _, err = run(capsys, "edit", "sample", "add glasses", "-o", tmp_path / "o.png", "--face", "0")
    assert status == 2 and "numbered from 1" in one_error_line(err)


# -------------------------------------------------------------------------------- delegated sub-commands


@pytest.mark.parametrize("name", sorted(cli.DELEGATED))
def test_delegated_help_shows_its_own_usage(capsys, name):
    with pytest.raises(SystemExit) as exit_info:
        cli.main([name, "--help"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out.startswith(f"usage: chatface {name} ")


def test_local_is_on_by_default_and_no_local_turns_it_off(loads, capsys, tmp_path):
    from PIL import Image

    outs = {}
    for flag in ("--local", "--no-local"):
        outs[flag] = tmp_path / f"{flag[2:]}.png"
        status, _, stderr = run(capsys, "edit", "sample", REQUEST, "-o", outs[flag], flag)
        assert status == 0, stderr
    default = tmp_path / "default.png"
    assert run(capsys, "edit", "sample", REQUEST, "-o", default)[0] == 0
    assert default.read_bytes() == outs["--local"].read_bytes()
    assert outs["--local"].read_bytes() != outs["--no-local"].read_bytes()
    assert Image.open(outs["--no-local"]).size == Image.open(outs["--local"]).size
