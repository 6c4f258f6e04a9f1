"""Training the built-in DiffAE on an endless stream of rendered toy faces (resumable, CPU-friendly).

The objective is DiffAE's denoising loss (Preechakul et al. 2022, Eq. 4) with changes that make
each image teach the semantic code more on a CPU budget:

* timesteps are drawn from the grids the model is used on (DDIM 8, 10 and 20 steps);
* the built-in model's UNet predicts v = √ā·ε − √(1−ā)·x0 (Salimans & Ho 2022) and the loss is the
  v-MSE, i.e. the ε-MSE weighted by 1 + 1/SNR(t): at the noisy steps, where only z can say which
  face it is, that is an x̂0 loss. With ε-prediction that weight needs a cap (the network's output
  would have to resolve x̂0 through a 1/√ā ≈ 100× amplification, below bf16's resolution), and
  a capped weight left x̂0 at t ≥ 750 worse than the mean face;
* an ε-predicting config keeps DiffAE's target with the weight ``1 + min(1/SNR(t), cap)``;
* ``--part-weight eyes=12 --part-weight mouth=24`` scales the squared error of the pixels the
  renderer's part mask assigns to small parts. Eyes and lips cover 1.6 % and 0.9 % of a 48 px face,
  so with a flat loss the encoder left eye colour and lipstick out of z (same-identity pairs with
  and without blue eyes differed by 2 % of |z|) and random-x_T decodes guessed them.

The encoder runs once per image and the UNet sees ``timesteps_per_image`` noisy versions of it.
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import os
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import torch

from chatface_widgets.foundation.steps import alpha_bar_full, ddim_timesteps
from chatface_widgets.diffusion.schedule import add_noise, v_target
from chatface_widgets.models.diffae import DiffAE, DiffAEConfig, build_diffae, save_diffae

TOY_CONFIG = DiffAEConfig(
    model_channels=32, channel_mult=(1, 2, 2, 4), num_res_blocks=1, attn_levels=(2,), embed_channels=128,
    z_channels=128, enc_channel_mult=(1, 2, 2, 4, 4), enc_num_res_blocks=1, enc_attn_levels=(), num_heads=1,
    dropout=0.0, image_size=48, default_steps=10, prediction="v",
)


@dataclass
class TrainSettings:
    """Hyper-parameters of one training run (stored in every checkpoint)."""

    image_size: int = 48  # rendered face size
    images_per_batch: int = 16  # faces rendered per step
    timesteps_per_image: int = 2  # noisy versions of each face per step
    lr: float = 1e-3  # AdamW learning rate after warm-up
    lr_final: float | None = None  # cosine-decay the learning rate to this over the run's wall time (None: constant)
    warmup_steps: int = 300  # linear warm-up
    weight_decay: float = 0.0
    grad_clip: float = 1.0
    ema_decay: float = 0.999  # EMA of weights; the EMA copy is what ships
    x0_weight_cap: float = 5.0  # cap on the 1/SNR term of the loss weight
    step_grids: tuple = (8, 10, 20)  # DDIM step counts whose timesteps are trained
    bf16: bool = True  # CPU/GPU autocast in bfloat16 (the loss is computed in float32)
    part_weights: tuple = ()  # ((part, weight), ...): loss weight of pixels in small parts (eyes, mouth)
    seed: int = 0


def training_timesteps(grids=(8, 10, 20)) -> torch.Tensor:
    """The union of the original timesteps used by the given DDIM step counts."""
    return torch.tensor(sorted({t for g in grids for t in ddim_timesteps(g)}), dtype=torch.int64)


def alpha_bar_table() -> torch.Tensor:
    """ā_t for t = 0…999 in float64 (the 1000-step linear schedule)."""
    return torch.from_numpy(alpha_bar_full())


def loss_weights(t: torch.Tensor, alpha_bar: torch.Tensor, cap: float) -> torch.Tensor:
    """w(t) = 1 + min(1/SNR(t), cap), SNR = ā/(1 − ā): ε loss plus a capped x̂0 loss."""
    ab = alpha_bar[t]
    return (1.0 + torch.clamp((1.0 - ab) / ab, max=cap)).float()


def pixel_weights(masks: torch.Tensor, part_weights: tuple) -> torch.Tensor:
    """Per-pixel loss weight (N, 1, H, W): 1, or a part's weight where the part mask says that part."""
    from chatface_widgets.toy import PARTS

    weights = torch.ones(masks.shape, dtype=torch.float32)
    for part, weight in part_weights:
        if part not in PARTS:
            raise ValueError(f"unknown part {part!r}; parts are {', '.join(PARTS)}")
        weights[masks == PARTS.index(part)] = float(weight)
    return weights[:, None]


def diffusion_loss(model: DiffAE, x0: torch.Tensor, settings: TrainSettings, grid: torch.Tensor,
                   alpha_bar: torch.Tensor, generator: torch.Generator,
                   weights: torch.Tensor | None = None) -> torch.Tensor:
    """DiffAE's loss (Eq. 4) with z = Enc(x0) shared by several noisy copies of x0.

    An ε-predicting UNet gets the weighted ε-MSE of :func:`loss_weights`; a v-predicting one the
    plain v-MSE, which equals the ε-MSE weighted by 1 + 1/SNR with no cap (an x̂0 loss at high t).
    ``weights`` (N, 1, H, W), from :func:`pixel_weights`, scales each pixel's squared error, so
    that small parts such as the eyes and the mouth count in z as much as their meaning does.
    """
    k = settings.timesteps_per_image
    device_type = x0.device.type
    with torch.autocast(device_type=device_type, dtype=torch.bfloat16, enabled=settings.bf16):
        z = model.encoder(x0)
    x0_rep = x0.repeat_interleave(k, dim=0)
    z_rep = z.repeat_interleave(k, dim=0)
    t = grid[torch.randint(len(grid), (x0_rep.shape[0],), generator=generator)]
    noise = torch.randn(x0_rep.shape, generator=generator).to(x0.device)  # drawn on the CPU: same stream anywhere
    ab = alpha_bar[t].float()[:, None, None, None].to(x0.device)
    t = t.to(x0.device)
    x_t = add_noise(x0_rep, noise, ab)
    with torch.autocast(device_type=device_type, dtype=torch.bfloat16, enabled=settings.bf16):
        out = model(x_t, t, z_rep)
    pixel = 1.0 if weights is None else weights.repeat_interleave(k, dim=0).to(x0.device)
    if model.config.prediction == "v":
        return ((out.float() - v_target(x0_rep, noise, ab)).pow(2) * pixel).mean()
    per_sample = ((out.float() - noise).pow(2) * pixel).mean(dim=(1, 2, 3))
    return (per_sample * loss_weights(t.cpu(), alpha_bar, settings.x0_weight_cap).to(x0.device)).mean()


def faces_to_tensor(images: np.ndarray) -> torch.Tensor:
    """uint8 (N, H, W, 3) → float32 (N, 3, H, W) in [-1, 1] (DiffAE's input scaling)."""
    return torch.from_numpy(images).permute(0, 3, 1, 2).float().div(127.5).sub(1.0)


class FaceStream:
    """An endless, seeded stream of rendered training faces (seeds below the held-out range)."""

    def __init__(self, size: int, batch: int, seed: int, start_batch: int = 0, part_weights: tuple = ()):
        from chatface_widgets.toy import HELDOUT_SEED_START

        self.size, self.batch, self.seed = size, batch, seed
        self.batch_index = start_batch
        self.limit = HELDOUT_SEED_START
        self.part_weights = tuple(part_weights)

    def next(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The next batch of faces in [-1, 1], and their per-pixel loss weights (None without part weights)."""
        from chatface_widgets.toy import render_batch, render_masked_batch

        rng = np.random.default_rng([self.seed, self.batch_index])
        seeds = rng.integers(0, self.limit, size=self.batch).tolist()
        self.batch_index += 1
        if not self.part_weights:
            return faces_to_tensor(render_batch(seeds, self.size)[0]), None
        images, _, masks = render_masked_batch(seeds, self.size)
        return faces_to_tensor(images), pixel_weights(torch.from_numpy(masks), self.part_weights)


def run_learning_rate(settings: TrainSettings, step: int, progress: float) -> float:
    """Linear warm-up by step, then constant or a cosine decay to ``lr_final`` over this run's wall time."""
    lr = settings.lr * min(1.0, (step + 1) / settings.warmup_steps)
    if settings.lr_final is None:
        return lr
    cosine = 0.5 * (1.0 + math.cos(math.pi * min(max(progress, 0.0), 1.0)))
    return settings.lr_final + (lr - settings.lr_final) * cosine


def ema_update(ema: torch.nn.Module, model: torch.nn.Module, decay: float) -> None:
    """θ_ema ← d·θ_ema + (1 − d)·θ."""
    with torch.no_grad():
        for e, p in zip(ema.parameters(), model.parameters()):
            e.lerp_(p, 1.0 - decay)


def save_checkpoint(path: Path, model, ema, opt, state: dict, settings: TrainSettings, config: DiffAEConfig) -> None:
    """Atomically write everything needed to resume (tensors and plain data only)."""
    tmp = path.with_suffix(".tmp")
    torch.save({"model": model.state_dict(), "ema": ema.state_dict(), "opt": opt.state_dict(), "state": state,
                "settings": asdict(settings), "config": config.to_json()}, tmp)
    os.replace(tmp, path)


def train(out_dir: Path, minutes: float, settings: TrainSettings, config: DiffAEConfig = TOY_CONFIG,
          checkpoint_every_s: float = 300.0, log_every: int = 20, export: Path | None = None,
          init_from: Path | None = None, device: str | None = None, prediction: str | None = None) -> dict:
    """Train (or resume) for ``minutes`` of wall time; returns the final state record.

    ``prediction`` ("eps" / "v") switches what the UNet predicts; set on a resumed or initialised
    run it fine-tunes the same weights towards the new target. Otherwise a checkpoint keeps its own.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    ckpt_path = out_dir / "ckpt.pt"
    torch.manual_seed(settings.seed)
    ck = torch.load(ckpt_path, map_location="cpu", weights_only=True) if ckpt_path.exists() else None
    if ck is not None:
        config = DiffAEConfig.from_json(ck["config"])
    if prediction is not None:
        config = replace(config, prediction=prediction)
    model = build_diffae(config)
    ema = copy.deepcopy(model)
    opt = torch.optim.AdamW(model.parameters(), lr=settings.lr, weight_decay=settings.weight_decay)
    state = {"step": 0, "images": 0, "seconds": 0.0, "runs": 0}
    if ck is not None:
        model.load_state_dict(ck["model"])
        ema.load_state_dict(ck["ema"])
        opt.load_state_dict(ck["opt"])
        state = ck["state"]
        print(f"resumed from {ckpt_path}: step {state['step']}, {state['images']} images, {state['seconds'] / 3600:.2f} h")
    elif init_from is not None:
        # Continue from shipped weights (e.g. weights/toy/diffae.safetensors): fresh optimiser, same record.
        from chatface_widgets.models.diffae import load_diffae

        shipped = load_diffae(init_from)
        config = replace(shipped.config, prediction=prediction or shipped.config.prediction)
        model = build_diffae(config)
        model.load_state_dict(shipped.state_dict())
        ema = copy.deepcopy(model)
        opt = torch.optim.AdamW(model.parameters(), lr=settings.lr, weight_decay=settings.weight_decay)
        meta_path = Path(init_from).with_suffix(".json")
        record = json.loads(meta_path.read_text()).get("training", {}) if meta_path.is_file() else {}
        state.update({k: record[k] for k in ("step", "images", "seconds", "runs") if k in record})
        state["warm_start"] = str(init_from)
        print(f"initialised from {init_from}: step {state['step']}, {state['images']} images")
    state["runs"] += 1
    from chatface_widgets.engine.devices import pick_device

    device = pick_device(device)
    model.to(device)
    ema.to(device)
    for opt_state in opt.state.values():  # a resumed optimiser follows the model's device
        for k, v in opt_state.items():
            if torch.is_tensor(v) and v.ndim:
                opt_state[k] = v.to(device)
    state.setdefault("history", []).append({"from_step": state["step"], "settings": asdict(settings),
                                            "prediction": config.prediction})
    model.train()
    ema.eval().requires_grad_(False)
    grid, alpha_bar = training_timesteps(settings.step_grids), alpha_bar_table()
    gen = torch.Generator().manual_seed(settings.seed * 1_000_003 + state["step"])
    stream = FaceStream(settings.image_size, settings.images_per_batch, settings.seed, start_batch=state["step"],
                        part_weights=settings.part_weights)
    log = (out_dir / "loss.jsonl").open("a")
    from tqdm import tqdm

    start = last_ckpt = time.time()
    seconds0 = state["seconds"]
    bar = tqdm(desc="train diffae", unit="step", initial=state["step"], dynamic_ncols=True, mininterval=5)
    running = None
    while time.time() - start < minutes * 60:
        lr = run_learning_rate(settings, state["step"], (time.time() - start) / (minutes * 60))
        for group in opt.param_groups:
            group["lr"] = lr
        x0, weights = stream.next()
        x0 = x0.to(device, non_blocking=True)
        loss = diffusion_loss(model, x0, settings, grid, alpha_bar, gen, weights)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), settings.grad_clip)
        opt.step()
        ema_update(ema, model, settings.ema_decay if state["step"] > settings.warmup_steps else 0.9)
        state["step"] += 1
        state["images"] += x0.shape[0]
        state["seconds"] = seconds0 + time.time() - start
        running = loss.item() if running is None else 0.98 * running + 0.02 * loss.item()
        bar.update(1)
        bar.set_postfix(loss=f"{running:.4f}", img=state["images"])
        if state["step"] % log_every == 0:
            log.write(json.dumps({"step": state["step"], "images": state["images"], "loss": round(running, 6),
                                  "lr": lr, "seconds": round(state["seconds"], 1)}) + "\n")
            log.flush()
        if time.time() - last_ckpt > checkpoint_every_s:
            save_checkpoint(ckpt_path, model, ema, opt, state, settings, config)
            last_ckpt = time.time()
    bar.close()
    state["loss"] = running
    save_checkpoint(ckpt_path, model, ema, opt, state, settings, config)
    if export is not None:
        export_weights(ckpt_path, export)
    return state


def parse_part_weights(items) -> tuple:
    """["eyes=10", "mouth=8"] → (("eyes", 10.0), ("mouth", 8.0)); a clear error for anything else."""
    from chatface_widgets.toy import PARTS

    pairs = []
    for item in items:
        part, sep, value = item.partition("=")
        try:
            weight = float(value)
        except ValueError:
            weight = float("nan")
        if not sep or part not in PARTS or not weight > 0:
            raise SystemExit(f"--part-weight wants PART=W with W > 0 and PART one of {', '.join(PARTS)}; got {item!r}")
        pairs.append((part, weight))
    return tuple(pairs)


def export_path(dst) -> Path:
    """Where ``--export`` writes: ``X.safetensors`` as given, else the model folder ``X/diffae.safetensors``."""
    dst = Path(dst)
    return dst if dst.suffix == ".safetensors" else dst / "diffae.safetensors"


def export_weights(ckpt_path: Path, dst: Path, half: bool = False, command: str | None = None,
                   default_steps: int | None = None, ema: bool = True) -> Path:
    """Write the EMA weights of a training checkpoint as safetensors + JSON with the training record.

    ``dst`` is a ``.safetensors`` file or a model folder (``dst/diffae.safetensors``); the JSON says
    ``"align": false``, so ``Engine.load(folder)``, ``chatface edit --model folder``, the panel and
    ``chatface eval`` use it as they use the built-in model.

    ``default_steps`` sets the decoding step count the model's JSON recommends (else the checkpoint's).
    ``ema=False`` writes the raw weights instead (the EMA lags about 1/(1 − decay) steps behind).
    """
    dst = export_path(dst)
    ck = torch.load(ckpt_path, map_location="cpu", weights_only=True)
    config = DiffAEConfig.from_json(ck["config"])
    if default_steps is not None:
        config = replace(config, default_steps=default_steps)
    model = DiffAE(config)
    model.load_state_dict(ck["ema" if ema else "model"])
    state = {k: v for k, v in ck["state"].items() if k != "history"}
    # The trainer draws toy-world faces, already framed: photos are centre-cropped, not FFHQ-aligned.
    record = {"align": False, "training": {**state, "weights": "ema" if ema else "raw", "settings": ck["settings"],
                           "phases": ck["state"].get("history", []),
                           "command": command or "python -m chatface_widgets.train.diffae_trainer --out runs/toy --minutes M"}}
    return save_diffae(model, dst, half=half, extra=record)


EPILOG = """example:
  chatface train-diffae --out runs/x --minutes 60 --export runs/x/model
then (a new model can reconstruct faces, and edits what mappers you train for it):
  chatface attributes --model runs/x/model
  chatface train-mapper --model runs/x/model --attribute eyeglasses --target "a face with glasses"
  chatface samples --out faces --count 4
  chatface edit faces/face-0000000.png "add glasses" -o out.png --model runs/x/model"""


def main(argv=None, prog: str = "chatface train-diffae") -> None:
    parser = argparse.ArgumentParser(
        prog=prog, description="Train (or resume) the built-in toy DiffAE on rendered faces.",
        formatter_class=argparse.RawDescriptionHelpFormatter, epilog=EPILOG)
    parser.add_argument("--out", type=Path, default=Path("runs/toy"), help="run folder (checkpoint, loss log)")
    parser.add_argument("--minutes", type=float, default=60.0, help="wall-clock budget of this run")
    parser.add_argument("--export", type=Path, default=None,
                        help="at the end, write a model folder here (diffae.safetensors + diffae.json with the EMA "
                             "weights) that edit, the panel and eval load; a path ending in .safetensors writes that file")
    parser.add_argument("--init-from", type=Path, default=None,
                        help="start from shipped weights when the run folder has no checkpoint (fresh optimiser)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--lr", type=float, default=TrainSettings.lr)
    parser.add_argument("--lr-final", type=float, default=None,
                        help="cosine-decay the learning rate to this value over --minutes (default: constant)")
    parser.add_argument("--prediction", choices=("eps", "v"), default=None,
                        help="what the UNet predicts (default: the checkpoint's; new runs: the toy config's)")
    parser.add_argument("--x0-cap", type=float, default=TrainSettings.x0_weight_cap,
                        help="cap on the 1/SNR term of the loss weight (higher: z matters more at noisy steps)")
    parser.add_argument("--part-weight", action="append", default=[], metavar="PART=W",
                        help="loss weight of a small part's pixels, e.g. eyes=10 (repeatable; parts as in toy.PARTS)")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: all cores)")
    parser.add_argument("--device", default=None, help="cpu or cuda (default: cuda when available)")
    parser.add_argument("--checkpoint-every", type=float, default=300.0, help="seconds between checkpoints")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    settings = TrainSettings(seed=args.seed, lr=args.lr, lr_final=args.lr_final, x0_weight_cap=args.x0_cap,
                             part_weights=parse_part_weights(args.part_weight))
    state = train(args.out, args.minutes, settings, checkpoint_every_s=args.checkpoint_every, export=args.export,
                  init_from=args.init_from, device=args.device, prediction=args.prediction)
    print(json.dumps({k: v for k, v in state.items()}, default=str))


if __name__ == "__main__":
    main()
