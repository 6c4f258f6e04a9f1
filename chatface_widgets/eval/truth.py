"""Edits against the true picture: the toy renderer's own image of the same face with the attribute at 1.

    python -m chatface_widgets.eval.truth --faces 30 --seed 47000 --json truth.json

Per attribute, on held-out faces that lack it (ground-truth label absent) and that can carry it (the
oracle reads the true picture present), at the model's default steps with SMS, once with local edits
off and once with the default ``local="auto"``:

* ``psnr_blur``: PSNR between edit and true picture inside the attribute's region, both blurred with a
  Gaussian of σ = 1 px (so the phase of curls does not count); ``psnr``: the same without the blur;
* ``speckle``: RMS of the high-pass chroma (chroma minus its σ = 1 blur) in the region, edit over true
  picture (1.0: as much colour noise as the real thing; see :func:`speckle`);
* ``hit``: the oracle hit rate on the same faces (as ``chatface eval``);
* ``remove_psnr``: strength −1 on faces without the attribute (nothing to remove), whole-image PSNR to
  the mode's own zero edit (the photo with local edits, the reconstruction without);
* ``quarter_up`` / ``quarter_down``: how far the oracle reading moves at +0.25 (faces without) and
  −0.25 (faces with the attribute), as a share of what ±1 moves it; the goal is ≥ 0.25.

The region is :func:`~.evaluate._edited_outside`'s complement: the renderer's part masks with and
without the attribute plus every pixel the renderer changes, dilated by 1 px. ``recon_psnr_blur`` is
the reconstruction against the photo in the same region: the ceiling the model's 48 px decode sets.
"""

from __future__ import annotations

import json
import math
import sys
import time
from pathlib import Path
from typing import Optional, Sequence

import numpy as np
import torch

from chatface_widgets.foundation.steps import check_steps
from chatface_widgets.eval.options import heldout_parser
from chatface_widgets.photos import metrics as M
from chatface_widgets.eval.evaluate import (_as_array, _edited_outside, attainable, attribute_pairs,
                                            default_oracle_folder, jsonable, open_faces)

TRUTH_SEED = 47_000  # default held-out offset of this report: HELDOUT_SEED_START + 47000 + i, never used before
MODES = ("off", "auto")  # the two named columns: local edits off, and the engine's default
REMOVABLE = ("beard", "eyeglasses", "red lipstick", "curly hair")  # "remove it" on faces without it
QUARTER = 0.25  # the small strength checked in both directions
BLUR_SIGMA = 1.0  # px, the blur before psnr_blur
GOALS = {"psnr_blur": 28.0, "remove_psnr": 35.0, "speckle": 1.0, "quarter": 0.25, "hit": 0.9}
COLUMNS = ("hit", "psnr_blur", "psnr", "speckle", "remove_psnr", "quarter_up", "quarter_down", "faces")


def gaussian_blur(image: np.ndarray, sigma: float = BLUR_SIGMA) -> np.ndarray:
    """Separable Gaussian blur of an (H, W[, C]) array, edges reflected, radius 3σ."""
    if sigma <= 0:
        return np.asarray(image, np.float64).copy()
    r = max(1, int(math.ceil(3 * sigma)))
    k = np.exp(-0.5 * (np.arange(-r, r + 1) / sigma) ** 2)
    k /= k.sum()
    out = np.asarray(image, np.float64)
    for axis in (0, 1):
        pad = [(0, 0)] * out.ndim
        pad[axis] = (r, r)
        padded = np.pad(out, pad, mode="reflect")
        n = out.shape[axis]
        out = sum(w * np.take(padded, range(i, i + n), axis=axis) for i, w in enumerate(k))
    return out


def chroma(image: np.ndarray) -> np.ndarray:
    """Colour-difference channels (R − Y, B − Y) of an (H, W, 3) image in [0, 1] (Y: BT.601 luma)."""
    image = np.asarray(image, np.float64)
    y = image @ np.array([0.299, 0.587, 0.114])
    return np.stack([image[..., 0] - y, image[..., 2] - y], -1)


def speckle(image: np.ndarray, mask: np.ndarray, sigma: float = BLUR_SIGMA) -> float:
    """Colour noise: RMS of chroma minus its σ-blur over the (H, W) mask; nan for an empty mask."""
    mask = np.asarray(mask, bool)
    if not mask.any():
        return math.nan
    c = chroma(image)
    high = c - gaussian_blur(c, sigma)
    return float(np.sqrt((high[mask] ** 2).mean()))


def region_psnr(edit: np.ndarray, target: np.ndarray, mask: np.ndarray, sigma: float = 0.0) -> float:
    """PSNR between two images inside the mask, after a Gaussian blur of σ (0: none), capped."""
    if sigma > 0:
        edit, target = gaussian_blur(edit, sigma), gaussian_blur(target, sigma)
    return M.capped(M.masked_psnr(edit, target, mask))


def quarter_share(zero: np.ndarray, quarter: np.ndarray, full: np.ndarray) -> float:
    """mean(quarter − zero) / mean(full − zero): the share of the full move a quarter strength makes (nan: no move)."""
    zero, quarter, full = (np.asarray(a, np.float64) for a in (zero, quarter, full))
    if zero.size == 0:
        return math.nan
    whole = float((full - zero).mean())
    return float((quarter - zero).mean()) / whole if abs(whole) > 1e-6 else math.nan


def _face_edits(op, pairs) -> tuple[list[dict], list[tuple]]:
    """The edits one face needs and what each is: (name, strength) per row after row 0 (no edit)."""
    edits, tags = [{}], [("", 0.0)]
    for name, key in pairs:
        absent = op.params.attributes[key] < 0.5
        strengths = (1.0, QUARTER) + ((-1.0,) if key in REMOVABLE else ()) if absent else (-1.0, -QUARTER)
        for s in strengths:
            edits.append({name: s})
            tags.append((name, s))
    return edits, tags


def truth_report(engine, faces: int = 30, seed: int = TRUTH_SEED, steps: Optional[int] = None, oracle=None,
                 attributes: Optional[Sequence[str]] = None, modes: Sequence[str] = MODES,
                 images: Optional[list] = None, opened=None, sms: bool = True) -> dict:
    """Per attribute and local mode: distance to the true picture, speckle, removal and ±0.25 (module doc); JSON-ready."""
    from chatface_widgets.toy.oracle import load_oracle

    started = time.time()
    oracle = oracle if oracle is not None else load_oracle(default_oracle_folder(engine))
    steps = check_steps(engine.info.default_steps if steps is None else steps)
    pairs = attribute_pairs(engine, attributes)
    opened = opened if opened is not None else open_faces(engine, faces, seed)
    reach = attainable(oracle, opened, [k for _, k in pairs])
    vals: dict[tuple, list] = {}

    def add(key, value):
        vals.setdefault(key, []).append(float(value))

    for i, op in enumerate(opened):
        photo = _as_array(op.truth.image)
        edits, tags = _face_edits(op, pairs)
        row = {"original": op.truth.image}
        for mode in modes:
            out = op.face.render_many(edits, steps, sms=sms, local=mode)
            read = oracle.predict(out)
            zero = _as_array(out[0])
            if mode == "off":
                row["reconstruction"] = out[0]
            for j, (name, s) in enumerate(tags[1:], 1):
                key = dict(pairs)[name]
                img = _as_array(out[j])
                if s == 1.0 and reach[key][i]:
                    true = _as_array(op.drawn_with(key).image)
                    region = ~_edited_outside(op, key)
                    add((mode, name, "psnr_blur"), region_psnr(img, true, region, BLUR_SIGMA))
                    add((mode, name, "psnr"), region_psnr(img, true, region))
                    add((mode, name, "speckle_edit"), speckle(img, region))
                    add((mode, name, "speckle_true"), speckle(true, region))
                    add((mode, name, "before"), read[key][0])
                    add((mode, name, "after"), read[key][j])
                    add((mode, name, "up_zero"), read[key][0])
                    add((mode, name, "up_full"), read[key][j])
                    add((mode, name, "up_quarter"), read[key][tags.index((name, QUARTER))])
                    if mode == "off":
                        add(("recon", name, "psnr_blur"), region_psnr(zero, photo, region, BLUR_SIGMA))
                        add(("recon", name, "psnr"), region_psnr(zero, photo, region))
                    row[f"{name} {mode}"] = out[j]
                    row[f"{name} true"] = op.drawn_with(key).image
                elif s == -1.0 and op.params.attributes[key] < 0.5:
                    add((mode, name, "remove_psnr"), M.capped(M.psnr(img, zero)))
                    add((mode, name, "remove_psnr_photo"), M.capped(M.psnr(img, photo)))
                elif s == -1.0 and read[key][0] >= M.THRESHOLD:
                    add((mode, name, "down_zero"), read[key][0])
                    add((mode, name, "down_full"), read[key][j])
                    add((mode, name, "down_quarter"), read[key][tags.index((name, -QUARTER))])
        if images is not None:
            images.append(row)
    result = {mode: {name: _summary(vals, mode, name) for name, _ in pairs} for mode in modes}
    result["reconstruction"] = {name: {m: M.nanmean(vals.get(("recon", name, m), [])) for m in ("psnr_blur", "psnr")}
                                for name, _ in pairs}
    result["meta"] = {"model": engine.info.name, "faces": len(opened), "seed": seed, "steps": steps, "sms": sms,
                      "modes": list(modes), "blur_sigma": BLUR_SIGMA, "goals": GOALS, "seconds": time.time() - started}
    return jsonable(result)


def _summary(vals: dict, mode: str, name: str) -> dict:
    """One attribute's row for one mode from the collected per-face values."""
    get = lambda m: np.asarray(vals.get((mode, name, m), []), np.float64)  # noqa: E731
    before, after = get("before"), get("after")
    true_speckle = M.nanmean(get("speckle_true"))
    return {"hit": M.hit_rate(before, after)[0] if before.size else math.nan,
            "psnr_blur": M.nanmean(get("psnr_blur")), "psnr": M.nanmean(get("psnr")),
            "speckle": M.nanmean(get("speckle_edit")) / true_speckle if true_speckle > 0 else math.nan,
            "speckle_edit": M.nanmean(get("speckle_edit")), "speckle_true": true_speckle,
            "remove_psnr": M.nanmean(get("remove_psnr")), "remove_psnr_photo": M.nanmean(get("remove_psnr_photo")),
            "remove_faces": int(get("remove_psnr").size),
            "quarter_up": quarter_share(get("up_zero"), get("up_quarter"), get("up_full")),
            "quarter_down": quarter_share(get("down_zero"), get("down_quarter"), get("down_full")),
            "faces": int(before.size), "faces_down": int(get("down_zero").size)}


def sheet_columns(result: dict) -> list[str]:
    """Sheet column order: the photo, the reconstruction, then per attribute its edits (each mode) and the true picture."""
    modes = result["meta"]["modes"]
    return ["original", "reconstruction"] + [f"{name} {c}" for name in result[modes[0]] for c in (*modes, "true")]


def _fmt(v) -> str:
    return "n/a" if v is None or (isinstance(v, float) and math.isnan(v)) else str(v) if isinstance(v, int) else f"{v:.2f}" if abs(v) < 10 else f"{v:.1f}"


def summary(result: dict) -> str:
    """Markdown table: one row per attribute and local mode, plus the reconstruction's ceiling."""
    modes = result["meta"]["modes"]
    lines = ["| attribute | local | hit | vs true, blurred (dB) | vs true (dB) | speckle (edit / true) | remove where "
             "absent (dB) | +0.25 share | −0.25 share | faces | recon, blurred (dB) |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for name in result[modes[0]]:
        for mode in modes:
            m = result[mode][name]
            lines.append(f"| {name} | {mode} | " + " | ".join(_fmt(m[c]) for c in COLUMNS) +
                         f" | {_fmt(result['reconstruction'][name]['psnr_blur'])} |")
    return "\n".join(lines)


def main(argv=None) -> int:
    """Run the report from the command line."""
    p = heldout_parser("truth", __doc__, seed=TRUTH_SEED)
    p.add_argument("--mappers", type=Path, default=None, help="a folder of mappers to use instead of the model's")
    p.add_argument("--attributes", default=None, help="comma-separated attributes (default: all the oracle reads)")
    p.add_argument("--no-sms", action="store_true", help="z_edit at every step instead of SMS (an ablation)")
    p.add_argument("--json", type=Path, default=None)
    p.add_argument("--sheet", type=Path, default=None)
    p.add_argument("--sheet-faces", type=int, default=8)
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    from chatface_widgets.engine.engine import Engine

    engine = Engine.load(args.model, threads=args.threads, mappers=args.mappers)
    rows = [] if args.sheet else None
    attributes = [a.strip() for a in args.attributes.split(",")] if args.attributes else None
    result = truth_report(engine, args.faces, args.seed, args.steps, images=rows, attributes=attributes,
                          sms=not args.no_sms)
    result["meta"]["command"] = "python -m chatface_widgets.eval.truth " + " ".join(sys.argv[1:] if argv is None else argv)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    if args.sheet:
        from chatface_widgets.eval.sheet import save_sheet

        save_sheet(rows[: args.sheet_faces], args.sheet, scale=2, columns=sheet_columns(result))
    print(summary(result))
    print(f"{result['meta']['seconds']:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
