"""Local edits measured on held-out toy faces: the same s = 1 edits with ``local`` off and on, side by side.

    python -m chatface_widgets.eval.local --faces 30 --seed 900 --sheet docs/images/local_edits.png

Per attribute and variant: hit rate (as ``chatface eval``), identity (oracle readings, edit vs
reconstruction), preservation (PSNR vs the reconstruction outside the attribute's true region),
PSNR vs the ORIGINAL photo outside that region, spatial consistency vs the reconstruction (as
``chatface eval``) and vs the original, and the share of the image the local region covers. The
true region is :func:`~.evaluate._edited_outside`'s: the renderer's part masks (with and without the
attribute) plus every pixel the renderer itself changes, dilated by 1 px.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Optional, Sequence

import numpy as np
import torch

from chatface_widgets.engine.engine import Engine
from chatface_widgets.eval.options import heldout_parser
from chatface_widgets.photos import metrics as M
from chatface_widgets.eval.evaluate import (_as_array, _edited_outside, _identity_fn, attainable, attribute_pairs, default_oracle_folder,
                       jsonable, open_faces, texture_hit_rate, texture_shown)

VARIANTS = ("plain", "local")  # local=False, local=True
COLUMNS = ("hit_rate", "id", "preservation", "psnr_original", "sc", "sc_original", "region")
COMBOS = (("smile", "eyeglasses"), ("gray hair", "beard", "blue eyes"))


def local_report(engine: Engine, faces: int = 30, seed: int = 900, steps: Optional[int] = None, oracle=None,
                 attributes: Optional[Sequence[str]] = None, reach: Optional[float] = None,
                 images: Optional[list] = None, opened=None, variants: Sequence[str] = VARIANTS) -> dict:
    """Per-attribute metrics with local edits off and on (and for the COMBOS, each attribute's hit); JSON-ready."""
    from chatface_widgets.toy.oracle import load_oracle

    started = time.time()
    oracle = oracle if oracle is not None else load_oracle(default_oracle_folder(engine))
    steps = engine.contract.steps.or_default(steps)
    pairs = attribute_pairs(engine, attributes)
    names, keys = [n for n, _ in pairs], dict(pairs)
    combos = [c for c in COMBOS if all(a in keys for a in c)]
    ident = _identity_fn(oracle, None)
    opened = opened if opened is not None else open_faces(engine, faces, seed)
    values: dict[tuple, list] = {}

    def add(key, value):
        values.setdefault(key, []).append(float(value))

    for op in opened:
        face = op.face
        recon = face.render({}, steps=steps, local=False)
        original, rec = _as_array(op.truth.image), _as_array(recon)
        edits = [{n: 1.0} for n in names] + [dict.fromkeys(c, 1.0) for c in combos]
        row = {"original": op.truth.image, "reconstruction": recon}
        for variant in variants:
            local = variant == "local"
            out = face.render_many(edits, steps, sms=True, local=local, reach=reach)
            read = oracle.predict([recon] + out)
            ids = ident([recon] + out[: len(names)])
            for k, (name, key) in enumerate(pairs):
                img = _as_array(out[k])
                outside = _edited_outside(op, key)
                add((variant, name, "before"), read[key][0])
                add((variant, name, "after"), read[key][1 + k])
                add((variant, name, "id"), ids[k])
                add((variant, name, "preservation"), M.capped(M.masked_psnr(rec, img, outside)))
                add((variant, name, "psnr_original"), M.capped(M.masked_psnr(original, img, outside)))
                add((variant, name, "sc"), M.spatial_consistency(rec, img, outside))
                add((variant, name, "sc_original"), M.spatial_consistency(original, img, outside))
                add((variant, name, "texture"), texture_shown(op, key, out[k]))
                if local:
                    add((variant, name, "region"), float(face.region({name: 1.0}, steps, reach).gt(0).float().mean()))
                row[f"{name} {variant}"] = out[k]
            for c, combo in enumerate(combos):
                j = len(names) + c
                img = _as_array(out[j])
                outside = np.logical_and.reduce([_edited_outside(op, keys[a]) for a in combo])
                add((variant, "+".join(combo), "psnr_original"), M.capped(M.masked_psnr(original, img, outside)))
                for a in combo:
                    add((variant, "+".join(combo), a), read[keys[a]][1 + j])
        if images is not None:
            images.append(row)
    reach_ok = attainable(oracle, opened, list(keys.values()))
    result = {}
    for variant in variants:
        table = {}
        for name, key in pairs:
            before, after = np.asarray(values[(variant, name, "before")]), np.asarray(values[(variant, name, "after")])
            rate, n = M.hit_rate(before, after, attainable=reach_ok[key])
            shown = np.asarray(values[(variant, name, "texture")])
            table[name] = {"hit_rate": rate, "eligible_faces": n,
                           "texture_hit_rate": texture_hit_rate(before, after, shown, reach_ok[key]),
                           **{m: M.nanmean(values.get((variant, name, m), [])) for m in COLUMNS[1:]}}
        multi = {}
        for combo in combos:
            label = "+".join(combo)
            before = {a: np.asarray(values[(variant, a, "before")]) for a in combo}
            multi[label] = {"psnr_original": M.nanmean(values[(variant, label, "psnr_original")]),
                            **{a: M.hit_rate(before[a], np.asarray(values[(variant, label, a)]),
                                             attainable=reach_ok[keys[a]])[0] for a in combo}}
        result[variant] = {"attributes": table, "multi": multi}
    result["meta"] = {"model": engine.info.name, "faces": faces, "seed": seed, "steps": steps, "sms": True,
                      "reach": reach, "seconds": time.time() - started}
    return jsonable(result)


def _fmt(v) -> str:
    return "  n/a" if v is None else f"{v:5.3f}" if abs(v) < 10 else f"{v:5.1f}"


def summary(result: dict) -> str:
    """Markdown table: one row per attribute and variant."""
    lines = ["| attribute | local | hit | id | pres. vs recon (dB) | PSNR vs original (dB) | sc | sc vs original | region "
             "| hits showing the texture |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    variants = [v for v in VARIANTS if v in result]
    names = list(result[variants[0]]["attributes"])
    for name in names:
        for variant in variants:
            m = result[variant]["attributes"][name]
            lines.append(f"| {name} | {'on' if variant == 'local' else 'off'} | " +
                         " | ".join(_fmt(m[c]) for c in COLUMNS) + f" | {_fmt(m.get('texture_hit_rate'))} |")
    for label in result[variants[0]]["multi"]:
        for variant in variants:
            m = result[variant]["multi"][label]
            hits = ", ".join(f"{a} {_fmt(v)}" for a, v in m.items() if a != "psnr_original")
            lines.append(f"| {label} | {'on' if variant == 'local' else 'off'} | {hits} | | | "
                         f"{_fmt(m['psnr_original'])} | | | | |")
    return "\n".join(lines)


def main(argv=None) -> int:
    p = heldout_parser("local", __doc__, seed=900)
    p.add_argument("--reach", type=float, default=None, help="region reach (fraction of the side; default: the engine's)")
    p.add_argument("--json", type=Path, default=None)
    p.add_argument("--sheet", type=Path, default=None)
    p.add_argument("--sheet-faces", type=int, default=8)
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    engine = Engine.load(args.model, threads=args.threads)
    rows = [] if args.sheet else None
    result = local_report(engine, args.faces, args.seed, args.steps, reach=args.reach, images=rows)
    result["meta"]["command"] = "python -m chatface_widgets.eval.local " + " ".join(sys.argv[1:] if argv is None else argv)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    if args.sheet:
        from chatface_widgets.eval.sheet import save_sheet

        save_sheet(rows[: args.sheet_faces], args.sheet, scale=2)
    print(summary(result))
    print(f"{result['meta']['seconds']:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
