"""`chatface batch`: names, bytes independent of batch company, nothing lost, kill-and-resume, 2 gloo ranks = 1 process."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from chatface_widgets.jobs import batch as batching
from chatface_widgets.jobs.batch import collect, render_padded, run
from chatface_widgets.engine.engine import Engine
from chatface_widgets.jobs.recipe import Recipe

SIZE = 32  # the tiny model's image size


@pytest.fixture(scope="module")
def engine():
    return Engine.load("tiny", device="cpu")


@pytest.fixture(scope="module")
def recipe(engine):
    return Recipe.from_edits(engine, {"smile": 0.8, "eyeglasses": -0.4}, steps=2)


def _face(seed: int, side: int = SIZE) -> Image.Image:
    rng = np.random.default_rng(seed)
    small = Image.fromarray(rng.integers(0, 256, (SIZE, SIZE, 3), dtype=np.uint8))
    return small if side == SIZE else small.resize((side, side), Image.NEAREST)


def _album(root: Path, n: int = 5) -> Path:
    """n tiny-model faces in a folder tree (one at twice the size), plus nothing else."""
    (root / "trip").mkdir(parents=True)
    for i in range(n):
        where = root / "trip" if i % 2 else root
        _face(i, SIZE * 2 if i == 3 else SIZE).save(where / f"p{i}.png")
    return root


def _bytes(folder: Path) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*.png"))}


def _lines(folder: Path) -> list[dict]:
    return [json.loads(line) for line in (folder / "manifest.jsonl").read_text().splitlines()]


def test_collect_names_files_folders_and_globs(tmp_path):
    _album(tmp_path / "in")
    (tmp_path / "in" / "p0.jpg").write_bytes((tmp_path / "in" / "p0.png").read_bytes())
    (tmp_path / "in" / ".hidden.png").write_bytes(b"x")
    (tmp_path / "in" / "notes.txt").write_text("x")
    jobs = collect([str(tmp_path / "in"), str(tmp_path / "in" / "trip" / "*.png"), str(tmp_path / "in" / "p2.png"),
                    str(tmp_path / "missing.png")])
    names = [j.name for j in jobs]
    # the glob and the single file repeat photos of the folder: taken once, under their folder names
    assert names == ["missing.png", "p0.jpg.png", "p0.png", "p2.png", "p4.png", "trip/p1.png", "trip/p3.png"]
    assert jobs[0].problem and not any(j.problem for j in jobs[1:])
    assert [j.name for j in collect([str(tmp_path / "in")], exclude=tmp_path / "in" / "trip")] == \
        ["p0.jpg.png", "p0.png", "p2.png", "p4.png"]


def test_bytes_do_not_depend_on_the_company_in_a_batch(engine, recipe):
    from chatface_widgets.photos.photo import to_tensor

    photos = [_face(i) for i in range(4)]
    settings = engine.settings(recipe.settings, bounded=True)

    def render(group):
        return render_padded(engine, [engine.read_face(p) for p in group], settings, 4)

    together = [im.tobytes() for im in render(photos)]
    alone = [render([p])[0].tobytes() for p in photos]  # padded to 4 rows: same shape, same bytes
    reordered = [im.tobytes() for im in render(photos[::-1])][::-1]
    assert together == alone == reordered
    assert len(set(together)) == 4


def test_nothing_is_lost_broken_faceless_and_read_only(engine, recipe, tmp_path, monkeypatch):
    album = _album(tmp_path / "in")
    (album / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    (album / "empty.jpg").write_bytes(b"")
    Image.new("RGB", (50, 40), "white").save(album / "trip" / "landscape.png")  # not a tiny-model face
    out = tmp_path / "out"
    (out / "trip").mkdir(parents=True)
    (out / "trip" / "p1.png").write_bytes(b"keep me")
    os.chmod(out / "trip" / "p1.png", 0o444)
    before = _bytes(album)
    summary = run(engine, recipe, [str(album)], out, batch_size=2, progress=False)
    records = {r["name"]: r for r in _lines(out)}
    assert len(records) == len(_lines(out)) == 8  # one line per photo
    status = {n: r["status"] for n, r in records.items()}
    assert status == {"broken.png": "error", "empty.png": "error", "trip/landscape.png": "skipped",
                      "trip/p1.png": "error", "p0.png": "ok", "p2.png": "ok", "p4.png": "ok", "trip/p3.png": "ok"}
    assert "not a readable image" in records["broken.png"]["error"]
    assert "empty" in records["empty.png"]["error"]
    assert "read-only" in records["trip/p1.png"]["error"]
    assert (out / "trip" / "p1.png").read_bytes() == b"keep me"  # never replaced
    assert Image.open(out / "trip" / "p3.png").size == (2 * SIZE, 2 * SIZE)  # scaled back like its input
    assert _bytes(album) == before  # inputs never written
    assert summary.counts == {"ok": 4, "error": 3, "skipped": 1}
    assert not list(out.rglob("*.part"))  # outputs complete or absent

    # an aligning model: a photo without a face is recorded, the others go on
    from chatface_widgets.photos import align

    aligner = Engine.load("tiny", device="cpu", align=True)

    def fake_align(photo, index=None, size=256, **_):
        if photo.getpixel((0, 0)) == (255, 255, 255):
            raise align.NoFaceError("no face found in the photo")
        raise AssertionError("only faceless photos here")

    monkeypatch.setattr(align, "align_face", fake_align)
    run(aligner, recipe, [str(album / "trip" / "landscape.png")], tmp_path / "aligned", progress=False)
    (record,) = _lines(tmp_path / "aligned")
    assert record["status"] == "error" and "no face" in record["error"]


def test_killed_halfway_and_run_again_gives_the_same_bytes(engine, recipe, tmp_path):
    album = _album(tmp_path / "in", n=7)
    whole = tmp_path / "whole"
    run(engine, recipe, [str(album)], whole, batch_size=3, progress=False)

    crashed = tmp_path / "crashed"
    written = []

    def crash(record):
        written.append(record["name"])
        if len(written) == 4:
            raise KeyboardInterrupt("killed")

    with pytest.raises(KeyboardInterrupt):
        run(engine, recipe, [str(album)], crashed, batch_size=3, progress=False, hook=crash)
    assert len(_bytes(crashed)) == 4
    again = []
    summary = run(engine, recipe, [str(album)], crashed, hook=lambda r: again.append(r["name"]), progress=False)
    assert summary.already == 4 and sorted(again + written) == sorted(_bytes(whole))  # every photo done once
    assert _bytes(crashed) == _bytes(whole)
    assert [r["name"] for r in _lines(crashed)] == sorted(_bytes(whole))  # compacted: one line per photo
    assert run(engine, recipe, [str(album)], crashed, progress=False).already == 7  # nothing left to do
    with pytest.raises(ValueError, match="--batch-size 3"):
        run(engine, recipe, [str(album)], crashed, batch_size=4, progress=False)
    other = Recipe.from_edits(engine, {"smile": -0.8}, steps=2)
    with pytest.raises(ValueError, match="another recipe"):
        run(engine, other, [str(album)], crashed, progress=False)


def test_two_gloo_ranks_equal_one_process(engine, recipe, tmp_path):
    album = _album(tmp_path / "in", n=5)
    (album / "broken.png").write_bytes(b"nope")
    path = recipe.save(tmp_path / "r.json")
    one = tmp_path / "one"
    run(engine, recipe, [str(album)], one, batch_size=2, progress=False)
    two = tmp_path / "two"
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(Path(batching.__file__).parents[2]))
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
           "-m", "chatface_widgets", "batch", str(path), str(album), "--out", str(two), "--batch-size", "2",
           "--device", "cpu", "--no-progress"]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 1, proc.stderr[-3000:]  # 1: a photo failed (the broken one), recorded
    assert _bytes(two) == _bytes(one) and len(_bytes(one)) == 5
    assert not list(two.glob("manifest.rank*"))  # merged by rank 0
    ones, twos = _lines(one), _lines(two)
    assert [(r["name"], r["status"]) for r in twos] == [(r["name"], r["status"]) for r in ones]
    assert {r["rank"] for r in twos} == {0, 1}


def test_merge_by_hand(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    rec = {"input": "x", "output": None, "status": "ok", "error": None, "seconds": 0}
    (out / "manifest.rank0.jsonl").write_text(json.dumps({**rec, "name": "b.png", "finished": 1}) + "\n")
    (out / "manifest.rank1.jsonl").write_text(json.dumps({**rec, "name": "a.png", "finished": 2}) + "\n{torn")
    from chatface_widgets.cli.batch import main

    assert main(["--merge", str(out)]) == 0
    assert [r["name"] for r in _lines(out)] == ["a.png", "b.png"]
    assert sorted(p.name for p in out.iterdir()) == ["manifest.jsonl"]


def test_apply_in_memory(engine, recipe, tmp_path):
    album = _album(tmp_path / "in", n=3)
    Image.new("RGB", (50, 40)).save(album / "wide.png")
    results = batching.apply(recipe, [str(album)], engine=engine, batch_size=2, show=False)
    assert [r.status for r in results] == ["ok", "ok", "ok", "skipped"]
    assert all(r.after.size == r.before.size for r in results[:3])
    assert torch.is_tensor(engine.encode(torch.zeros(1, 3, SIZE, SIZE)))
