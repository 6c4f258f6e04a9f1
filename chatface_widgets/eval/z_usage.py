"""Does the decoder listen to z? Two probes of a toy DiffAE on held-out faces.

    python -m chatface_widgets.eval.z_usage --model weights/toy/diffae.safetensors

* x̂0 error per timestep: one denoising step of a noised face, with its own z and with another
  face's z, against the error of predicting the mean face. If own-z error is above the mean-face
  error at a noisy t, the decoder cannot draw a face from z there (random-x_T decodes fail).
* same-identity pairs without / with an attribute (the renderer changes nothing else): decode the
  first face's inverted x_T with the second face's z, decode both z from random x_T, and add the
  mean pair difference of z; the oracle says how often the attribute appears.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Optional, Sequence

import torch

from chatface_widgets.foundation.steps import alpha_bar_full
from chatface_widgets.diffusion.schedule import add_noise, predict_x0, to_eps
from chatface_widgets.engine.engine import Engine
from chatface_widgets.toy import HELDOUT_SEED_START, sample_params
from chatface_widgets.toy.oracle import Oracle, decode_outputs, load_oracle, render_tensor

PROBE_SEED_OFFSET = 900  # held-out faces HELDOUT_SEED_START + 900 … (apart from the eval's first faces)


@torch.no_grad()
def x0_error_by_timestep(engine: Engine, faces: int = 32, timesteps: Sequence[int] = (125, 250, 375, 500, 625, 750, 875, 950),
                         seed: int = 1) -> list[dict]:
    """Mean squared x̂0 error of one step at each t with the face's own z, a shuffled z, and the mean face."""
    size, prediction = engine.image_size, engine.model.config.prediction
    x0 = render_tensor([sample_params(HELDOUT_SEED_START + PROBE_SEED_OFFSET + i) for i in range(faces)], size)
    x0 = x0.to(engine.device)
    z = engine.encode(x0, fast=False)
    shuffled = z.roll(1, dims=0)
    mean_face = float(((x0 - x0.mean(0)) ** 2).mean())
    alpha_bar = alpha_bar_full()
    gen = torch.Generator().manual_seed(seed)
    rows = []
    for t in timesteps:
        ab = float(alpha_bar[t])
        x_t = add_noise(x0, torch.randn(x0.shape, generator=gen).to(x0.device), ab)
        tt = torch.full((faces,), int(t), dtype=torch.int64, device=x0.device)
        errors = {}
        for name, code in (("own_z", z), ("shuffled_z", shuffled)):
            with engine.compute():
                out = engine.model(x_t, tt, code)
            x0_hat = predict_x0(x_t, to_eps(out, x_t, ab, prediction), ab)
            errors[name] = float(((x0_hat - x0) ** 2).mean())
        rows.append({"t": int(t), **errors, "mean_face": mean_face})
    return rows


@torch.no_grad()
def pair_report(engine: Engine, oracle: Oracle, attribute: str = "eyeglasses", faces: int = 40, steps: int = 20,
                seed: int = 0, scales: Sequence[float] = (1.0, 2.0)) -> dict:
    """Fractions of same-identity pairs where the oracle sees ``attribute`` after z swaps and pair-mean moves."""
    params = [sample_params(HELDOUT_SEED_START + PROBE_SEED_OFFSET + 100 + i) for i in range(faces)]
    params = [p for p in params if p.attributes[attribute] < 0.3]
    size = engine.image_size
    x_without = render_tensor([p.with_attributes({attribute: 0.0}) for p in params], size)
    x_with = render_tensor([p.with_attributes({attribute: 1.0}) for p in params], size)

    def seen(x: torch.Tensor) -> float:
        return float((decode_outputs(oracle(x))[attribute] >= 0.5).mean())

    x_without, x_with = x_without.to(engine.device), x_with.to(engine.device)
    z_without, z_with = engine.encode(x_without, fast=False), engine.encode(x_with, fast=False)
    x_T = engine.invert(x_without, z_without, steps, fast=False)
    noise = torch.randn(x_T.shape, generator=torch.Generator().manual_seed(seed)).to(engine.device)

    def decode(x_T: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        return engine.decode(x_T, z, steps, fast=False)

    pair_mean = (z_with - z_without).mean(0, keepdim=True)
    report = {"attribute": attribute, "pairs": len(params), "steps": steps,
              "renders_without": seen(x_without), "renders_with": seen(x_with),
              "reconstruction_without": seen(decode(x_T, z_without)),
              "inverted_xT_with_z_of_with": seen(decode(x_T, z_with)),
              "random_xT_z_with": seen(decode(noise, z_with)),
              "random_xT_z_without": seen(decode(noise, z_without)),
              "pair_difference_over_z_norm": float(((z_with - z_without).norm(dim=1) / z_without.norm(dim=1)).mean())}
    for s in scales:
        report[f"inverted_xT_plus_{s:g}x_pair_mean"] = seen(decode(x_T, z_without + s * pair_mean))
    return report


def main(argv: Optional[Sequence[str]] = None) -> int:
    p = argparse.ArgumentParser(description="Probe how much a toy DiffAE's decoder uses z.")
    p.add_argument("--model", type=Path, default=Path("weights/toy/diffae.safetensors"))
    p.add_argument("--oracle", type=Path, default=None, help="folder with oracle.safetensors (default: beside the model)")
    p.add_argument("--attribute", default="eyeglasses")
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--json", type=Path, default=None)
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    engine = Engine.load(args.model, device="cpu", align=False, speed="off", threads=None)
    oracle = load_oracle(args.oracle or args.model.parent)
    result = {"x0_error": x0_error_by_timestep(engine), "pairs": pair_report(engine, oracle, args.attribute,
                                                                           steps=engine.model.config.default_steps)}
    print(" t    own z   shuffled z   mean face")
    for row in result["x0_error"]:
        print(f"{row['t']:4d}  {row['own_z']:.4f}  {row['shuffled_z']:.4f}      {row['mean_face']:.4f}")
    print(json.dumps(result["pairs"], indent=1))
    if args.json:
        args.json.write_text(json.dumps(result, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
