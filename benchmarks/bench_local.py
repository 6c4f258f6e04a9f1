"""A local edit vs a plain one, side by side in one run: the slider-tick case (region already cached).

    OMP_NUM_THREADS=1 python benchmarks/bench_local.py [--model toy|tiny] [--repeats 15] [--steps N]
        [--attribute NAME] [--mappers DIR]

The built-in model draws every attribute with a texture painter, so a local tick there paints the
photo and decodes nothing; ``--mappers`` with a copy of its ``mappers/`` folder times the decoding
(mapper) path instead.

Alternates local=True and local=False renders of the same face and edit (after one warm-up render
of each, which inverts the photo once and computes the region and the masked reconstruction once),
and prints one JSON object with the medians and their ratio. Goal: local ≤ 1.3× plain.

Also the first local render of an attribute on an opened face (``first_*``): the region's edit score
and the masked reconstruction are computed then, so it costs more; it is measured the same way,
with the face's local caches emptied before each local render.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time

import torch

from chatface_widgets.engine.engine import Engine

GOAL = 1.3


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default="toy")
    p.add_argument("--repeats", type=int, default=15)
    p.add_argument("--steps", type=int, default=None)
    p.add_argument("--photo", default="sample:0")
    p.add_argument("--attribute", default=None, help="the edited attribute (default: the model's first)")
    p.add_argument("--mappers", default=None, help="a folder of mappers to use instead of the model's")
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    engine = Engine.load(args.model, threads=1, mappers=args.mappers)
    face = engine.open(args.photo)
    steps = args.steps or engine.info.default_steps
    attribute = args.attribute or engine.attributes[0]
    times = {"local": [], "plain": []}
    strengths = [0.3 + 0.7 * k / max(1, args.repeats - 1) for k in range(args.repeats)]  # slider ticks
    for local in (True, False):  # warm-up: trajectory and region once
        face.render({attribute: 1.0}, steps=steps, local=local)
    computed = face.region_computations
    for s in strengths:
        for name, local in (("local", True), ("plain", False)):
            start = time.perf_counter()
            face.render({attribute: s}, steps=steps, local=local)
            times[name].append(time.perf_counter() - start)
    during_ticks = face.region_computations - computed
    firsts = {"local": [], "plain": []}
    for s in strengths[: max(3, args.repeats // 3)]:
        for name, local in (("local", True), ("plain", False)):
            face._scores.clear(), face._recons.clear()
            start = time.perf_counter()
            face.render({attribute: s}, steps=steps, local=local)
            firsts[name].append(time.perf_counter() - start)
    first_local, first_plain = (1000 * statistics.median(firsts[k]) for k in ("local", "plain"))
    local_ms, plain_ms = (1000 * statistics.median(times[k]) for k in ("local", "plain"))
    print(json.dumps({
        "model": engine.info.name, "attribute": attribute, "steps": steps, "repeats": args.repeats,
        "local_ms": round(local_ms, 2), "plain_ms": round(plain_ms, 2), "ratio": round(local_ms / plain_ms, 3),
        "goal": GOAL, "ok": local_ms / plain_ms <= GOAL,
        "regions_computed_during_ticks": during_ticks, "moves_z": engine.moves_z(attribute),
        "first_local_ms": round(first_local, 2), "first_plain_ms": round(first_plain, 2),
        "first_ratio": round(first_local / first_plain, 3),
        "machine": f"{platform.machine()} {platform.processor() or ''} torch {torch.__version__}, 1 thread".strip(),
        "device": str(engine.device)}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
