"""Side-by-side timing of two checkouts of this package in one run: panel latency and render time.

    git worktree add /tmp/before <commit>        # or: git archive <commit> | tar -x -C /tmp/before
    OMP_NUM_THREADS=1 python benchmarks/compare_trees.py /tmp/before . --rounds 3

Each round runs every tree's own ``benchmarks/bench_panel.py`` (slider release → final image, chat
message → final image) and ``python -m chatface_widgets.bench render --arch toy`` in a fresh
process with that tree first on ``sys.path``, alternating trees so that a busy machine slows both
alike. Prints one JSON object: per tree the medians over rounds, and the ratio after/before.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
from pathlib import Path


def run_json(tree: Path, args: list[str]) -> dict:
    """Run a Python command with ``tree`` first on the path; the JSON object it prints (the last one)."""
    env = dict(os.environ, PYTHONPATH=str(tree))
    proc = subprocess.run([sys.executable, *args], cwd=tree, env=env, capture_output=True, text=True, timeout=1800)
    if proc.returncode != 0:
        raise RuntimeError(f"{tree}: {' '.join(args)} failed:\n{proc.stderr[-2000:]}")
    lines = proc.stdout.splitlines()
    start = max(i for i, line in enumerate(lines) if line.startswith("{"))
    return json.loads("\n".join(lines[start:]))


def measure(tree: Path, repeats: int, steps: int) -> dict:
    """Slider and chat medians (panel) and the engine render median (bench) for one tree."""
    panel = run_json(tree, ["benchmarks/bench_panel.py", "--repeats", str(repeats)])
    render = run_json(tree, ["-m", "chatface_widgets.bench", "render", "--arch", "toy", "--steps", str(steps),
                             "--repeat", str(repeats), "--json"])
    return {"slider_s": panel["slider_release_to_image_s"]["median"], "chat_s": panel["chat_to_image_s"]["median"],
            "render_s": render["ms_render"] / 1000.0}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("before", type=Path)
    p.add_argument("after", type=Path)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--repeats", type=int, default=5, help="timings per benchmark call")
    p.add_argument("--steps", type=int, default=10, help="DDIM steps of the render benchmark")
    args = p.parse_args(argv)
    trees = {"before": args.before.resolve(), "after": args.after.resolve()}
    rows: dict = {name: [] for name in trees}
    for _ in range(args.rounds):
        for name, tree in trees.items():
            rows[name].append(measure(tree, args.repeats, args.steps))
    medians = {name: {k: round(statistics.median(r[k] for r in rs), 4) for k in rs[0]} for name, rs in rows.items()}
    ratio = {k: round(medians["after"][k] / medians["before"][k], 3) for k in medians["after"]}
    print(json.dumps({"machine": platform.processor() or platform.machine(), "cpus": os.cpu_count(),
                      "omp_threads": os.environ.get("OMP_NUM_THREADS"), "rounds": args.rounds,
                      "trees": {k: str(v) for k, v in trees.items()}, "median": medians,
                      "after_over_before": ratio, "raw": rows}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
