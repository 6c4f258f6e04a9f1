"""Sharding mapper recipes over two CPU ranks with torchrun on gloo (tiny engine, 2 iterations each)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from chatface_widgets.models.mapper import load_mapper
from chatface_widgets.train.distributed import shard
from chatface_widgets.train.toy_recipes import recipes_from


def test_shard_is_round_robin_and_complete():
    items = list(range(7))
    parts = [shard(items, r, 3) for r in range(3)]
    assert parts == [[0, 3, 6], [1, 4], [2, 5]]
    assert sorted(x for p in parts for x in p) == items


def test_toy_recipes_cover_the_eight_attributes():
    from chatface_widgets.toy import ATTRIBUTES

    book = recipes_from("toy")
    assert [r.attribute for r in book.recipes] == list(ATTRIBUTES)
    assert all(r.target.startswith("a face with ") and r.source == "a face" and r.synonyms for r in book.recipes)
    assert [r.attribute for r in book.select(["beard", "smile"])] == ["beard", "smile"]


@pytest.mark.needs("open_clip", "pytorch_optimizer")
def test_torchrun_two_ranks_on_gloo(tmp_path):
    out, summary = tmp_path / "mappers", tmp_path / "summary.json"
    env = dict(os.environ, OMP_NUM_THREADS="1")
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
           "-m", "chatface_widgets.train.distributed", "--model", "tiny", "--only", "smile", "eyeglasses",
           "--iters", "2", "--batch", "2", "--pool-size", "2", "--threads", "1", "--device", "cpu",
           "--out", str(out), "--checkpoint-dir", str(tmp_path / "ckpt"), "--summary", str(summary)]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(summary.read_text())
    assert result["world_size"] == 2
    assert {(d["rank"], d["recipe"]["attribute"]) for d in result["results"]} == {(0, "smile"), (1, "eyeglasses")}
    for name in ("smile", "eyeglasses"):
        mapper, card = load_mapper(out / f"{name}.safetensors")
        assert card["attribute"] == name and card["iterations"] == 2 and card["model"]["name"] == "tiny"
