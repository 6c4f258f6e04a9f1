"""Where edits lose the true picture: the same faces decoded from codes that rule suspects in or out.

    python -m chatface_widgets.eval.truth_suspects --faces 12 --seed 41000 --json suspects.json --mappers COPY
    python -m chatface_widgets.eval.truth_suspects --ceiling "gray hair" --faces 6 --seed 41000

Per attribute, on held-out faces without it that can carry it, each variant is scored like
:mod:`.truth` (PSNR to the true picture in the region, blurred σ = 1 and not, speckle over the true
picture's, the oracle's reading), with local edits off:

* ``mapper``: the model's own mapper at s = 1 (its card's schedule);
* ``ztrue_sms`` / ``ztrue_const``: the code of the true picture itself, Enc(x1), decoded from the
  photo's inverted x_T with SMS (Eq. 13) / at every step: what any mapper of z could reach;
* ``truth_recon``: the true picture inverted and decoded (the model's 48 px ceiling);
* ``clip``: the toy CLIP's directional cosine (StyleGAN-NADA) of the mapper's edit and of the true
  picture: whether the judge that trains the mappers prefers the real thing.

``--ceiling``: the best step per face (Adam on |D(z + Δ) − x1|₁, no mapper) under SMS and at every
step: whether the schedule itself can reach the picture, given x_T.

Only attributes whose edit moves z are judged; the built-in model's texture-only painters move none,
so give ``--mappers`` a copy of its ``mappers/`` folder (a mapper from outside the model's folder
takes over from its painter).
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Optional

import numpy as np
import torch

from chatface_widgets.diffusion import conditioning
from chatface_widgets.photos.photo import to_pil, to_tensor
from chatface_widgets.eval.evaluate import _as_array, _edited_outside, attainable, default_oracle_folder, open_faces
from chatface_widgets.eval.truth import BLUR_SIGMA, region_psnr, speckle


def _score(image, op, attribute: str) -> dict:
    """PSNR (blurred and not) and speckle ratio of one image against the face's true picture, in the region."""
    a, true = _as_array(image), _as_array(op.drawn_with(attribute).image)
    region = ~_edited_outside(op, attribute)
    return {"psnr_blur": region_psnr(a, true, region, BLUR_SIGMA), "psnr": region_psnr(a, true, region),
            "speckle": speckle(a, region) / max(speckle(true, region), 1e-9)}


def _eligible(engine, oracle, opened):
    """{attribute: [faces without it that can carry it]}."""
    names = [n for n in engine.attributes if engine.moves_z(n)]
    reach = attainable(oracle, opened, names)
    return {n: [op for i, op in enumerate(opened) if op.params.attributes[n] < 0.5 and reach[n][i]] for n in names}


@torch.no_grad()
def suspects(engine, faces: int = 12, seed: int = 41000, steps: Optional[int] = None) -> dict:
    """Mean scores per attribute and variant (module doc); JSON-ready."""
    from chatface_widgets.toy.oracle import load_oracle
    from chatface_widgets.train.judges import load_toy_judges
    from chatface_widgets.train.losses import text_direction, unit

    folder = default_oracle_folder(engine)
    oracle, (clip, _) = load_oracle(folder), load_toy_judges(folder)
    steps = steps or engine.info.default_steps
    out = {}
    for name, ops in _eligible(engine, oracle, open_faces(engine, faces, seed)).items():
        rows: dict = {}
        phrase = f"a face with {'a ' if name in ('smile', 'beard') else ''}{name}"
        text = text_direction(clip, [phrase], ["a face"])
        for op in ops:
            truth = op.drawn_with(name).image
            x1 = to_tensor(truth).to(engine.device)
            z1 = engine.encode(x1, fast=False)
            x_T, z = op.face.noise(steps), op.face.z
            recon = op.face.render({}, steps=steps, local="off")
            images = {"mapper": op.face.render({name: 1.0}, steps=steps, local="off"),
                      "ztrue_sms": to_pil(engine.decode(x_T, conditioning.sms(z, z1), steps))[0],
                      "ztrue_const": to_pil(engine.decode(x_T, z1, steps))[0],
                      "truth_recon": to_pil(engine.decode(engine.invert(x1, z1, steps), z1, steps))[0]}
            for variant, image in images.items():
                scores = _score(image, op, name) | {"oracle": float(oracle.predict([image])[name][0])}
                for k, v in scores.items():
                    rows.setdefault((variant, k), []).append(v)
            e = clip.encode_image(torch.cat([to_tensor(im) for im in (recon, images["mapper"], truth)]))
            for k, j in (("clip_dir_mapper", 1), ("clip_dir_truth", 2)):
                rows.setdefault(("clip", k), []).append(float((unit(e[j] - e[0]) * text).sum()))
        table: dict = {"faces": len(ops)}
        for (variant, k), v in rows.items():
            table.setdefault(variant, {})[k] = round(float(np.nanmean(v)), 3)
        out[name] = table
    return out


def ceiling(engine, attribute: str, faces: int = 6, seed: int = 41000, iters: int = 40, lr: float = 0.05,
            steps: Optional[int] = None) -> dict:
    """Best Δz per face (Adam on |D(z + Δz) − x1|₁ from Enc(x1) − z) under SMS and at every step; mean scores."""
    from chatface_widgets.toy.oracle import load_oracle

    steps = steps or engine.info.default_steps
    oracle = load_oracle(default_oracle_folder(engine))
    ops = _eligible(engine, oracle, open_faces(engine, faces * 3, seed))[attribute][:faces]
    x_T = torch.cat([op.face.noise(steps) for op in ops])
    z = torch.cat([op.face.z for op in ops])
    x1 = torch.cat([to_tensor(op.drawn_with(attribute).image) for op in ops]).to(engine.device)
    start = engine.encode(x1, fast=False) - z
    out = {"attribute": attribute, "faces": len(ops), "iters": iters}
    for schedule in ("sms", "constant"):
        step = start.clone().requires_grad_(True)
        opt = torch.optim.Adam([step], lr=lr)
        codes = lambda: conditioning.sms(z, z + step) if schedule == "sms" else conditioning.constant(z + step)  # noqa: E731
        for _ in range(iters):
            loss = (engine.decode_differentiable(x_T, codes(), steps, checkpoint=False) - x1).abs().mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
        with torch.no_grad():
            images = to_pil(engine.decode(x_T, codes(), steps))
        scores = [_score(im, op, attribute) for im, op in zip(images, ops)]
        out[schedule] = {k: round(float(np.mean([s[k] for s in scores])), 3) for k in scores[0]}
        out[schedule]["step_norm"] = round(float(step.detach().norm(dim=-1).mean()), 3)
    return out


def main(argv=None) -> int:
    """Run the suspects table (or one attribute's ceiling) and print JSON."""
    p = argparse.ArgumentParser(prog="python -m chatface_widgets.eval.truth_suspects", description=__doc__.splitlines()[0])
    p.add_argument("--model", default="toy")
    p.add_argument("--faces", type=int, default=12)
    p.add_argument("--seed", type=int, default=41000)
    p.add_argument("--ceiling", default=None, help="an attribute: run the best-step ceiling instead")
    p.add_argument("--json", default=None)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--mappers", default=None, help="a folder of mappers to judge (a copy of the model's: the built-in "
                                                    "model draws every attribute with a painter, which moves no z)")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    from chatface_widgets.engine.engine import Engine

    engine = Engine.load(args.model, threads=args.threads, mappers=args.mappers)
    result = ceiling(engine, args.ceiling, args.faces, args.seed) if args.ceiling else suspects(engine, args.faces, args.seed)
    result = {"result": result, "command": "python -m chatface_widgets.eval.truth_suspects " +
              " ".join(sys.argv[1:] if argv is None else argv)}
    text = json.dumps(result, indent=1)
    if args.json:
        with open(args.json, "w") as fh:
            fh.write(text + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
