"""Attribute oracle: a small CNN that reads the toy renderer's attributes and identity back from pixels.

Evaluation only (never a training signal for mappers). It regresses the 8 attribute values and a
handful of visible identity parameters; two hues are circular and are predicted as (cos, sin).

    oracle = load_oracle("weights/toy")
    readings = oracle.predict(images)          # {"smile": array(N), ..., "skin_tone": array(N), ...}

Train: ``python -m chatface_widgets.toy.oracle --out weights/toy --minutes 7.5`` (the shipped weights).
On 2 busy CPU cores that is ~1000 steps of 64 faces with bf16 autocast (see oracle.json).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn

from chatface_widgets.toy.params import ATTRIBUTES, HELDOUT_SEED_START, LABEL_THRESHOLD, FaceParams, sample_params
from chatface_widgets.toy.render import render_batch, render_face

# Identity fields the oracle reads: linear ones in [0, 1] (head offsets in [-1, 1]) and circular hues.
IDENTITY_LINEAR = ("skin_tone", "face_width", "face_length", "eye_spacing", "hair_length", "clothing_shade",
                   "head_x", "head_y", "head_scale")
IDENTITY_CIRCULAR = ("background_hue", "clothing_hue")
IDENTITY_NAMES = IDENTITY_LINEAR + IDENTITY_CIRCULAR
_SIGNED = ("head_x", "head_y")
WEIGHTS_NAME, CONFIG_NAME = "oracle.safetensors", "oracle.json"


@dataclass(frozen=True)
class OracleConfig:
    """Architecture of the oracle CNN."""

    image_size: int = 48  # input side; other sizes are resized to this
    stem: int = 16  # channels of the full-resolution stem conv
    widths: tuple = (32, 64, 128)  # channels of the stride-2 stages (each: strided conv + conv)
    hidden: int = 128  # width of the MLP head
    squeeze: int = 32  # 1×1-conv channels before the position-aware (flattened) head

    @classmethod
    def from_json(cls, data: dict) -> "OracleConfig":
        """Config from its JSON dict (lists become tuples)."""
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in data.items()})


def _conv(cin: int, cout: int, stride: int) -> nn.Sequential:
    """3×3 conv, batch norm, ReLU."""
    return nn.Sequential(nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


class Oracle(nn.Module):
    """CNN regressor: image in [-1, 1] → attribute logits, linear identity logits, (cos, sin) per hue."""

    def __init__(self, config: OracleConfig = OracleConfig()):
        super().__init__()
        self.config = config
        layers, cin = [_conv(3, config.stem, 1)], config.stem
        for w in config.widths:
            layers += [_conv(cin, w, 2), _conv(w, w, 1)]
            cin = w
        layers += [nn.Conv2d(cin, config.squeeze, 1, bias=False), nn.BatchNorm2d(config.squeeze), nn.ReLU(inplace=True)]
        self.features = nn.Sequential(*layers)
        side = config.image_size
        for _ in config.widths:
            side = (side + 1) // 2
        n_out = len(ATTRIBUTES) + len(IDENTITY_LINEAR) + 2 * len(IDENTITY_CIRCULAR)
        self.head = nn.Sequential(nn.Flatten(), nn.Linear(config.squeeze * side * side, config.hidden),
                                  nn.ReLU(inplace=True), nn.Linear(config.hidden, n_out))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Raw outputs (N, 8 + 9 + 4) for images (N, 3, S, S) in [-1, 1]."""
        return self.head(self.features(x))

    def prepare(self, images) -> torch.Tensor:
        """PIL image(s) or a tensor in [-1, 1] → float (N, 3, S, S) on the oracle's device."""
        if isinstance(images, Image.Image):
            images = [images]
        if isinstance(images, torch.Tensor):
            x = images.detach().float()
            x = x[None] if x.ndim == 3 else x
        elif len(images) == 0:
            x = torch.zeros(0, 3, self.config.image_size, self.config.image_size)
        else:
            arr = np.stack([np.asarray(im.convert("RGB"), dtype=np.float32) for im in images])
            x = torch.from_numpy(arr).permute(0, 3, 1, 2) / 127.5 - 1.0
        x = x.to(next(self.parameters()).device)
        s = self.config.image_size
        if x.shape[-2:] != (s, s):
            x = F.interpolate(x, size=(s, s), mode="bilinear", align_corners=False, antialias=x.shape[-1] > s)
        return x.clamp(-1, 1)

    @torch.no_grad()
    def predict(self, images, batch_size: int = 256) -> dict[str, np.ndarray]:
        """Readings per name: attributes in [0, 1], identity in its native range (hues in [0, 1))."""
        was_training = self.training
        self.eval()
        x = self.prepare(images)
        raw = torch.cat([self(x[i:i + batch_size]) for i in range(0, len(x), batch_size)]) if len(x) else \
            torch.zeros(0, self.head[-1].out_features)
        self.train(was_training)
        return decode_outputs(raw.float().cpu())


def decode_outputs(raw: torch.Tensor) -> dict[str, np.ndarray]:
    """Raw network outputs → named readings (sigmoid, signed rescale, atan2 for hues)."""
    na, nl = len(ATTRIBUTES), len(IDENTITY_LINEAR)
    out = {name: torch.sigmoid(raw[:, j]).numpy() for j, name in enumerate(ATTRIBUTES)}
    for j, name in enumerate(IDENTITY_LINEAR):
        v = torch.sigmoid(raw[:, na + j])
        out[name] = (2 * v - 1 if name in _SIGNED else v).numpy()
    for j, name in enumerate(IDENTITY_CIRCULAR):
        c, s = raw[:, na + nl + 2 * j], raw[:, na + nl + 2 * j + 1]
        out[name] = (torch.atan2(s, c) / (2 * math.pi) % 1.0).numpy()
    return out


def identity_features(readings: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """(N, K) identity readings scaled to [0, 1] and a boolean (K,) mask of the circular ones."""
    cols = [(readings[n] + 1) / 2 if n in _SIGNED else readings[n] for n in IDENTITY_NAMES]
    circular = np.array([n in IDENTITY_CIRCULAR for n in IDENTITY_NAMES])
    return np.stack(cols, 1).astype(np.float64), circular


def targets(params: Sequence[FaceParams]) -> torch.Tensor:
    """Training targets (N, 8 + 9 + 4): attribute values, identity in [0, 1], (cos, sin) of hues."""
    rows = []
    for p in params:
        row = [p.attributes[n] for n in ATTRIBUTES]
        row += [(p.identity[n] + 1) / 2 if n in _SIGNED else p.identity[n] for n in IDENTITY_LINEAR]
        for n in IDENTITY_CIRCULAR:
            a = 2 * math.pi * p.identity[n]
            row += [math.cos(a), math.sin(a)]
        rows.append(row)
    return torch.tensor(rows, dtype=torch.float32)


def oracle_loss(raw: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """BCE on attributes (soft targets) + BCE on linear identity + MSE on hue (cos, sin)."""
    na, nl = len(ATTRIBUTES), len(IDENTITY_LINEAR)
    attr = F.binary_cross_entropy_with_logits(raw[:, :na], y[:, :na])
    ident = F.binary_cross_entropy_with_logits(raw[:, na:na + nl], y[:, na:na + nl])
    hue = F.mse_loss(raw[:, na + nl:], y[:, na + nl:])
    return attr + 0.5 * ident + 0.5 * hue


# ---------------------------------------------------------------- data and augmentation


def training_params(rng: np.random.Generator, n: int, uniform_fraction: float) -> list[FaceParams]:
    """Faces from training seeds; a fraction get every attribute uniform in [0, 1] (calibrates readings in between)."""
    seeds = rng.integers(0, HELDOUT_SEED_START, size=n)
    params = []
    for seed in seeds.tolist():
        p = sample_params(seed)
        if rng.random() < uniform_fraction:
            p = p.with_attributes(dict(zip(ATTRIBUTES, rng.random(len(ATTRIBUTES)).tolist())))
        params.append(p)
    return params


def render_uint8(params: Sequence[FaceParams], size: int) -> torch.Tensor:
    """Render faces to uint8 (N, 3, size, size); seed-only faces take render_batch's mask-free path."""
    plain = [j for j, p in enumerate(params) if p.seed is not None and p == sample_params(p.seed)]
    out = torch.empty(len(params), 3, size, size, dtype=torch.uint8)
    if plain:
        images, _ = render_batch([params[j].seed for j in plain], size)
        out[plain] = torch.from_numpy(images).permute(0, 3, 1, 2)
    for j in sorted(set(range(len(params))) - set(plain)):
        out[j] = torch.from_numpy(np.array(render_face(params[j], size).image)).permute(2, 0, 1)
    return out


def to_unit(x: torch.Tensor) -> torch.Tensor:
    """uint8 images → float in [-1, 1]."""
    return x.float() / 127.5 - 1.0


def render_tensor(params: Sequence[FaceParams], size: int) -> torch.Tensor:
    """Render faces to a float tensor (N, 3, size, size) in [-1, 1]."""
    return to_unit(render_uint8(params, size))


def _blur(x: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
    """Per-image separable gaussian blur (3×3 taps is enough for sigma ≤ 0.8 px)."""
    n, c, h, w = x.shape
    d = torch.tensor([-1.0, 0.0, 1.0])
    k = torch.exp(-d[None] ** 2 / (2 * sigma.clamp_min(1e-3)[:, None] ** 2))
    k = (k / k.sum(1, keepdim=True)).repeat_interleave(c, 0)  # (n*c, 3)
    y = x.reshape(1, n * c, h, w)
    y = F.conv2d(F.pad(y, (1, 1, 0, 0), mode="replicate"), k[:, None, None, :], groups=n * c)
    y = F.conv2d(F.pad(y, (0, 0, 1, 1), mode="replicate"), k[:, None, :, None], groups=n * c)
    return y.reshape(n, c, h, w)


def augment(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Decoder-like corruption: ±1 px sub-pixel shift, light blur, slight colour jitter, gaussian noise."""
    n = x.shape[0]
    u = lambda *shape: torch.rand(*shape, generator=gen)  # noqa: E731
    shift = (u(n, 2) * 2 - 1) * (2.0 / x.shape[-1])  # ±1 px in normalised coordinates
    theta = torch.zeros(n, 2, 3)
    theta[:, 0, 0] = theta[:, 1, 1] = 1.0
    theta[:, :, 2] = shift
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    x = F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)
    blur = torch.where(u(n) < 0.5, u(n) * 0.8, torch.zeros(n))
    x = torch.where((blur > 0)[:, None, None, None], _blur(x, blur), x)
    gain = 1 + (u(n, 1, 1, 1) * 2 - 1) * 0.04 + (u(n, 3, 1, 1) * 2 - 1) * 0.015
    offset = (u(n, 1, 1, 1) * 2 - 1) * 0.04
    x = (x + 1) * gain - 1 + offset
    x = x + torch.randn(x.shape, generator=gen) * (u(n, 1, 1, 1) * 0.05)
    return x.clamp(-1, 1)


# ---------------------------------------------------------------- evaluation


def invisible(params: Sequence[FaceParams], name: str, size: int, x: torch.Tensor) -> np.ndarray:
    """Per face: the attribute is present but removing it changes fewer than 2 pixels by > 12/255."""
    out = np.zeros(len(params), bool)
    present = [j for j, p in enumerate(params) if p.attributes[name] >= LABEL_THRESHOLD]
    if present:
        off = render_uint8([params[j].with_attributes({name: 0.0}) for j in present], size)
        changed = ((off.int() - x[present].int()).abs().amax(1) > 12).flatten(1).sum(1)
        out[present] = (changed < 2).numpy()
    return out


@torch.no_grad()
def heldout_report(oracle: Oracle, n: int = 1000, start: int = HELDOUT_SEED_START, blur: float = 0.0) -> dict:
    """Accuracy at 0.5 (all faces, and without faces where a present attribute is invisible), MAE, identity MAE."""
    params = [sample_params(start + i) for i in range(n)]
    x8 = render_uint8(params, oracle.config.image_size)
    x = to_unit(x8)
    if blur > 0:
        x = _blur(x, torch.full((n,), blur))
    pred = oracle.predict(x)
    report = {"faces": n, "first_seed": start, "blur_sigma_px": blur, "accuracy": {}, "accuracy_visible": {},
              "invisible_faces": {}, "mae": {}, "identity_mae": {}}
    for name in ATTRIBUTES:
        truth = np.array([p.attributes[name] for p in params])
        right = (pred[name] >= LABEL_THRESHOLD) == (truth >= LABEL_THRESHOLD)
        hidden = invisible(params, name, oracle.config.image_size, x8)
        report["accuracy"][name] = float(np.mean(right))
        report["accuracy_visible"][name] = float(np.mean(right[~hidden]))
        report["invisible_faces"][name] = int(hidden.sum())
        report["mae"][name] = float(np.mean(np.abs(pred[name] - truth)))
    for name in IDENTITY_NAMES:
        truth = np.array([p.identity[name] for p in params])
        err = np.abs(pred[name] - truth)
        report["identity_mae"][name] = float(np.mean(np.minimum(err, 1 - err) if name in IDENTITY_CIRCULAR else err))
    return report


# ---------------------------------------------------------------- training, saving, loading


class ReplayPool:
    """FIFO pool of rendered faces (uint8) and targets; batches mix fresh renders with replayed ones."""

    def __init__(self, capacity: int, size: int, n_targets, target_dtype: torch.dtype = torch.float32):
        """``n_targets``: the shape of one entry's target (an int for a vector), e.g. (size, size) for a part mask."""
        shape = (n_targets,) if isinstance(n_targets, int) else tuple(n_targets)
        self.x = torch.empty(capacity, 3, size, size, dtype=torch.uint8)
        self.y = torch.empty(capacity, *shape, dtype=target_dtype)
        self.filled, self.head = 0, 0

    def add(self, x: torch.Tensor, y: torch.Tensor) -> None:
        """Insert a batch, overwriting the oldest entries."""
        idx = (self.head + torch.arange(len(x))) % len(self.x)
        self.x[idx], self.y[idx] = x, y
        self.head = int(idx[-1] + 1) % len(self.x)
        self.filled = min(self.filled + len(x), len(self.x))

    def sample(self, n: int, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """n random entries."""
        idx = torch.randint(0, self.filled, (n,), generator=gen)
        return self.x[idx], self.y[idx]


def warmup_cosine(frac: float, warmup: float = 0.05) -> float:
    """Learning-rate factor at a fraction of the time budget: linear warm-up, then cosine to zero."""
    if frac < warmup:
        return frac / warmup
    return 0.5 * (1 + math.cos(math.pi * (frac - warmup) / (1 - warmup)))


def train_oracle(minutes: float = 6.0, config: OracleConfig = OracleConfig(), batch_size: int = 64, lr: float = 3e-3,
                 seed: int = 0, uniform_fraction: float = 0.15, bf16: bool = True, fresh_per_step: int = 24,
                 pool_size: int = 4096, log_every: int = 50, log=print) -> tuple[Oracle, dict]:
    """Train on training-seed faces for a wall-clock budget (replay pool, bf16 autocast, warm-up + cosine LR)."""
    torch.manual_seed(seed)
    rng, gen = np.random.default_rng(seed), torch.Generator().manual_seed(seed)
    model = Oracle(config).to(memory_format=torch.channels_last)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=1e-4)
    pool = ReplayPool(pool_size, config.image_size, targets([sample_params(0)]).shape[1])
    budget, start, step, rendered, running = minutes * 60.0, time.time(), 0, 0, None
    while (frac := (time.time() - start) / budget) < 1.0:
        for group in opt.param_groups:  # 5 % warm-up, then cosine to zero, both on elapsed time
            group["lr"] = lr * warmup_cosine(frac)
        params = training_params(rng, fresh_per_step, uniform_fraction)
        fresh_x, fresh_y = render_uint8(params, config.image_size), targets(params)
        old_x, old_y = pool.sample(batch_size - fresh_per_step, gen) if pool.filled else (fresh_x[:0], fresh_y[:0])
        pool.add(fresh_x, fresh_y)
        x = augment(to_unit(torch.cat([fresh_x, old_x])), gen).contiguous(memory_format=torch.channels_last)
        with torch.autocast(x.device.type, dtype=torch.bfloat16, enabled=bf16):  # AMX/tensor cores: ~2x on CPU
            raw = model(x)
        loss = oracle_loss(raw.float(), torch.cat([fresh_y, old_y]))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        step, rendered = step + 1, rendered + fresh_per_step
        running = loss.item() if running is None else 0.95 * running + 0.05 * loss.item()
        if log and step % log_every == 0:
            log(f"step {step:5d}  rendered {rendered:7d}  loss {running:.4f}  {time.time() - start:6.0f} s", flush=True)
    model.eval()
    stats = {"steps": step, "images_rendered": rendered, "images_seen": step * batch_size - (batch_size - fresh_per_step),
             "minutes": (time.time() - start) / 60.0, "batch_size": batch_size, "fresh_per_step": fresh_per_step,
             "pool_size": pool_size, "lr": lr, "seed": seed, "uniform_fraction": uniform_fraction, "bf16_autocast": bf16,
             "final_loss": running}
    return model, stats


def save_oracle(model: Oracle, folder, meta: dict, half: bool = True) -> Path:
    """Write ``oracle.safetensors`` (fp16 floats when half) and ``oracle.json`` (config + meta)."""
    from safetensors.torch import save_file

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    state = {k: (v.half() if half and v.is_floating_point() else v).contiguous() for k, v in model.state_dict().items()}
    save_file(state, str(folder / WEIGHTS_NAME))
    card = {"config": asdict(model.config), "outputs": {"attributes": list(ATTRIBUTES), "identity": list(IDENTITY_NAMES)},
            **meta}
    (folder / CONFIG_NAME).write_text(json.dumps(card, indent=2) + "\n")
    return folder / WEIGHTS_NAME


def load_oracle(folder, device: str = "cpu") -> Oracle:
    """Load the oracle from ``folder/oracle.safetensors`` + ``oracle.json`` (float32, eval mode)."""
    from safetensors.torch import load_file

    folder = Path(folder)
    path = folder / WEIGHTS_NAME
    if not path.is_file():
        raise FileNotFoundError(f"no oracle weights at {path}; train them with "
                                f"`python -m chatface_widgets.toy.oracle --out {folder}`")
    card = json.loads((folder / CONFIG_NAME).read_text())
    model = Oracle(OracleConfig.from_json(card["config"]))
    state = {k: v.float() if v.is_floating_point() else v for k, v in load_file(str(path)).items()}
    model.load_state_dict(state, strict=True)
    return model.to(device).eval().requires_grad_(False)


def main(argv=None) -> int:
    """CLI: train, evaluate on held-out seeds, save weights and a JSON card."""
    parser = argparse.ArgumentParser(description="Train the toy attribute oracle (evaluation only).")
    parser.add_argument("--out", type=Path, default=Path("weights/toy"), help="folder for oracle.safetensors/.json")
    parser.add_argument("--minutes", type=float, default=6.0, help="wall-clock training budget")
    parser.add_argument("--size", type=int, default=48, help="input image size (the built-in model's size)")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    parser.add_argument("--fp32", action="store_true", help="train without bf16 autocast")
    parser.add_argument("--eval-faces", type=int, default=1000, help="held-out faces for the report")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    config = OracleConfig(image_size=args.size)
    model, stats = train_oracle(args.minutes, config, args.batch_size, args.lr, args.seed, bf16=not args.fp32)
    meta = {"command": "python -m chatface_widgets.toy.oracle " + " ".join(sys.argv[1:] if argv is None else argv),
            "training": stats, "dtype": "float16"}
    save_oracle(model, args.out, meta)
    shipped = load_oracle(args.out)  # evaluate exactly what ships (fp16 round trip)
    meta["heldout"] = heldout_report(shipped, args.eval_faces)
    meta["heldout_blurred"] = heldout_report(shipped, args.eval_faces, blur=0.7)
    save_oracle(model, args.out, meta)
    for name in ATTRIBUTES:
        h = meta["heldout"]
        print(f"{name:13s} acc {h['accuracy'][name]:.3f}  visible {h['accuracy_visible'][name]:.3f} "
              f"({h['invisible_faces'][name]} hidden)  mae {h['mae'][name]:.3f}  "
              f"acc(blur) {meta['heldout_blurred']['accuracy'][name]:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
