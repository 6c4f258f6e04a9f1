"""Hostile inputs through every door (issue 27): no input, sample, model file or package file is ever written,
nothing is lost silently, every mistake is one line (exit 2), Ctrl-C exits 130 with no traceback."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from chatface_widgets.cli.main import main as cli
from chatface_widgets.engine.catalogue import find
from chatface_widgets.testing.tiny import save_tiny_model

SIZE = 32  # the tiny test model's image size


def _face(seed: int) -> Image.Image:
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 256, (SIZE, SIZE, 3), dtype=np.uint8))


def _digest(root: Path) -> dict:
    """Every file under ``root`` (or the file itself) with its sha256: what must stay byte-identical."""
    files = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file())
    return {str(p): hashlib.sha256(p.read_bytes()).hexdigest() for p in files}


def _run(capsys, *argv):
    status = cli([str(a) for a in argv])
    out = capsys.readouterr()
    assert "Traceback" not in out.err, out.err
    return status, out.out, out.err


def _one_line(err: str) -> str:
    lines = [line for line in err.strip().splitlines() if line.startswith("chatface: error:")]
    assert len(lines) == 1, err
    return lines[0]


@pytest.fixture
def album(tmp_path):
    root = tmp_path / "album"
    root.mkdir()
    for i in range(3):
        _face(i).save(root / f"p{i}.png")
    return root


# ------------------------------------------------------------------------------ chatface edit


@pytest.mark.parametrize("spelling", ["sub/../{name}", "./sub/../sub2/../{name}", "{name}"])
def test_edit_never_writes_its_photo_however_the_output_is_spelled(capsys, tmp_path, album, spelling, monkeypatch):
    monkeypatch.chdir(album)
    before = _digest(album)
    status, _, err = _run(capsys, "edit", "p0.png", "add a smile", "--model", "tiny", "-o",
                          spelling.format(name="p0.png"))
    assert status == 2 and "p0.png" in _one_line(err)
    assert _digest(album) == before and not (album / "sub").exists()


def test_edit_never_writes_through_a_link_to_its_photo(capsys, tmp_path, album):
    (tmp_path / "link.png").symlink_to(album / "p0.png")
    before = _digest(album)
    status, _, err = _run(capsys, "edit", album / "p0.png", "add a smile", "--model", "tiny", "-o", tmp_path / "link.png")
    assert status == 2 and "input" in _one_line(err) and _digest(album) == before


def test_edit_never_writes_a_built_in_sample_or_the_package(capsys, tmp_path):
    sample = find("toy").sample("ben")
    before = _digest(sample)
    status, _, err = _run(capsys, "edit", "sample:ben", "add glasses", "-o", sample)
    assert status == 2 and str(sample.name) in _one_line(err) and _digest(sample) == before
    package = Path(__file__).resolve().parents[1] / "chatface_widgets" / "new.png"
    status, _, err = _run(capsys, "edit", "sample:ben", "add glasses", "--model", "tiny", "-o", package)
    assert status == 2 and "package" in _one_line(err) and not package.exists()


def test_save_recipe_never_replaces_a_model_card_and_comes_after_the_edit(capsys, tmp_path, album):
    folder = tmp_path / "mymodel"
    save_tiny_model(folder)
    before = _digest(folder)
    status, _, err = _run(capsys, "edit", album / "p0.png", "add a smile", "--model", folder, "-o", tmp_path / "o.png",
                          "--save-recipe", folder / "diffae.json")
    assert status == 2 and "diffae.json" in _one_line(err) and _digest(folder) == before
    assert not (tmp_path / "o.png").exists()
    # an edit that fails after the checks writes no recipe
    status, _, err = _run(capsys, "edit", "sample:ben", "add a smile", "--model", "tiny", "-o", tmp_path / "o.png",
                          "--save-recipe", tmp_path / "r.json", "--steps", "37")
    assert status == 2 and not (tmp_path / "r.json").exists() and not (tmp_path / "o.png").exists()


def test_output_and_recipe_onto_one_file_are_refused(capsys, tmp_path):
    status, _, err = _run(capsys, "edit", "sample:ben", "add a smile", "--model", "tiny", "-o", tmp_path / "x.png",
                          "--save-recipe", tmp_path / "sub" / ".." / "x.json")
    assert status == 0  # different files are fine
    status, _, err = _run(capsys, "edit", "sample:ben", "add a smile", "--model", "tiny", "-o", tmp_path / "y.png",
                          "--device", "banana")
    assert status == 2 and "banana" in _one_line(err)


def test_ctrl_c_in_edit_exits_130_and_writes_nothing(capsys, tmp_path, monkeypatch):
    from chatface_widgets.engine.engine import Face

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(Face, "render", interrupted)
    status, _, err = _run(capsys, "edit", "sample:ben", "add a smile", "--model", "tiny", "-o", tmp_path / "o.png",
                          "--save-recipe", tmp_path / "r.json")
    assert status == 130 and "interrupted" in err and not list(tmp_path.iterdir())


# ------------------------------------------------------------------------------ chatface convert


def test_convert_never_writes_its_source_or_its_card(capsys, tmp_path):
    save_tiny_model(tmp_path)
    src = tmp_path / "diffae.safetensors"
    before = _digest(tmp_path)
    for dst in (tmp_path / "sub" / ".." / "diffae.safetensors", tmp_path / "link.safetensors"):
        if dst.name == "link.safetensors":
            dst.symlink_to(src)
        status, _, err = _run(capsys, "convert", src, dst)
        assert status == 2 and "diffae" in _one_line(err)
    assert all(_digest(tmp_path).get(k) == v for k, v in before.items())  # the source and its card are intact


# ------------------------------------------------------------------------------ chatface batch


def test_batch_never_writes_over_a_photo_of_its_own_inputs(capsys, tmp_path, album):
    new = tmp_path / "new"
    new.mkdir()
    _face(9).save(new / "p0.png")  # same relative name as album/p0.png
    before = _digest(album)
    status, _, err = _run(capsys, "batch", "add a smile", album, new, "--out", album, "--model", "tiny", "--no-progress")
    assert status == 2 and "p0.png" in _one_line(err)
    assert _digest(album) == before


def test_batch_refuses_two_photos_that_would_share_one_output(capsys, tmp_path, album):
    other = tmp_path / "other"
    other.mkdir()
    _face(7).save(other / "p1.png")
    status, _, err = _run(capsys, "batch", "add a smile", album, other, "--out", tmp_path / "out", "--model", "tiny",
                          "--no-progress")
    line = _one_line(err)
    assert status == 2 and "p1.png" in line and "both" in line and not (tmp_path / "out" / "p1.png").exists()


def test_batch_keeps_photos_that_differ_only_in_the_case_of_their_suffix(capsys, tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    _face(1).save(folder / "y.png")
    _face(2).save(folder / "y.PNG", format="PNG")
    status, _, err = _run(capsys, "batch", "add a smile", folder, "--out", tmp_path / "out", "--model", "tiny",
                          "--no-progress")
    assert status == 0, err
    written = sorted(p.name for p in (tmp_path / "out").glob("*.png"))
    assert written == ["y.PNG.png", "y.png"]
    assert "2 written" in err


@pytest.mark.parametrize("case", ["out_is_the_photos", "glob_matches_nothing"])
def test_a_batch_with_nothing_to_do_is_an_error(capsys, tmp_path, album, case):
    photos = [album] if case == "out_is_the_photos" else [str(tmp_path / "nothing" / "*.png")]
    out = album if case == "out_is_the_photos" else tmp_path / "out"
    before = _digest(album)
    status, _, err = _run(capsys, "batch", "add a smile", *photos, "--out", out, "--model", "tiny", "--no-progress")
    assert status == 2 and "no photos" in _one_line(err) and _digest(album) == before


def test_batch_out_that_is_a_file_or_a_damaged_header_is_one_line(capsys, tmp_path, album):
    (tmp_path / "file").write_text("x")
    status, _, err = _run(capsys, "batch", "add a smile", album, "--out", tmp_path / "file", "--model", "tiny",
                          "--no-progress")
    assert status == 2 and "file" in _one_line(err)
    out = tmp_path / "out"
    assert _run(capsys, "batch", "add a smile", album, "--out", out, "--model", "tiny", "--no-progress")[0] == 0
    (out / "batch.json").write_text("{damaged")
    status, _, err = _run(capsys, "batch", "add a smile", album, "--out", out, "--model", "tiny", "--no-progress")
    assert status == 2 and "batch.json" in _one_line(err)


@pytest.mark.parametrize("field,value", [("steps", 1000), ("sms", "no"), ("steps", 10.7), ("edits", {"smile": True})])
def test_recipe_bounds_and_types_hold_in_batch(capsys, tmp_path, album, field, value):
    assert _run(capsys, "edit", "sample:ben", "add a smile", "--model", "tiny", "-o", tmp_path / "o.png",
                "--save-recipe", tmp_path / "r.json")[0] == 0
    data = json.loads((tmp_path / "r.json").read_text())
    data["settings"][field] = value
    (tmp_path / "r.json").write_text(json.dumps(data))
    status, _, err = _run(capsys, "batch", tmp_path / "r.json", album, "--out", tmp_path / "out", "--no-progress")
    assert status == 2 and "r.json" in _one_line(err) and not (tmp_path / "out").exists()


def test_batch_steps_flag_has_the_cli_bound(capsys, tmp_path, album):
    status, _, err = _run(capsys, "batch", "add a smile", album, "--out", tmp_path / "out", "--model", "tiny",
                          "--steps", "1000", "--no-progress")
    assert status == 2 and "100" in _one_line(err)


def test_a_batch_where_every_photo_fails_exits_1(capsys, tmp_path):
    folder = tmp_path / "bad"
    folder.mkdir()
    (folder / "a.png").write_bytes(b"\x89PNG\r\n\x1a\n broken")
    Image.new("RGB", (50, 40)).save(folder / "b.png")
    status, _, err = _run(capsys, "batch", "add a smile", folder, "--out", tmp_path / "out", "--model", "tiny",
                          "--no-progress")
    assert status == 1 and "no photo was written" in err


def test_ctrl_c_in_batch_keeps_what_was_written_and_resumes(capsys, tmp_path, album, monkeypatch):
    from chatface_widgets.jobs import batch as batching

    real = batching.render_padded
    calls = []

    def flaky(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(batching, "render_padded", flaky)
    out = tmp_path / "out"
    status, _, err = _run(capsys, "batch", "add a smile", album, "--out", out, "--model", "tiny", "--batch-size", "1",
                          "--no-progress")
    assert status == 130 and "interrupted" in err and "again" in err
    assert len(list(out.glob("*.png"))) == 1 and not list(out.glob(".*.part"))
    monkeypatch.setattr(batching, "render_padded", real)
    status, _, err = _run(capsys, "batch", "add a smile", album, "--out", out, "--model", "tiny", "--batch-size", "1",
                          "--no-progress")
    assert status == 0 and "1 already done" in err and len(list(out.glob("*.png"))) == 3


def test_panel_saves_never_land_in_the_package(tmp_path):
    pytest.importorskip("ipywidgets")
    from chatface_widgets.foundation.files import OutputError
    from chatface_widgets.testing.tiny import tiny_engine
    from chatface_widgets.widgets.panel import ChatFacePanel

    panel = ChatFacePanel(engine=tiny_engine(), save_dir=find("toy").sample("ben").parent)
    try:
        assert panel.wait_idle(60)
        with pytest.raises(OutputError, match="package"):
            panel.controller.save_png()
        with pytest.raises((OutputError, ValueError)):
            panel.controller.save_recipe()
    finally:
        panel.close()
    assert os.path.isdir(find("toy").sample("ben").parent)


def test_the_llm_fallback_note_is_said_once(capsys, tmp_path, monkeypatch):
    pytest.importorskip("openai")
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    status, out, err = _run(capsys, "edit", "sample:ben", "add glasses", "--model", "tiny", "-o", tmp_path / "o.png",
                            "--llm", "openai")
    assert status == 0 and (out + err).count("offline rules") == 1, out + err


def test_samples_never_land_in_the_package(capsys, tmp_path):
    shipped = find("toy").sample("ben").parent
    before = _digest(shipped)
    for out in (shipped, shipped.parent / "sub" / ".." / shipped.name):
        status, _, err = _run(capsys, "samples", "--out", out, "--count", "1")
        assert status == 2 and "package" in _one_line(err)
    assert _digest(shipped) == before
