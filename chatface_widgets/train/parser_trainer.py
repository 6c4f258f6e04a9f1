"""Train the face parser on toy renders and their true part masks (region priors for local edits).

    python -m chatface_widgets.train.parser_trainer --out weights/toy --minutes 12 --threads 1

Time-boxed (``--minutes`` of wall clock, warm-up then cosine learning rate on elapsed time). Each
step renders fresh training faces (seeds below HELDOUT_SEED_START) and replays older ones from a
pool; images get light decoder-like corruption (blur, colour jitter, noise) and random horizontal
flips (with their masks). The loss is class-weighted cross-entropy (more weight on the small parts)
plus a soft Dice term. The report is per-part IoU on 500 held-out faces, sharp and blurred,
measured on the saved fp16 weights; it goes into ``parser.json`` with the command line.
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F

from chatface_widgets.models.face_parser import FaceParser, FaceParserConfig, count_parameters, load_parser, save_parser
from chatface_widgets.toy.oracle import ReplayPool, warmup_cosine
from chatface_widgets.toy.params import HELDOUT_SEED_START, PARTS
from chatface_widgets.toy.render import render_masked_batch

# Cross-entropy weight per part (PARTS order): the small parts count more.
PART_WEIGHTS = {"background": 1.0, "skin": 1.0, "hair": 1.0, "eyes": 2.0, "mouth": 2.0, "glasses": 2.5,
                "clothes": 1.0, "beard": 1.5}
REPORT_PARTS = ("skin", "hair", "eyes", "mouth", "glasses", "beard")  # the target's mean IoU is over these


def render(seeds: Sequence[int], size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Toy faces as uint8 (N, 3, size, size) and part ids int64 (N, size, size)."""
    images, _, masks = render_masked_batch(list(seeds), size)
    return torch.from_numpy(images).permute(0, 3, 1, 2).contiguous(), torch.from_numpy(masks).long()


def blur(x: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
    """Per-image separable gaussian blur with 5 taps (enough for sigma up to ~1.2 px)."""
    n, c, h, w = x.shape
    taps = torch.arange(-2.0, 3.0)
    k = torch.exp(-taps[None] ** 2 / (2 * sigma.clamp_min(1e-3)[:, None] ** 2))
    k = (k / k.sum(1, keepdim=True)).repeat_interleave(c, 0)[:, None]  # (n*c, 1, 5)
    y = x.reshape(1, n * c, h, w)
    y = F.conv2d(F.pad(y, (2, 2, 0, 0), mode="replicate"), k[:, :, None, :], groups=n * c)
    y = F.conv2d(F.pad(y, (0, 0, 2, 2), mode="replicate"), k[:, :, :, None], groups=n * c)
    return y.reshape(n, c, h, w)


def corrupt(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Decoder-like corruption of float images in [-1, 1]: blur (60 %), colour jitter and noise."""
    n = x.shape[0]

    def u(*shape):
        return torch.rand(*shape, generator=gen)

    sigma = torch.where(u(n) < 0.6, 0.2 + u(n) * 0.9, torch.zeros(n))
    x = torch.where((sigma > 0)[:, None, None, None], blur(x, sigma), x)
    gain = 1 + (u(n, 1, 1, 1) * 2 - 1) * 0.05 + (u(n, 3, 1, 1) * 2 - 1) * 0.02
    x = (x + 1) * gain - 1 + (u(n, 1, 1, 1) * 2 - 1) * 0.05
    x = x + torch.randn(x.shape, generator=gen) * (u(n, 1, 1, 1) * 0.05)
    return x.clamp(-1, 1)


def augment(x: torch.Tensor, y: torch.Tensor, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Float images in [-1, 1] and their masks: random flip (both), then :func:`corrupt` (images)."""
    flip = torch.rand(x.shape[0], generator=gen) < 0.5
    x = torch.where(flip[:, None, None, None], x.flip(-1), x)
    y = torch.where(flip[:, None, None], y.flip(-1), y)
    return corrupt(x, gen), y


def parser_loss(logits: torch.Tensor, target: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """Weighted cross-entropy + soft Dice (mean over the parts present in the batch)."""
    ce = F.cross_entropy(logits, target, weight=weights)
    probs = torch.softmax(logits, 1)
    onehot = F.one_hot(target, logits.shape[1]).permute(0, 3, 1, 2).float()
    inter = (probs * onehot).sum((0, 2, 3))
    total = probs.sum((0, 2, 3)) + onehot.sum((0, 2, 3))
    present = onehot.sum((0, 2, 3)) > 0
    dice = 1 - (2 * inter + 1) / (total + 1)
    return ce + dice[present].mean()


def train_parser(minutes: float = 12.0, config: FaceParserConfig = FaceParserConfig(parts=PARTS),
                 batch_size: int = 48, lr: float = 3e-3, seed: int = 0, fresh_per_step: int = 24,
                 pool_size: int = 4096, bf16: bool = False, log_every: int = 50, log=print) -> tuple[FaceParser, dict]:
    """Train for a wall-clock budget; returns the model (eval mode) and training stats."""
    if tuple(config.parts) != PARTS:
        raise ValueError(f"the toy masks index {PARTS}, config has {config.parts}")
    torch.manual_seed(seed)
    rng, gen = np.random.default_rng(seed), torch.Generator().manual_seed(seed)
    model = FaceParser(config).to(memory_format=torch.channels_last)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=1e-4)
    weights = torch.tensor([PART_WEIGHTS[p] for p in PARTS])
    pool = ReplayPool(pool_size, config.image_size, (config.image_size, config.image_size), torch.long)
    budget, start, step, rendered, running = minutes * 60.0, time.time(), 0, 0, None
    while (frac := (time.time() - start) / budget) < 1.0:
        for group in opt.param_groups:  # 5 % warm-up, then cosine to zero, both on elapsed time
            group["lr"] = lr * warmup_cosine(frac)
        fresh_x, fresh_y = render(rng.integers(0, HELDOUT_SEED_START, size=fresh_per_step).tolist(), config.image_size)
        old_x, old_y = pool.sample(batch_size - fresh_per_step, gen) if pool.filled else (fresh_x[:0], fresh_y[:0])
        pool.add(fresh_x, fresh_y)
        x, y = augment(torch.cat([fresh_x, old_x]).float() / 127.5 - 1.0, torch.cat([fresh_y, old_y]), gen)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            logits = model(x.contiguous(memory_format=torch.channels_last))
        loss = parser_loss(logits.float(), y, weights)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        step, rendered = step + 1, rendered + fresh_per_step
        running = loss.item() if running is None else 0.95 * running + 0.05 * loss.item()
        if log and step % log_every == 0:
            log(f"step {step:5d}  rendered {rendered:7d}  loss {running:.4f}  {time.time() - start:6.0f} s", flush=True)
    model.eval()
    stats = {"steps": step, "images_rendered": rendered, "seconds": round(time.time() - start, 1),
             "minutes": (time.time() - start) / 60.0, "batch_size": batch_size, "fresh_per_step": fresh_per_step,
             "pool_size": pool_size, "lr": lr, "seed": seed, "bf16_autocast": bf16, "final_loss": running,
             "part_weights": PART_WEIGHTS, "loss": "weighted cross-entropy + soft Dice"}
    return model, stats


def part_iou(pred: torch.Tensor, truth: torch.Tensor, parts: Sequence[str] = PARTS) -> dict[str, float]:
    """IoU per part over a whole set of label maps (intersections and unions summed over faces)."""
    out = {}
    for j, name in enumerate(parts):
        p, t = pred == j, truth == j
        union = int((p | t).sum())
        out[name] = float((p & t).sum()) / union if union else float("nan")
    return out


@torch.no_grad()
def heldout_iou(model: FaceParser, n: int = 500, start: int = HELDOUT_SEED_START, blur_sigma: float = 0.0,
                batch: int = 100) -> dict:
    """Per-part IoU of argmax labels on n held-out faces (optionally blurred first)."""
    size = model.config.image_size
    preds, truths = [], []
    for lo in range(0, n, batch):
        x8, y = render(range(start + lo, start + min(n, lo + batch)), size)
        x = x8.float() / 127.5 - 1.0
        if blur_sigma > 0:
            x = blur(x, torch.full((len(x),), blur_sigma))
        preds.append(model.probabilities(x).argmax(1))
        truths.append(y)
    iou = part_iou(torch.cat(preds), torch.cat(truths), model.config.parts)
    mean = float(np.mean([iou[p] for p in REPORT_PARTS]))
    return {"faces": n, "first_seed": start, "blur_sigma_px": blur_sigma, "iou": iou,
            "mean_iou_" + "_".join(REPORT_PARTS): mean}


def main(argv=None) -> int:
    """CLI: train, save, evaluate the saved (fp16) weights on held-out faces, save the report in parser.json."""
    parser = argparse.ArgumentParser(description="Train the toy face parser (part maps for local edits).")
    parser.add_argument("--out", default="weights/toy", help="folder for parser.safetensors/.json")
    parser.add_argument("--minutes", type=float, default=12.0, help="wall-clock training budget")
    parser.add_argument("--size", type=int, default=48, help="image size (the built-in model's size)")
    parser.add_argument("--batch-size", type=int, default=48)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    parser.add_argument("--bf16", action="store_true", help="bf16 autocast (only faster on CPUs with AMX)")
    parser.add_argument("--eval-faces", type=int, default=500, help="held-out faces for the report")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    config = FaceParserConfig(image_size=args.size, parts=PARTS)
    model, stats = train_parser(args.minutes, config, args.batch_size, args.lr, args.seed, bf16=args.bf16)
    meta = {"command": "python -m chatface_widgets.train.parser_trainer "
                       + " ".join(sys.argv[1:] if argv is None else argv), "training": stats}
    save_parser(model, args.out, meta)
    shipped = load_parser(args.out)  # evaluate exactly what ships (fp16 round trip)
    meta["heldout"] = heldout_iou(shipped, args.eval_faces)
    meta["heldout_blurred"] = heldout_iou(shipped, args.eval_faces, blur_sigma=0.7)
    save_parser(model, args.out, meta)
    print(f"{count_parameters(model)} parameters, {stats['steps']} steps in {stats['minutes']:.1f} min")
    for name in PARTS:
        print(f"{name:11s} IoU {meta['heldout']['iou'][name]:.3f}  blurred {meta['heldout_blurred']['iou'][name]:.3f}")
    key = "mean_iou_" + "_".join(REPORT_PARTS)
    print(f"mean IoU {', '.join(REPORT_PARTS)}: {meta['heldout'][key]:.3f} (blurred {meta['heldout_blurred'][key]:.3f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
