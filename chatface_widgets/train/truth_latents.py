"""OPTION, built-in world only: a mapper regressed onto the true picture's code, decoded without SMS.

    chatface train-mapper --model toy --attribute "gray hair" --target "a face with gray hair" --truth-latent
    python -m chatface_widgets.train.truth_latents --out weights/toy/mappers --only "gray hair" "pale skin"
    python -m chatface_widgets.train.truth_latents --out weights/toy/mappers --only beard --remove-only --curve 0.5

This is not ChatFace's recipe (preservation + identity + CLIP direction through the SMS decoder,
:func:`~.mapper_trainer.train_mapper`); it needs the toy renderer's true pictures, so it exists
only for the built-in world. For training faces x0 (seeds below HELDOUT_SEED_START) and their true
pictures x1 (the same face rendered with the attribute at 1), it fits the mapper
M(z) ≈ Enc(x1) − Enc(x0) by mean squared error (no decoding, about 30 s per attribute on one core).

Decoded with SMS (ChatFace Eq. 13) that step barely shows: the photo's inverted x_T holds the old
colours and the late steps see z again. So the card says ``"sms": false``: the engine conditions
every step on z + s·M(z) for this attribute (``Face._base``) and keeps SMS for the others.

Signed by default (models.mapper.SignedMapper): a second mapper fits Enc(x0) − z, x0 the face
without the attribute, for negative strengths; it is no step where the attribute is absent, so
"remove the glasses" leaves a face without glasses alone. ``--remove-only`` gives a mapper already
in ``--out`` (a ChatFace-recipe one) that removal half and keeps its add half and SMS for adding.
``--curve γ`` writes the card's strength curve.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Optional, Sequence

import torch

from chatface_widgets.models.mapper import MLPMapper, SignedMapper, save_mapper

POOL_SEED_BASE = 705_000_000  # training faces: seeds [base + 10^6·seed, …), below HELDOUT_SEED_START
HOLDOUT_SHARE = 0.1  # the last tenth of the pool scores the fit (validation MSE on the card)


@torch.no_grad()
def code_pairs(engine, attribute: str, n: int, seed: int = 0, chunk: int = 256,
               value: float = 1.0) -> tuple[torch.Tensor, torch.Tensor]:
    """(z, Enc(true picture) − z) for n training faces of the toy world; the true picture has the attribute at ``value``."""
    from chatface_widgets.photos.photo import to_tensor
    from chatface_widgets.toy import HELDOUT_SEED_START, render_face, sample_params

    start = POOL_SEED_BASE + 1_000_000 * seed
    assert start + n < HELDOUT_SEED_START
    params = [sample_params(s) for s in range(start, start + n)]
    size = engine.image_size

    def encode(images):
        x = torch.cat([to_tensor(im) for im in images]).to(engine.device)
        return torch.cat([engine.encode(x[i:i + chunk], fast=False) for i in range(0, n, chunk)])

    z = encode([render_face(p, size).image for p in params])
    z_true = encode([render_face(p.with_attributes({attribute: value}), size).image for p in params])
    return z, z_true - z


def fit_mapper(z: torch.Tensor, target: torch.Tensor, iters: int = 3000, lr: float = 1e-3, batch: int = 128,
               seed: int = 0, name: str = "") -> tuple[MLPMapper, dict]:
    """Adam on mean |M(z) − target|² over the first 90 % of rows; the record holds train and held-out MSE."""
    torch.manual_seed(seed)
    mapper = MLPMapper(z.shape[1], name=name).to(z.device)
    opt = torch.optim.Adam(mapper.parameters(), lr=lr)
    n_fit = max(1, int(len(z) * (1 - HOLDOUT_SHARE)))
    gen = torch.Generator().manual_seed(seed)
    loss = torch.zeros(())
    for _ in range(iters):
        idx = torch.randint(n_fit, (batch,), generator=gen).to(z.device)
        loss = ((mapper(z[idx]) - target[idx]) ** 2).sum(-1).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    with torch.no_grad():
        held = ((mapper(z[n_fit:]) - target[n_fit:]) ** 2).sum(-1).mean().item() if n_fit < len(z) else float("nan")
        energy = (target[n_fit:] ** 2).sum(-1).mean().item() if n_fit < len(z) else float("nan")
    return mapper.eval(), {"train_mse": round(loss.item(), 5), "heldout_mse": round(held, 5),
                           "heldout_target_energy": round(energy, 5), "faces": len(z), "fit_faces": n_fit}


def train_truth_latent(engine, attribute: str, out_dir, synonyms: Sequence[str] = (), targets=(), sources=(),
                       faces: int = 2000, iters: int = 3000, seed: int = 0, command: str = "",
                       scale: float = 1.0, signed: bool = True, curve=1.0) -> dict:
    """Fit and write one truth-latent mapper (card ``"sms": false``, ``"recipe": "truth-latent"``); its card.

    ``scale`` k fits M(z) ≈ k·(Enc(x1) − z): past the true picture's code, for an attribute the decoder
    draws fainter than z asks (k = 1: the true picture's code itself). ``signed``: a second mapper
    fits k·(Enc(x0) − z), x0 the face without the attribute, for negative strengths (models.mapper.SignedMapper).
    ``curve``: the card's strength curve γ (a slider at s moves by |s|^γ of the step), or (γ add, γ remove).
    """
    started = time.time()
    z, target = code_pairs(engine, attribute, faces, seed)
    mapper, record = fit_mapper(z, scale * target, iters, seed=seed, name=attribute)
    if signed:
        _, away = code_pairs(engine, attribute, faces, seed, value=0.0)
        remove, removal = fit_mapper(z, scale * away, iters, seed=seed + 1, name=attribute)
        mapper = SignedMapper(mapper, remove, name=attribute)
        record = {**record, "remove": removal}
    card = {"attribute": attribute, "synonyms": list(synonyms),
            "prompts": {"target": list(targets), "source": list(sources)},
            "sms": False, "recipe": "truth-latent", "recommended_strength": 1.0,  # s = 1 is the true picture's code
            **_curve_field(curve),
            "model": {"name": engine.info.name, "file": Path(str(engine.info.path)).name, "z_channels": z.shape[1],
                      "image_size": engine.image_size},
            "training": {"option": "truth-latent (built-in world only; not ChatFace's recipe)",
                         "loss": "mean |M(z) - (Enc(true picture) - z)|^2" + (
                             "; remove: mean |M-(z) - (Enc(picture without it) - z)|^2" if signed else ""), "optimizer": "Adam", "lr": 1e-3,
                         "batch": 128, "iterations": iters, "seed": seed, "target_scale": scale, "pool_seeds": f"{POOL_SEED_BASE}+",
                         **record, "seconds": round(time.time() - started, 1), "command": command}}
    from chatface_widgets.train.mapper_trainer import mapper_file_name

    path = save_mapper(mapper.cpu(), Path(out_dir) / f"{mapper_file_name(attribute)}.safetensors", card)
    return {"path": str(path), "card": card}


def _curve_field(curve) -> dict:
    """The card's ``strength_curve`` for γ or (γ add, γ remove); nothing when linear."""
    add, remove = curve if isinstance(curve, (tuple, list)) else (curve, curve)
    if add == remove:
        return {} if add == 1.0 else {"strength_curve": add}
    return {"strength_curve": {"add": add, "remove": remove}}


def add_removal(engine, attribute: str, out_dir, faces: int = 2000, iters: int = 3000, seed: int = 0,
                command: str = "", scale: float = 1.0, curve=1.0) -> dict:
    """Give the mapper already in ``out_dir`` a truth-latent removal half (a SignedMapper); its card.

    Its add half and card stay (a ChatFace-recipe mapper keeps SMS for adding, ``"sms": {"add": true,
    "remove": false}``); the removal half fits k·(Enc(x0) − z) as in :func:`train_truth_latent`.
    """
    from chatface_widgets.models.mapper import load_mapper
    from chatface_widgets.train.mapper_trainer import mapper_file_name

    started = time.time()
    path = Path(out_dir) / f"{mapper_file_name(attribute)}.safetensors"
    add, card = load_mapper(path)
    add = add.add if isinstance(add, SignedMapper) else add
    z, away = code_pairs(engine, attribute, faces, seed, value=0.0)
    remove, record = fit_mapper(z, scale * away, iters, seed=seed + 1, name=attribute)
    card = {k: v for k, v in card.items() if k not in ("kind", "z_channels", "num_layers", "signed")}
    old_sms = card.get("sms")
    old_add = old_sms.get("add", True) if isinstance(old_sms, dict) else old_sms
    card["sms"] = {"add": old_add if isinstance(old_add, bool) else True, "remove": False}
    card.pop("strength_curve", None)
    card.update(_curve_field(curve))
    card["remove_training"] = {"option": "truth-latent removal half (built-in world only)",
                               "loss": "mean |M-(z) - (Enc(picture without it) - z)|^2", "optimizer": "Adam",
                               "iterations": iters, "seed": seed + 1, "target_scale": scale,
                               "pool_seeds": f"{POOL_SEED_BASE}+", **record,
                               "seconds": round(time.time() - started, 1), "command": command}
    save_mapper(SignedMapper(add, remove.cpu(), name=attribute), path, card)
    return {"path": str(path), "card": card}


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Fit truth-latent mappers for a model's recipes (default: every attribute that moves z)."""
    import sys

    p = argparse.ArgumentParser(prog="python -m chatface_widgets.train.truth_latents", description=__doc__.splitlines()[0])
    p.add_argument("--out", required=True, help="mapper folder")
    p.add_argument("--only", nargs="*", help="attributes (default: every recipe whose edit moves z)")
    p.add_argument("--faces", type=int, default=2000)
    p.add_argument("--iters", type=int, default=3000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--scale", type=float, default=1.0, help="fit k·(Enc(true picture) − z) (default 1)")
    p.add_argument("--unsigned", action="store_true", help="one mapper for both signs (removal steps back along it)")
    p.add_argument("--remove-only", action="store_true",
                   help="keep each mapper already in --out and fit only its removal half (a signed mapper)")
    p.add_argument("--curve", type=float, default=1.0, help="the card's strength curve γ (default 1: linear)")
    p.add_argument("--curve-remove", type=float, default=None, help="γ for negative strengths (default: --curve)")
    p.add_argument("--threads", type=int, default=None)
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    from chatface_widgets.engine.engine import Engine
    from chatface_widgets.train.recipes import RecipeBook

    engine = Engine.load("toy", align=False)
    command = "python -m chatface_widgets.train.truth_latents " + " ".join(sys.argv[1:] if argv is None else argv)
    curve = (args.curve, args.curve if args.curve_remove is None else args.curve_remove)
    for r in RecipeBook.for_engine(engine).select(args.only):  # mappers, also where the model paints the attribute
        if args.remove_only:
            res = add_removal(engine, r.attribute, args.out, args.faces, args.iters, args.seed, command, args.scale,
                              curve)
            record = res["card"]["remove_training"]
        else:
            res = train_truth_latent(engine, r.attribute, args.out, r.synonyms, [r.target], [r.source], args.faces,
                                     args.iters, args.seed, command, args.scale, not args.unsigned, curve)
            record = res["card"]["training"]
        print(json.dumps({"path": res["path"], **{k: record[k] for k in ("train_mse", "heldout_mse",
                                                                         "heldout_target_energy")}}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
