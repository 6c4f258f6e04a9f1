"""Hit rate and identity per edit strength, and how far class-mean directions can move the decoder.

    python -m chatface_widgets.eval.strength --faces 20 --seed 0 --strengths 0.5 0.75 1
    python -m chatface_widgets.eval.strength --class-mean --multiples 1 2 3

The first reads each mapper at several strengths (SMS, the model's default T) with the oracle and
the identity judge. The second adds k·(mean z with − mean z without) (``directions.safetensors``) to
the held-out faces and decodes without SMS: an upper bound on what a z edit can show.
"""

from __future__ import annotations

import argparse
import json
from typing import Optional, Sequence

import numpy as np
import torch

from chatface_widgets.engine.engine import Engine
from chatface_widgets.photos.photo import to_pil
from chatface_widgets.photos import metrics as M
from chatface_widgets.eval.evaluate import _decode, _embed, attainable, attribute_pairs, default_oracle_folder, jsonable, open_faces


def strength_table(engine: Engine, strengths: Sequence[float], faces: int = 20, seed: int = 0, judges=None,
                   oracle=None, attributes: Optional[Sequence[str]] = None) -> dict:
    """{strength: {attribute: {"hit_rate", "id", "eligible_faces"}}} with SMS at the default T."""
    from chatface_widgets.toy.oracle import load_oracle
    from chatface_widgets.train.judges import load_toy_judges

    oracle = oracle if oracle is not None else load_oracle(default_oracle_folder(engine))
    ident = (judges or load_toy_judges(default_oracle_folder(engine)))[1]
    steps = engine.info.default_steps
    opened = open_faces(engine, faces, seed)
    pairs = attribute_pairs(engine, attributes)
    edits = [(float(s), name, key) for s in strengths for name, key in pairs]
    before = {key: [] for _, key in pairs}
    after, ids = {e: [] for e in edits}, {e: [] for e in edits}
    for op in opened:  # one batch per face: the reconstruction, then every (strength, attribute) edit
        images = op.face.render_many([{}] + [{name: s} for s, name, _ in edits], steps, sms=True, local="off")
        reading = oracle.predict(images)
        emb = _embed(ident.embed, ident, images)
        for key in before:
            before[key].append(reading[key][0])
        for j, e in enumerate(edits, start=1):
            after[e].append(reading[e[2]][j])
            ids[e].append(float(emb[0] @ emb[j]))
    reach = attainable(oracle, opened, list(before))
    table: dict = {}
    for e in edits:
        rate, n = M.hit_rate(np.asarray(before[e[2]]), np.asarray(after[e]), attainable=reach[e[2]])
        table.setdefault(str(e[0]), {})[e[1]] = {"hit_rate": rate, "id": float(np.mean(ids[e])), "eligible_faces": n}
    return jsonable({"steps": steps, "faces": faces, "seed": seed, "sms": True, "table": table})


@torch.no_grad()
def class_mean_capacity(engine: Engine, multiples: Sequence[float], faces: int = 20, seed: int = 0,
                        oracle=None) -> dict:
    """{k: {attribute: hit rate}} for z + k·d_class-mean decoded without SMS from the faces' own x_T."""
    from chatface_widgets.models.mapper import read_directions
    from chatface_widgets.toy.oracle import load_oracle

    folder = default_oracle_folder(engine)
    oracle = oracle if oracle is not None else load_oracle(folder)
    stored = read_directions(folder)
    if stored is None:
        raise FileNotFoundError(f"no directions.safetensors in {folder}; "
                                "make them with: python -m chatface_widgets.train.directions")
    vectors = stored[0]
    steps = engine.contract.steps.default
    opened = open_faces(engine, faces, seed)
    z = torch.cat([op.face.z for op in opened])
    x_T = torch.cat([op.face.noise(steps) for op in opened])
    before = oracle.predict([op.face.reconstruct(steps=steps) for op in opened])
    reach = attainable(oracle, opened, list(vectors))
    out = {}
    for k in multiples:
        row = {}
        for name, vec in vectors.items():
            d = vec.to(z.device, z.dtype)
            after = oracle.predict(to_pil(_decode(engine, x_T, z + float(k) * d, steps)))
            rate, n = M.hit_rate(before[name], after[name], attainable=reach[name])
            row[name] = {"hit_rate": rate, "eligible_faces": n}
        out[str(float(k))] = row
    return jsonable({"steps": steps, "faces": faces, "seed": seed, "sms": False, "table": out})


def main(argv: Optional[Sequence[str]] = None) -> int:
    p = argparse.ArgumentParser(description="Hit rate per edit strength; class-mean direction capacity.")
    p.add_argument("--model", default="toy")
    p.add_argument("--faces", type=int, default=20)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--strengths", type=float, nargs="+", default=[0.5, 0.75, 1.0],
                   help="edit strengths within the edit contract's range [-1, 1]")
    p.add_argument("--class-mean", action="store_true", help="measure class-mean directions instead of mappers")
    p.add_argument("--multiples", type=float, nargs="+", default=[1.0, 2.0, 3.0])
    p.add_argument("--threads", type=int)
    p.add_argument("--json", help="write the result here")
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    engine = Engine.load(args.model, align=False)
    if args.class_mean:
        result = class_mean_capacity(engine, args.multiples, args.faces, args.seed)
    else:
        result = strength_table(engine, args.strengths, args.faces, args.seed)
    text = json.dumps(result, indent=1)
    if args.json:
        from pathlib import Path

        Path(args.json).write_text(text + "\n")
    for k, row in result["table"].items():
        print(k, {n: round(v["hit_rate"], 2) if v["hit_rate"] is not None else None for n, v in row.items()})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
