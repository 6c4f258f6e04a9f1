"""Class-mean directions in z for the toy world: Δz = mean z(with attribute) − mean z(without).

They are linear-direction attributes that need no text training (the counterpart of DiffAE's
latent classifier on the built-in model) and the probe for "does the decoder listen to z".
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import numpy as np
import torch

from chatface_widgets.models.diffae import DiffAE, load_diffae
from chatface_widgets.train.diffae_trainer import faces_to_tensor


@torch.no_grad()
def encode_faces(model: DiffAE, seeds, size: int, batch: int = 64) -> tuple[torch.Tensor, np.ndarray]:
    """z for rendered faces of the given seeds, with their attribute values (N, 8)."""
    from chatface_widgets.toy import render_batch

    zs, labels = [], []
    seeds = list(seeds)
    for lo in range(0, len(seeds), batch):
        images, attrs = render_batch(seeds[lo:lo + batch], size)
        zs.append(model.encode(faces_to_tensor(images)))
        labels.append(attrs)
    return torch.cat(zs), np.concatenate(labels)


def class_mean_directions(z: torch.Tensor, labels: np.ndarray, names) -> dict[str, torch.Tensor]:
    """For each attribute: mean z of faces where it is present (≥ 0.5) minus mean z where absent."""
    out = {}
    for j, name in enumerate(names):
        present = torch.from_numpy(labels[:, j] >= 0.5)
        if present.sum() < 5 or (~present).sum() < 5:
            raise ValueError(f"too few faces with/without {name!r} to estimate a direction")
        out[name] = z[present].mean(0) - z[~present].mean(0)
    return out


def save_directions(directions: dict[str, torch.Tensor], folder: Path, synonyms: dict | None = None, meta: dict | None = None) -> Path:
    """Write ``directions.safetensors`` + ``directions.json``; strength 1 moves z by the full difference."""
    from safetensors.torch import save_file

    tensors, card = {}, {"kind": "directions", "directions": {}, **(meta or {})}
    for i, (name, d) in enumerate(directions.items()):
        key = f"d{i}"
        tensors[key] = d.float().contiguous()
        card["directions"][name] = {"key": key, "amplitude": float(d.norm() / math.sqrt(d.numel())),
                                    "synonyms": list((synonyms or {}).get(name, ()))}
    folder.mkdir(parents=True, exist_ok=True)
    save_file(tensors, str(folder / "directions.safetensors"))
    (folder / "directions.json").write_text(json.dumps(card, indent=2) + "\n")
    return folder / "directions.safetensors"


def main(argv=None) -> None:
    from chatface_widgets.toy import ATTRIBUTES

    parser = argparse.ArgumentParser(description="Compute class-mean z directions for the toy attributes.")
    parser.add_argument("--model", type=Path, default=Path("weights/toy/diffae.safetensors"))
    parser.add_argument("--faces", type=int, default=2000, help="training faces to average over")
    parser.add_argument("--seed", type=int, default=12345)
    args = parser.parse_args(argv)
    model = load_diffae(args.model)
    rng = np.random.default_rng(args.seed)
    seeds = rng.integers(0, 1_000_000_000, size=args.faces).tolist()
    z, labels = encode_faces(model, seeds, model.config.image_size)
    directions = class_mean_directions(z, labels, ATTRIBUTES)
    meta = {"command": f"python -m chatface_widgets.train.directions --faces {args.faces} --seed {args.seed}",
            "faces": args.faces}
    print(save_directions(directions, args.model.parent, meta=meta))


if __name__ == "__main__":
    main()
