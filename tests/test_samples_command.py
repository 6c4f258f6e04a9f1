"""`chatface samples` writes built-in-world faces that edit takes; a new model says how to get attributes."""

from __future__ import annotations

import os
import shlex
import types

import pytest
from PIL import Image

from chatface_widgets.cli import samples as S
from chatface_widgets.cli.main import main as chatface
from chatface_widgets.engine.world import WORLD_SIZE
from chatface_widgets.train import diffae_trainer


def _samples(capsys, *argv) -> tuple[int, str, str]:
    """Run `chatface samples ARGV`; a parser's SystemExit counts as its exit status."""
    try:
        status = chatface(["samples", *argv])
    except SystemExit as exc:
        status = exc.code
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def test_writes_distinct_faces_of_the_model_size(tmp_path, capsys):
    status, out, err = _samples(capsys, "--out", str(tmp_path / "faces"), "--count", "3", "--scale", "2")
    assert status == 0, err
    files = sorted((tmp_path / "faces").iterdir())
    assert [f.name for f in files] == ["face-0000000.png", "face-0000001.png", "face-0000002.png"]
    images = [Image.open(f) for f in files]
    assert all(im.size == (2 * WORLD_SIZE, 2 * WORLD_SIZE) and im.mode == "RGB" for im in images)
    assert len({im.tobytes() for im in images}) == 3
    assert "face-0000000.png" in out


def test_the_same_number_is_the_same_face_and_a_rerun_replaces_its_own_files(tmp_path, capsys):
    assert _samples(capsys, "--out", str(tmp_path / "a"), "--count", "2", "--seed", "5")[0] == 0
    assert _samples(capsys, "--out", str(tmp_path / "b"), "--count", "1", "--seed", "6")[0] == 0
    assert (tmp_path / "a" / "face-0000006.png").read_bytes() == (tmp_path / "b" / "face-0000006.png").read_bytes()
    assert _samples(capsys, "--out", str(tmp_path / "a"), "--count", "2", "--seed", "5")[0] == 0
    assert not [p for p in (tmp_path / "a").iterdir() if p.name.endswith(".part")]


def test_someone_elses_file_is_never_written(tmp_path, capsys):
    out = tmp_path / "faces"
    out.mkdir()
    mine = out / "face-0000001.png"
    Image.new("RGB", (48, 48), "red").save(mine)
    before = mine.read_bytes()
    status, _, err = _samples(capsys, "--out", str(out), "--count", "3")
    assert status == 2 and err.startswith("chatface: error: ") and len(err.strip().splitlines()) == 1
    assert str(mine) in err
    assert mine.read_bytes() == before and sorted(p.name for p in out.iterdir()) == [mine.name]  # nothing written


def test_a_link_is_not_followed(tmp_path, capsys):
    photo = tmp_path / "photo.png"
    Image.new("RGB", (48, 48), "blue").save(photo)
    before = photo.read_bytes()
    (tmp_path / "faces").mkdir()
    os.symlink(photo, tmp_path / "faces" / "face-0000000.png")
    status, _, err = _samples(capsys, "--out", str(tmp_path / "faces"), "--count", "1")
    assert status == 2 and "face-0000000.png" in err and photo.read_bytes() == before


@pytest.mark.parametrize("argv", [["--count", "0"], ["--count", "10001"], ["--count", "99999999999"],
                                  ["--scale", "0"], ["--scale", "86"], ["--seed", "-1"], ["--count", "x"], []])
def test_bounds_and_usage_are_one_line(tmp_path, capsys, argv):
    out = [] if not argv else ["--out", str(tmp_path / "faces")]
    status, _, err = _samples(capsys, *out, *argv)
    assert status == 2 and err.startswith("chatface: error: ") and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "faces").exists()


def test_out_naming_a_file_is_one_line(tmp_path, capsys):
    (tmp_path / "f").write_text("mine")
    status, _, err = _samples(capsys, "--out", str(tmp_path / "f"))
    assert status == 2 and str(tmp_path / "f") in err and (tmp_path / "f").read_text() == "mine"


def test_chatface_edit_takes_a_written_face(tmp_path, capsys):
    assert _samples(capsys, "--out", str(tmp_path / "faces"), "--count", "1", "--scale", "3")[0] == 0
    face = tmp_path / "faces" / "face-0000000.png"
    before = face.read_bytes()
    status = chatface(["edit", str(face), "add glasses", "-o", str(tmp_path / "out.png"), "--steps", "5"])
    assert status == 0, capsys.readouterr().err
    # a whole multiple of the built-in world comes back at its own size, as `chatface batch` writes it
    assert Image.open(tmp_path / "out.png").size == (3 * WORLD_SIZE, 3 * WORLD_SIZE) and face.read_bytes() == before


def test_the_trainers_suggested_commands_use_what_samples_writes(tmp_path, capsys):
    lines = [shlex.split(line) for line in diffae_trainer.EPILOG.splitlines() if line.startswith("  chatface ")]
    commands = {words[1]: words[2:] for words in lines}
    assert commands["edit"][0] != "sample" and not commands["edit"][0].startswith("sample:")
    samples = commands["samples"]
    out = tmp_path / samples[samples.index("--out") + 1]
    assert S.main([*samples[:samples.index("--out")], "--out", str(out), *samples[samples.index("--out") + 2:]]) == 0
    assert (tmp_path / commands["edit"][0]).is_file()
    assert commands["attributes"] == ["--model", "runs/x/model"] and "--model" in commands["train-mapper"]


def test_a_model_without_attributes_says_how_to_add_them(capsys, monkeypatch):
    from chatface_widgets.engine.engine import Engine

    bare = types.SimpleNamespace(attributes=[], registry={})
    monkeypatch.setattr(Engine, "load", classmethod(lambda cls, *args, **kwargs: bare))
    assert chatface(["attributes", "--model", "runs/x/model"]) == 0
    out = capsys.readouterr().out
    assert "no attributes" in out and "chatface train-mapper --model runs/x/model" in out
