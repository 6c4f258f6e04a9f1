"""A small identity network for the toy face world, the stand-in for ArcFace IR-SE50 in the ID loss.

Two renders of the same identity parameters under independently drawn attributes are the same
person; the net learns unit embeddings with InfoNCE between the two views over a batch of fresh
identities (SimCLR-style contrastive loss with label views, Chen et al. 2020, Eq. 1). Fresh identity
seeds every step, so there is no fixed class list to overfit.

Train: ``python -m chatface_widgets.train.toy_identity --out weights/toy --minutes 8``
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from chatface_widgets.toy import HELDOUT_SEED_START, FaceParams, render_face, sample_params

IMAGE_SIZE = 48
ATTRIBUTE_SEED_OFFSET = 1_000_000_000  # attribute draws come from seeds far from identity seeds


def _conv(cin: int, cout: int, stride: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


class ToyIdentityNet(nn.Module):
    """Six 3x3 convs (strides 2,1,2,1,2,1: 48 → 6 px), global pool, linear to a unit embedding."""

    def __init__(self, widths: Sequence[int] = (16, 32, 64, 64, 128, 128), embed_dim: int = 128, image_size: int = IMAGE_SIZE):
        super().__init__()
        self.config = {"widths": list(widths), "embed_dim": embed_dim, "image_size": image_size}
        layers, cin = [], 3
        for i, w in enumerate(widths):
            layers.append(_conv(cin, w, 2 if i % 2 == 0 else 1))
            cin = w
        self.features = nn.Sequential(*layers)
        self.head = nn.Linear(cin, embed_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Images in [-1, 1] at ``image_size`` -> unit (N, embed_dim) embeddings."""
        h = self.features(x).mean(dim=(2, 3))
        return F.normalize(self.head(h), dim=-1)


def identity_view(identity_seed: int, attribute_seed: int) -> FaceParams:
    """Identity fields of one seed with the attribute strengths of another."""
    who = sample_params(identity_seed)
    return who.with_attributes(sample_params(attribute_seed).attributes)


def render_views(pairs: Sequence[tuple[int, int]], size: int = IMAGE_SIZE) -> torch.Tensor:
    """(identity seed, attribute seed) pairs -> images (N, 3, size, size) in [-1, 1]."""
    arr = np.stack([np.asarray(render_face(identity_view(i, a), size).image) for i, a in pairs])
    return torch.from_numpy(arr).permute(0, 3, 1, 2).float().div(127.5).sub(1.0)


def two_view_infonce(a: torch.Tensor, b: torch.Tensor, temperature: float = 0.1) -> torch.Tensor:
    """Symmetric InfoNCE between row-aligned unit embeddings of two views (positives on the diagonal)."""
    logits = a @ b.t() / temperature
    target = torch.arange(a.shape[0], device=a.device)
    return 0.5 * (F.cross_entropy(logits, target) + F.cross_entropy(logits.t(), target))


@torch.no_grad()
def pair_similarities(net: ToyIdentityNet, identity_seeds: Sequence[int], attr_base: int) -> tuple[np.ndarray, np.ndarray]:
    """Cosines of same-identity pairs (two attribute draws) and different-identity pairs (neighbours)."""
    net.eval()
    ids = list(identity_seeds)
    va = net(render_views([(s, attr_base + 2 * k) for k, s in enumerate(ids)]))
    vb = net(render_views([(s, attr_base + 2 * k + 1) for k, s in enumerate(ids)]))
    same = (va * vb).sum(-1).numpy()
    diff = (va * vb.roll(1, dims=0)).sum(-1).numpy()
    return same, diff


def auc(pos: np.ndarray, neg: np.ndarray) -> float:
    """Area under the ROC curve: P(pos score > neg score), ties count half."""
    gt = (pos[:, None] > neg[None, :]).mean()
    eq = (pos[:, None] == neg[None, :]).mean()
    return float(gt + 0.5 * eq)


def best_threshold(pos: np.ndarray, neg: np.ndarray) -> float:
    """The cosine threshold with the highest verification accuracy on a calibration set."""
    cands = np.unique(np.concatenate([pos, neg]))
    accs = [((pos >= t).sum() + (neg < t).sum()) for t in cands]
    return float(cands[int(np.argmax(accs))])


def verification_report(net: ToyIdentityNet, n: int = 500) -> dict:
    """Threshold from training-range identities, then accuracy and AUC on held-out identities."""
    cal_same, cal_diff = pair_similarities(net, range(900_000_000, 900_000_000 + n), ATTRIBUTE_SEED_OFFSET + 900_000_000)
    thr = best_threshold(cal_same, cal_diff)
    same, diff = pair_similarities(net, range(HELDOUT_SEED_START, HELDOUT_SEED_START + n), HELDOUT_SEED_START + 100_000_000)
    acc = ((same >= thr).sum() + (diff < thr).sum()) / (len(same) + len(diff))
    return {"pairs_same": len(same), "pairs_different": len(diff), "threshold": round(thr, 4),
            "accuracy": round(float(acc), 4), "auc": round(auc(same, diff), 4),
            "mean_cos_same": round(float(same.mean()), 4), "mean_cos_different": round(float(diff.mean()), 4),
            "identity_seeds": f"{HELDOUT_SEED_START}+[0,{n})",
            "threshold_from": "training-range identities 900000000+[0,%d)" % n}


def save_toy_identity(net: ToyIdentityNet, folder, record: dict) -> Path:
    """Write ``identity.safetensors`` and ``identity.json`` (config + training record)."""
    from safetensors.torch import save_file

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    save_file({k: v.detach().cpu().contiguous() for k, v in net.state_dict().items()}, str(folder / "identity.safetensors"))
    card = {"kind": "toy_identity", "config": net.config, "input": "RGB in [-1, 1], resized to image_size", **record}
    (folder / "identity.json").write_text(json.dumps(card, indent=2) + "\n")
    return folder / "identity.safetensors"


def load_toy_identity(folder) -> ToyIdentityNet:
    """The identity net from ``identity.safetensors`` + ``identity.json``, in eval mode."""
    from safetensors.torch import load_file

    folder = Path(folder)
    card = json.loads((folder / "identity.json").read_text())
    net = ToyIdentityNet(**card["config"])
    net.load_state_dict(load_file(str(folder / "identity.safetensors")), strict=True)
    return net.eval()


def train_toy_identity(out: str | Path, minutes: float = 8.0, identities: int = 64, lr: float = 2e-3,
                       temperature: float = 0.1, seed: int = 0, log_every: int = 20) -> dict:
    """Train on fresh identity seeds (two attribute draws each) until the time budget is spent; evaluate; save."""
    torch.manual_seed(seed)
    net = ToyIdentityNet().train()
    opt = torch.optim.AdamW(net.parameters(), lr=lr, weight_decay=1e-4)
    budget, start, step, losses = minutes * 60.0, time.time(), 0, []
    next_id = 10_000_000 + seed * 100_000_000
    while time.time() - start < budget:
        frac = (time.time() - start) / budget
        for g in opt.param_groups:
            g["lr"] = lr * min(1.0, (step + 1) / 30) * 0.5 * (1 + math.cos(math.pi * frac))
        ids = range(next_id, next_id + identities)
        next_id += identities
        xa = render_views([(s, ATTRIBUTE_SEED_OFFSET + 2 * s) for s in ids])
        xb = render_views([(s, ATTRIBUTE_SEED_OFFSET + 2 * s + 1) for s in ids])
        emb = net(torch.cat([xa, xb]))
        loss = two_view_infonce(emb[:identities], emb[identities:], temperature)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        losses.append(loss.item())
        step += 1
        if step % log_every == 0:
            print(f"step {step} loss {np.mean(losses[-log_every:]):.4f} {time.time() - start:.0f}s", flush=True)
    seconds = time.time() - start
    record = {
        "training": {"command": "python -m chatface_widgets.train.toy_identity " + " ".join(sys.argv[1:]),
                     "loss": "two-view InfoNCE, temperature %.2f" % temperature, "steps": step,
                     "identities_per_step": identities, "lr": lr, "seed": seed, "seconds": round(seconds, 1),
                     "final_loss": round(float(np.mean(losses[-log_every:])), 4), "threads": torch.get_num_threads()},
        "heldout_verification": verification_report(net),
    }
    save_toy_identity(net, out, record)
    return record


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Train the toy world's identity network (ID-loss judge).")
    parser.add_argument("--out", default="weights/toy")
    parser.add_argument("--minutes", type=float, default=8.0)
    parser.add_argument("--identities", type=int, default=64)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    record = train_toy_identity(args.out, args.minutes, args.identities, args.lr, seed=args.seed)
    print(json.dumps(record["heldout_verification"], indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
