"""Faces per second of `chatface batch`'s renderer against batch size, side by side in one process.

    python benchmarks/bench_batch.py                      # built-in model, 64 faces, batch 1 4 16 64, 2 edit processes
    python benchmarks/bench_batch.py --faces 16 --sizes 1 16 --processes 0   # quicker

Every batch size renders the same faces (toy-world identities) with the same recipe through
the engine's batch path, ``jobs.batch.render_padded`` (read, encode, invert, region, edit, decode, paste-back). Batch size 1 is "one at a
time". The cost of separate ``chatface edit`` processes (start-up, model load, one render) is
measured on a few and scaled to the face count. Prints one JSON line; ``--append`` adds a Markdown
row block to BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def faces(n: int, size: int) -> list:
    """n different toy-world faces as PIL images."""
    from chatface_widgets.toy import render_face, sample_params

    return [render_face(sample_params(10_000 + i), size).image for i in range(n)]


def measure(engine, recipe, xs, batch_size: int) -> float:
    """Seconds to render all of ``xs`` in batches of ``batch_size`` (after one warm-up batch)."""
    from chatface_widgets.jobs.batch import render_padded

    settings = engine.settings(recipe.settings, bounded=True)

    def render(images):
        return render_padded(engine, [engine.read_face(im) for im in images], settings, batch_size)

    render(xs[:batch_size])
    start = time.perf_counter()
    for i in range(0, len(xs), batch_size):
        render(xs[i:i + batch_size])
    return time.perf_counter() - start


def edit_process(photo: Path, out: Path) -> float:
    """Wall seconds of one `chatface edit` process (what a shell loop over photos pays each time)."""
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "chatface_widgets", "edit", str(photo), "add glasses and a smile",
                    "-o", str(out)], check=True, capture_output=True, cwd=REPO)
    return time.perf_counter() - start


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default="toy")
    p.add_argument("--faces", type=int, default=64)
    p.add_argument("--sizes", type=int, nargs="+", default=[1, 4, 16, 64])
    p.add_argument("--processes", type=int, default=2, help="separate `chatface edit` processes to time (0: none)")
    p.add_argument("--request", default="add glasses and a smile")
    p.add_argument("--local", choices=("auto", "on", "off"), default="auto", help="local mode of the recipe")
    p.add_argument("--append", action="store_true", help="append the results to BENCHMARKS.md")
    args = p.parse_args(argv)

    from chatface_widgets.engine.engine import Engine
    from chatface_widgets.jobs.recipe import Recipe

    engine = Engine.load(args.model)
    from chatface_widgets.foundation.settings import RenderSettings

    recipe = Recipe.from_request(engine, args.request, settings=RenderSettings(local=args.local))
    xs = faces(args.faces, engine.image_size)
    rows = {}
    for size in args.sizes:
        seconds = measure(engine, recipe, xs, size)
        rows[size] = {"seconds": round(seconds, 3), "faces_per_s": round(len(xs) / seconds, 2)}
        print(f"batch {size:3d}: {rows[size]['faces_per_s']:7.2f} faces/s ({seconds:.2f} s)", file=sys.stderr)
    process = None
    if args.processes:
        from PIL import Image

        with tempfile.TemporaryDirectory() as tmp:
            photo = Path(tmp) / "face.png"
            from chatface_widgets.photos.photo import to_pil

            to_pil(xs[0])[0].save(photo)
            times = [edit_process(photo, Path(tmp) / f"out{i}.png") for i in range(args.processes)]
            del Image
        each = sum(times) / len(times)
        process = {"measured": [round(t, 2) for t in times], "estimated_seconds": round(each * len(xs), 1),
                   "faces_per_s": round(1 / each, 3)}
        print(f"separate `chatface edit` processes: {each:.2f} s each -> {each * len(xs):.0f} s for {len(xs)}",
              file=sys.stderr)
    one = rows.get(1)
    result = {"bench": "batch", "model": args.model, "faces": len(xs), "steps": recipe.steps,
              "edits": recipe.edits, "threads": engine.threads or torch.get_num_threads(),
              "device": str(engine.device), "machine": f"{platform.machine()} {os.cpu_count()} logical CPUs, "
              f"affinity {len(os.sched_getaffinity(0))} ({platform.processor() or platform.system()})",
              "torch": torch.__version__, "batch": rows, "processes": process,
              "speedup_vs_one": {s: round(one["seconds"] / r["seconds"], 2) for s, r in rows.items()} if one else None}
    print(json.dumps(result))
    if args.append:
        _append(result, " ".join(["python", "benchmarks/bench_batch.py", *(argv or sys.argv[1:])]))
    return 0


def _append(result: dict, command: str) -> None:
    lines = [f"\n### Batch rendering ({time.strftime('%Y-%m-%d')}, `{command.replace(' --append', '')}`)\n",
             f"Machine: {result['machine']}; torch {result['torch']}; {result['device']}, "
             f"{result['threads']} intra-op thread(s); model {result['model']}, {result['faces']} faces, "
             f"T = {result['steps']}, edits {result['edits']}.\n",
             "| batch size | seconds | faces/s | × one at a time |", "|---|---|---|---|"]
    for size, row in result["batch"].items():
        speed = (result["speedup_vs_one"] or {}).get(size, "–")
        lines.append(f"| {size} | {row['seconds']} | {row['faces_per_s']} | {speed} |")
    if result["processes"]:
        pr = result["processes"]
        lines.append(f"| separate `chatface edit` processes (measured {pr['measured']} s) | "
                     f"{pr['estimated_seconds']} (estimated) | {pr['faces_per_s']} | "
                     f"{round(result['batch'].get(1, {}).get('seconds', 0) / pr['estimated_seconds'], 3)} |")
    with open(REPO / "BENCHMARKS.md", "a", encoding="utf-8") as handle:
        handle.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    sys.exit(main())
