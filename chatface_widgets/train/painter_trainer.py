"""Train a texture painter (curls) on pairs of toy renders that differ only in that attribute.

    python -m chatface_widgets.train.painter_trainer --out weights/toy/textures --minutes 20 --threads 1

Time-boxed (``--minutes`` of wall clock, warm-up then cosine learning rate on elapsed time). Each
step renders fresh training faces (seeds below HELDOUT_SEED_START): the face as sampled (a share
with the attribute uniform in [0, 1]) and the same face with the attribute at 1 (direction +1) or
0 (direction −1); older pairs are replayed from a pool. The input gets decoder-like corruption
(blur, colour jitter, noise; the painter sees decoded images with local edits off), except a
``clean_share`` of it that stays the clean render (with local edits it paints the photo itself), the target is the clean
difference of the two renders. The loss is the residual's mean squared error plus ``texture_weight``
times the L1 distance between the local high-pass and directional energy maps (:func:`texture_energy`) of the
painted image and the target: curls are thin arcs whose exact phase a small network cannot predict,
so squared error alone learns their blurred mean (no texture at all); the energy term asks for
texture of the right strength in the right place, in any phase. The report, on the saved fp16
weights and held-out faces, is the texture judge of the evaluation (photos.metrics.texture_shown)
on painted blurred renders, and the error outside the attribute's part.
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

from chatface_widgets.models.texture_painter import TexturePainter, TexturePainterConfig, load_painter, save_painter
from chatface_widgets.models.small_unet import count_parameters
from chatface_widgets.toy.oracle import ReplayPool, render_uint8, to_unit, warmup_cosine
from chatface_widgets.toy.params import HELDOUT_SEED_START, PARTS, sample_params
from chatface_widgets.toy.render import render_face
from chatface_widgets.train.parser_trainer import blur, corrupt

PAINTABLE_STYLES = ("short", "bob", "long", "bun")  # the toy world draws no curls on a buzz cut


def make_pairs(seeds, attribute: str, size: int, rng: np.random.Generator, uniform_share: float = 0.3):
    """Sources uint8 (N, 3, S, S) and targets float (N, 4, S, S): the textured/untextured render in [-1, 1] + direction."""
    sources, targets, directions = [], [], []
    for seed in seeds:
        p = sample_params(int(seed))
        if rng.random() < uniform_share:
            p = p.with_attributes({attribute: float(rng.random())})
        d = 1.0 if rng.random() < 0.65 else -1.0
        sources.append(p)
        targets.append(p.with_attributes({attribute: 1.0 if d > 0 else 0.0}))
        directions.append(d)
    src, tgt = render_uint8(sources, size), to_unit(render_uint8(targets, size))
    d = torch.tensor(directions).reshape(-1, 1, 1, 1).expand(-1, 1, size, size)
    return src, torch.cat([tgt, d], 1)


def texture_energy(x: torch.Tensor) -> torch.Tensor:
    """Local texture maps of images (B, 3, H, W) → (B, 5, H, W): |x − 3×3 box mean| and |differences| along
    x, y and both diagonals, averaged over channels and a 5×5 window (the directions tell curls from stripes)."""
    padded = F.pad(x, (1, 1, 1, 1), mode="replicate")
    h, w = x.shape[-2:]

    def shifted(dy: int, dx: int) -> torch.Tensor:
        return padded[..., 1 + dy:1 + dy + h, 1 + dx:1 + dx + w]

    maps = [x - F.avg_pool2d(padded, 3, stride=1)] + [shifted(dy, dx) - x for dy, dx in ((0, 1), (1, 0), (1, 1), (1, -1))]
    features = torch.cat([m.abs().mean(1, keepdim=True) for m in maps], 1)
    return F.avg_pool2d(features, 5, stride=1, padding=2, count_include_pad=False)


def painter_loss(pred: torch.Tensor, residual: torch.Tensor, source: torch.Tensor, texture_weight: float) -> torch.Tensor:
    """MSE of the residual + texture_weight · L1 between the texture maps of source + pred and source + residual."""
    loss = F.mse_loss(pred, residual)
    if texture_weight:
        loss = loss + texture_weight * F.l1_loss(texture_energy(source + pred), texture_energy(source + residual))
    return loss


def train_painter(minutes: float = 20.0, config: TexturePainterConfig = TexturePainterConfig(), batch_size: int = 32,
                  lr: float = 2e-3, seed: int = 0, texture_weight: float = 1.0, fresh_per_step: int = 12, pool_size: int = 3072,
                  clean_share: float = 0.0, log_every: int = 50, log=print) -> tuple[TexturePainter, dict]:
    """Train for a wall-clock budget; returns the model (eval mode) and training stats."""
    if not 0.0 <= clean_share <= 1.0:
        raise ValueError(f"clean_share must lie in [0, 1], got {clean_share}")
    torch.manual_seed(seed)
    rng, gen = np.random.default_rng(seed), torch.Generator().manual_seed(seed)
    size = config.image_size
    model = TexturePainter(config).to(memory_format=torch.channels_last)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=1e-4)
    pool = ReplayPool(pool_size, size, (4, size, size), torch.float32)
    budget, start, step, rendered, running = minutes * 60.0, time.time(), 0, 0, None
    while (frac := (time.time() - start) / budget) < 1.0:
        for group in opt.param_groups:
            group["lr"] = lr * warmup_cosine(frac)
        fresh_x, fresh_y = make_pairs(rng.integers(0, HELDOUT_SEED_START, size=fresh_per_step), config.attribute, size, rng)
        old_x, old_y = pool.sample(batch_size - fresh_per_step, gen) if pool.filled else (fresh_x[:0], fresh_y[:0])
        pool.add(fresh_x, fresh_y)
        src, y = to_unit(torch.cat([fresh_x, old_x])), torch.cat([fresh_y, old_y])
        flip = torch.rand(len(src), generator=gen) < 0.5
        src = torch.where(flip[:, None, None, None], src.flip(-1), src)
        y = torch.where(flip[:, None, None, None], y.flip(-1), y)
        residual = y[:, :3] - src  # the clean change: zero wherever the attribute draws nothing
        inputs = corrupt(src, gen)
        if clean_share:  # (no extra draw without it: earlier painters' runs reproduce)
            inputs = torch.where((torch.rand(len(src), generator=gen) < clean_share)[:, None, None, None], src, inputs)
        pred = model(inputs.contiguous(memory_format=torch.channels_last), y[:, 3, 0, 0])
        loss = painter_loss(pred, residual, src, texture_weight)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        step, rendered = step + 1, rendered + 2 * fresh_per_step
        running = loss.item() if running is None else 0.95 * running + 0.05 * loss.item()
        if log and step % log_every == 0:
            log(f"step {step:5d}  rendered {rendered:7d}  loss {running:.5f}  {time.time() - start:6.0f} s", flush=True)
    model.eval()
    stats = {"steps": step, "images_rendered": rendered, "seconds": round(time.time() - start, 1),
             "batch_size": batch_size, "fresh_per_step": fresh_per_step, "pool_size": pool_size, "lr": lr,
             "seed": seed, "final_loss": running, "texture_weight": texture_weight, "clean_share": clean_share,
             "loss": "MSE of the residual + texture_weight * L1 of the texture maps, corrupted input but for clean_share"}
    return model, stats


@torch.no_grad()
def heldout_report(model: TexturePainter, n: int = 200, start: int = HELDOUT_SEED_START, blur_sigma: float = 0.7) -> dict:
    """On n held-out faces that can carry the texture, painted at +1 after a blur: the texture judge's pass rate,
    the texture before/after/target, and the PSNR outside the attribute's part (dB)."""
    from chatface_widgets.photos import metrics as M

    size, attr = model.config.image_size, model.config.attribute
    part = PARTS.index(model.config.part)
    shown, before, after, target, outside = [], [], [], [], []
    seed = start
    while len(shown) < n:
        p = sample_params(seed)
        seed += 1
        if p.hair_style not in PAINTABLE_STYLES or p.attributes[attr] >= 0.5:
            continue
        src, tgt = render_face(p, size), render_face(p.with_attributes({attr: 1.0}), size)
        x = blur(to_unit(torch.from_numpy(np.array(src.image)).permute(2, 0, 1)[None]), torch.tensor([blur_sigma]))
        painted = ((model.paint(x, torch.ones(1))[0].permute(1, 2, 0) + 1) / 2).numpy()
        plain = ((x[0].permute(1, 2, 0) + 1) / 2).numpy()
        inside = ~M.dilate(src.mask != part, 1)
        t0, t1, tt = (M.texture(plain, inside), M.texture(painted, inside),
                      M.texture(np.asarray(tgt.image, np.float64) / 255.0, inside))
        before.append(t0), after.append(t1), target.append(tt)
        shown.append(M.texture_shown(t1, t0, tt))
        keep = ~M.dilate((src.mask == part) | (tgt.mask == part), 2)
        outside.append(M.capped(M.masked_psnr(painted, plain, keep)))
    return {"faces": n, "first_seed": start, "blur_sigma_px": blur_sigma, "texture_shown": M.nanmean(shown),
            "texture_before": float(np.mean(before)), "texture_painted": float(np.mean(after)),
            "texture_target": float(np.mean(target)), "psnr_outside_part_db": float(np.mean(outside))}


def main(argv=None) -> int:
    """CLI: train, save, report on the saved (fp16) weights, save the report in the card."""
    parser = argparse.ArgumentParser(description="Train a texture painter (curls) for the built-in model.")
    parser.add_argument("--out", default="weights/toy/textures", help="folder for <attribute>.safetensors/.json")
    parser.add_argument("--attribute", default="curly hair")
    parser.add_argument("--part", default="hair", help="the face part the texture lives in")
    parser.add_argument("--minutes", type=float, default=20.0, help="wall-clock training budget")
    parser.add_argument("--size", type=int, default=48, help="image size (the built-in model's size)")
    parser.add_argument("--widths", type=int, nargs="+", default=[16, 32, 48, 64], help="channels per U-Net level")
    parser.add_argument("--texture-only", action="store_true",
                        help="the engine draws this attribute with the painter alone (no z mapper)")
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--texture-weight", type=float, default=1.0,
                        help="weight of the texture-map term (0: squared error alone, which paints no curls)")
    parser.add_argument("--clean-share", type=float, default=0.0,
                        help="share of training inputs left uncorrupted (the photo a local edit paints), 0 to 1")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    parser.add_argument("--eval-faces", type=int, default=200, help="held-out faces for the report")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    config = TexturePainterConfig(attribute=args.attribute, part=args.part, image_size=args.size, widths=tuple(args.widths),
                                  with_mapper=not args.texture_only)
    model, stats = train_painter(args.minutes, config, lr=args.lr, seed=args.seed, texture_weight=args.texture_weight,
                                 clean_share=args.clean_share)
    meta = {"command": "python -m chatface_widgets.train.painter_trainer " + " ".join(sys.argv[1:] if argv is None else argv),
            "training": stats}
    save_painter(model, args.out, meta)
    meta["heldout"] = heldout_report(load_painter(args.out, args.attribute), args.eval_faces)  # what ships (fp16)
    save_painter(model, args.out, meta)
    print(f"{count_parameters(model)} parameters, {stats['steps']} steps in {stats['seconds'] / 60:.1f} min")
    print(" ".join(f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}" for k, v in meta["heldout"].items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
