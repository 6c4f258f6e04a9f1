"""Train one ChatFace attribute mapper on a frozen DiffAE with CLIP-direction, identity and preservation losses.

    chatface train-mapper --model toy --attribute "curly hair" --target "a face with curly hair" --source "a face"

Per face the pool caches (x0, z = Enc(x0), x_T = DDIM-invert(x0 | z), D(z0), E_I(D(z0)), ID(D(z0)))
once. Each iteration draws a batch, computes ``z_edit = z + s·M(z)`` (ChatFace Eq. 5; the paper
trains at s = 1, ``train_strength`` may ask for the edit at a lower s), decodes ``D(z_edit)`` with
SMS (T = 8) through checkpointed steps, and steps Ranger on ``λ_pre·L_pre + λ_id·L_id + λ_dir·L_dir``.

Two choices beyond the issue's recipe, both to make "Ranger, lr 0.2" behave as it does in
StyleCLIP's mapper code, where ChatFace's mapper comes from:

* the mapper's linear layers train through an equalised-learning-rate view (StyleGAN's
  ``EqualLinear``, ``lr_mul`` 0.01): stored weights are scaled by ``lr_mul/√fan_in`` in the forward
  pass, so lr 0.2 moves effective weights by about ``0.2·lr_mul/√fan_in`` per Adam step; the saved
  mapper is a plain :class:`MLPMapper` with the effective weights;
* pytorch-optimizer 4.1's ``Ranger`` with its default ``degenerated_to_sgd=False`` steps *up* the
  gradient for the first five (unrectified) steps; we pass ``degenerated_to_sgd=True``, which is
  the original Ranger's momentum-SGD warm phase, and clip the gradient norm.
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence

import torch
from torch import nn
from torch.nn.utils import parametrize

from chatface_widgets.diffusion import conditioning
from chatface_widgets.editing.registry import normalize_name
from chatface_widgets.models.mapper import MLPMapper, save_mapper
from chatface_widgets.train.losses import LossWeights, mapper_loss, text_direction, unit

DECODE_STEPS = 8  # T of the SMS decoder while training (ChatFace: 8)
TRAIN_SEED_BASE = 700_000_000  # toy training faces come from seeds [base + 10^6·seed, …), below HELDOUT_SEED_START


def mapper_file_name(attribute: str) -> str:
    """Registry file stem of an attribute: 'Curly hair' → 'curly_hair'."""
    return normalize_name(attribute).replace(" ", "_")


# --- the face pool -------------------------------------------------------------------------------

@dataclass
class FacePool:
    """Faces encoded once: inputs, codes, reconstructions and the judges' view of the reconstructions."""

    x0: torch.Tensor  # (N, 3, H, W) input images in [-1, 1]
    z: torch.Tensor  # (N, D) semantic codes Enc(x0)
    x_T: torch.Tensor  # (N, 3, H, W) noise codes from T-step DDIM inversion
    x_rec: torch.Tensor  # (N, 3, H, W) D(z0): the T-step reconstruction
    clip_rec: torch.Tensor  # (N, E) E_I(D(z0))
    id_rec: torch.Tensor  # (N, F) ID(D(z0))
    x_true: Optional[torch.Tensor] = None  # (N, 3, H, W) the toy renderer's face with the attribute (truth option)

    def __len__(self) -> int:
        return self.x0.shape[0]

    def batch(self, idx: torch.Tensor) -> "FacePool":
        return FacePool(*(None if t is None else t[idx] for t in (self.x0, self.z, self.x_T, self.x_rec, self.clip_rec,
                                                                  self.id_rec, self.x_true)))

    def with_truth(self, x_true: Optional[torch.Tensor]) -> "FacePool":
        """The same pool with other true pictures (one attribute's), aligned row for row."""
        if x_true is not None and x_true.shape != self.x0.shape:
            raise ValueError(f"true pictures {tuple(x_true.shape)} do not match the pool {tuple(self.x0.shape)}")
        return FacePool(self.x0, self.z, self.x_T, self.x_rec, self.clip_rec, self.id_rec,
                        None if x_true is None else x_true.to(self.x0.device))


@torch.no_grad()
def encode_pool(engine, images: torch.Tensor, judges, steps: int = DECODE_STEPS, chunk: int = 16,
                progress: bool = False) -> FacePool:
    """Encode z and x_T for every image and cache D(z0) with its CLIP and identity embeddings."""
    from tqdm.auto import tqdm

    clip, ident = judges
    parts = []
    for i in tqdm(range(0, images.shape[0], chunk), desc="encoding faces", disable=not progress):
        x0 = images[i:i + chunk].to(engine.device)
        z = engine.encode(x0, fast=False)
        x_T = engine.invert(x0, z, steps, fast=False)
        x_rec = engine.decode(x_T, z, steps, fast=False)
        parts.append((x0, z, x_T, x_rec, clip.encode_image(x_rec), ident.embed(x_rec)))
    return FacePool(*(torch.cat(p) for p in zip(*parts)))


def toy_training_images(n: int, size: int, seed: int = 0) -> torch.Tensor:
    """n rendered toy faces from training seeds (below HELDOUT_SEED_START), in [-1, 1]."""
    from chatface_widgets.toy import HELDOUT_SEED_START, render_batch

    start = TRAIN_SEED_BASE + 1_000_000 * seed
    assert start + n < HELDOUT_SEED_START
    images, _ = render_batch(range(start, start + n), size)
    return torch.from_numpy(images).permute(0, 3, 1, 2).float().div(127.5).sub(1.0)


def toy_truth_images(n: int, size: int, attribute: str, seed: int = 0) -> torch.Tensor:
    """The true pictures of :func:`toy_training_images`' faces: each rendered again with ``attribute`` = 1, in [-1, 1]."""
    from chatface_widgets.toy import render_face, sample_params

    start = TRAIN_SEED_BASE + 1_000_000 * seed
    pictures = [render_face(sample_params(s).with_attributes({attribute: 1.0}), size).image for s in range(start, start + n)]
    from chatface_widgets.photos.photo import to_tensor

    return torch.cat([to_tensor(im) for im in pictures])


def truth_loss(x_edit: torch.Tensor, x_true: torch.Tensor) -> torch.Tensor:
    """L_truth = mean |D(z_edit) − x_true|₁: distance to the toy world's true picture (an option, not ChatFace's)."""
    return (x_edit - x_true.to(x_edit.dtype)).abs().mean()


def folder_images(folder, size: int, limit: Optional[int] = None) -> torch.Tensor:
    """Aligned face images from a folder (png/jpg/webp, sorted), centre-squared to ``size``, in [-1, 1]."""
    from chatface_widgets.photos.photo import center_square, load_photo, to_tensor

    paths = sorted(p for p in Path(folder).iterdir() if p.suffix.lower() in (".png", ".jpg", ".jpeg", ".webp"))
    if limit:
        paths = paths[:limit]
    if not paths:
        raise FileNotFoundError(f"no images in {folder}")
    return torch.cat([to_tensor(center_square(load_photo(p), size)) for p in paths])


# --- the mapper under training -------------------------------------------------------------------

class _Scale(nn.Module):
    """Parametrization w = scale·stored (StyleGAN's equalised learning rate)."""

    def __init__(self, scale: float):
        super().__init__()
        self.scale = scale

    def forward(self, stored: torch.Tensor) -> torch.Tensor:
        return stored * self.scale

    def right_inverse(self, value: torch.Tensor) -> torch.Tensor:
        return value / self.scale


def equalize_lr(mapper: MLPMapper, lr_mul: float) -> MLPMapper:
    """Train every Linear through w = (lr_mul/√fan_in)·stored, b = lr_mul·stored (effective weights unchanged)."""
    if lr_mul == 1.0:
        return mapper
    for layer in mapper.modules():
        if isinstance(layer, nn.Linear):
            parametrize.register_parametrization(layer, "weight", _Scale(lr_mul / math.sqrt(layer.in_features)))
            parametrize.register_parametrization(layer, "bias", _Scale(lr_mul))
    return mapper


def plain_mapper(mapper: MLPMapper) -> MLPMapper:
    """A copy of the mapper with the effective weights stored directly (what the registry loads)."""
    out = copy.deepcopy(mapper).cpu()
    for layer in out.modules():
        if isinstance(layer, nn.Linear) and parametrize.is_parametrized(layer):
            parametrize.remove_parametrizations(layer, "weight", leave_parametrized=True)
            parametrize.remove_parametrizations(layer, "bias", leave_parametrized=True)
    return out.eval()


RANGER_BETAS = (0.95, 0.999)  # Ranger's defaults


def make_optimizer(params, lr: float, beta2: float = RANGER_BETAS[1]):
    """The paper's optimizer: Ranger (RAdam + Lookahead, pytorch-optimizer), momentum-SGD warm phase.

    RAdam's rectification scales early steps by r_t: 0.15 at step 50 with β₂ = 0.999, 0.46 with
    β₂ = 0.99. A smaller β₂ rectifies sooner, but on the built-in model (lr 0.2, lr_mul 1) β₂ = 0.99
    diverged, so the default stays.
    """
    from pytorch_optimizer import Ranger

    return Ranger(params, lr=lr, betas=(RANGER_BETAS[0], beta2), degenerated_to_sgd=True)


# --- other attributes' edits around the one in training ------------------------------------------

@dataclass
class EditContext:
    """Frozen mappers of other attributes, added around the one in training (Eq. 12) so combined edits still hit.

    Each row of a batch gets, with probability ``prob``, the strength-1 steps of 1 to ``max_edits``
    other attributes (chosen at random). The edit is then judged against that row's context image
    D(z + Σ_j Δz_j(z)) instead of the plain reconstruction.
    """

    mappers: dict
    prob: float = 0.5
    max_edits: int = 2

    def without(self, attribute: str) -> Optional["EditContext"]:
        """The same context minus one attribute's mapper (None when nothing is left)."""
        rest = {n: m for n, m in self.mappers.items() if n != normalize_name(attribute)}
        return EditContext(rest, self.prob, self.max_edits) if rest else None

    def describe(self) -> dict:
        return {"attributes": sorted(self.mappers), "prob": self.prob, "max_edits": self.max_edits}

    @torch.no_grad()
    def sample(self, z: torch.Tensor, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """(Σ_j Δz_j(z) per row, bool rows that got a context); all Δz_j are evaluated at the original z (Eq. 12)."""
        names = sorted(self.mappers)
        rows = z.shape[0]
        steps = torch.stack([self.mappers[n].delta(z) for n in names], dim=1)  # (B, J, D)
        used = torch.rand(rows, generator=generator) < self.prob
        pick = torch.zeros(rows, len(names))
        for r in range(rows):
            if used[r]:
                k = int(torch.randint(1, min(self.max_edits, len(names)) + 1, (1,), generator=generator))
                pick[r, torch.randperm(len(names), generator=generator)[:k]] = 1.0
        used = used.to(z.device)
        return (pick.to(z.device, z.dtype).unsqueeze(-1) * steps).sum(dim=1), used


def load_context(folder, exclude: str = "", device=None, prob: float = 0.5, max_edits: int = 2) -> Optional[EditContext]:
    """An EditContext from every mapper card in ``folder`` except ``exclude``'s; None when none is left."""
    from chatface_widgets.editing.registry import AttributeRegistry

    registry = AttributeRegistry.from_folder(folder)
    if not len(registry):
        raise FileNotFoundError(f"no mapper cards in {folder} to use as context")
    mappers = {n: registry[n].mapper.to(device).eval() for n in registry.names}
    for m in mappers.values():
        m.requires_grad_(False)
    return EditContext(mappers, prob, max_edits).without(exclude)


def _context_references(engine, b: FacePool, context: EditContext, generator, steps: int, judges):
    """(z + context, x_ref, clip_ref, id_ref): rows with a context are judged against their context image."""
    clip, ident = judges
    offset, used = context.sample(b.z, generator)
    x_ref, clip_ref, id_ref = b.x0, b.clip_rec, b.id_rec
    if bool(used.any()):
        with torch.no_grad():
            x_c = engine.decode(b.x_T[used], conditioning.sms(b.z[used], b.z[used] + offset[used]), steps, fast=False)
            x_ref, clip_ref, id_ref = x_ref.clone(), clip_ref.clone(), id_ref.clone()
            x_ref[used], clip_ref[used], id_ref[used] = x_c.to(x_ref.dtype), clip.encode_image(x_c), ident.embed(x_c)
    return b.z + offset, x_ref, clip_ref, id_ref


# --- training ------------------------------------------------------------------------------------

def cosine_lr(lr: float, lr_final: Optional[float], iteration: int, iters: int) -> float:
    """lr at 0-based ``iteration``: constant when lr_final is None, else cosine from lr down to lr_final."""
    if lr_final is None or iters <= 1:
        return lr
    progress = min(iteration / (iters - 1), 1.0)
    return lr_final + 0.5 * (lr - lr_final) * (1.0 + math.cos(math.pi * progress))


def _summary(history: list[dict], last: int = 20) -> dict:
    """Mean of each loss over the last ``last`` iterations."""
    tail = history[-last:]
    keys = [k for k in ("total", "pre", "id", "dir", "global", "truth") if tail and k in tail[0]]
    return {k: round(sum(h[k] for h in tail) / len(tail), 5) for k in keys}


def make_card(engine, attribute, synonyms, targets, sources, history, iterations, pool, judges, recipe,
              grad_clip, grad_checkpoint, device) -> dict:
    """The mapper's JSON card: attribute, synonyms, prompts, losses, iterations, model and training record."""
    times = [h["seconds"] for h in history[1:]] or [h["seconds"] for h in history]
    clip, ident = judges
    return {
        "attribute": normalize_name(attribute),
        "synonyms": list(synonyms),
        "prompts": {"target": targets, "source": sources},
        "losses": {"weights": recipe["weights"],
                   "first": {k: history[0][k] for k in ("total", "pre", "id", "dir")} if history else {},
                   "final_mean_last_20": _summary(history)},
        "iterations": iterations,
        "model": {"name": engine.info.name, "file": Path(str(engine.info.path)).name, "z_channels": pool.z.shape[1],
                  "image_size": int(pool.x0.shape[-1])},
        "judges": {"clip": getattr(clip, "name", ""), "identity": getattr(ident, "name", "")},
        "training": {"optimizer": "Ranger (pytorch-optimizer, degenerated_to_sgd=True)", "lr": recipe["lr"],
                     "betas": recipe["betas"], "lr_final": recipe["lr_final"],
                     "lr_mul": recipe["lr_mul"], "grad_clip": grad_clip, "batch": recipe["batch"],
                     "pool_size": len(pool), "seed": recipe["seed"],
                     "decode": {"steps": recipe["steps"], "sms": True, "strength": recipe["train_strength"],
                                "checkpointed": grad_checkpoint},
                     "context": recipe.get("context"), "truth_weight": recipe.get("truth_weight", 0.0),
                     "seconds_per_iteration": round(sum(times) / len(times), 4) if times else None,
                     "device": str(device)},
    }


def train_mapper(engine, attribute: str, target, source, iters: int, judges, out_dir, synonyms: Sequence[str] = (),
                 batch: int = 8, lr: float = 0.2, seed: int = 0, resume: bool = True, progress: bool = True, *,
                 images: Optional[torch.Tensor] = None, pool_size: int = 64, pool: Optional[FacePool] = None,
                 steps: int = DECODE_STEPS, weights: LossWeights = LossWeights(), lr_mul: float = 0.01,
                 grad_clip: float = 1.0, checkpoint_dir=None, checkpoint_every: int = 50, amp: bool = False,
                 grad_checkpoint: bool = True, context: Optional[EditContext] = None,
                 beta2: float = RANGER_BETAS[1], lr_final: Optional[float] = None,
                 train_strength: float = 1.0, truth_weight: float = 0.0) -> dict:
    """Train (or resume) the mapper for one attribute; write it into ``out_dir``; return history and card.

    ``judges`` is ``(ClipJudge, IdentityJudge)``. Faces: ``pool`` if given, else ``images``
    (N, 3, H, W) in [-1, 1], else ``pool_size`` rendered toy faces (built-in world only).
    The checkpoint (``checkpoint_dir``, default ``out_dir/.checkpoints``) keeps mapper, optimizer,
    sampler state and history, so a resumed run reproduces an uninterrupted one. ``grad_checkpoint``
    recomputes each decoder step in the backward pass (memory O(1) in T instead of O(T), about 1.3x the time).
    ``context`` (an :class:`EditContext`) trains the mapper amid other attributes' edits.
    ``train_strength`` s: the losses judge ``z + s·M(z)``, so the mapper learns to reach the edit at
    strength s and strength 1 goes 1/s times as far.
    ``truth_weight`` λ_t > 0 (built-in world only, an OPTION beside ChatFace's recipe) adds
    λ_t·|D(z + s·M(z)) − x_true|₁, x_true the renderer's own picture of the face with the attribute at 1
    (``pool.x_true``, else rendered from the toy training seeds); use it with ``train_strength`` 1.
    """
    if not 0.0 < train_strength <= 4.0:
        raise ValueError(f"train_strength must be in (0, 4], got {train_strength}")
    targets = [target] if isinstance(target, str) else list(target)
    sources = [source] if isinstance(source, str) else list(source)
    name = mapper_file_name(attribute)
    out_dir = Path(out_dir)
    ckpt_path = Path(checkpoint_dir or out_dir / ".checkpoints") / f"{name}.pt"
    device = engine.device
    clip, ident = (j.to(device) for j in judges)
    recipe = {"attribute": attribute, "target": targets, "source": sources, "batch": batch, "lr": lr, "seed": seed,
              "lr_mul": lr_mul, "steps": steps, "model": engine.info.name, "weights": weights.to_json(),
              "betas": [RANGER_BETAS[0], beta2], "lr_final": lr_final, "train_strength": float(train_strength)}
    if context is not None:
        recipe["context"] = context.describe()
    if truth_weight:
        recipe["truth_weight"] = float(truth_weight)

    if pool is None:
        if images is None:
            if engine.info.align:
                raise ValueError("real-photo models need training faces: pass images= (a folder of aligned faces)")
            images = toy_training_images(pool_size, engine.image_size, seed)
        pool = encode_pool(engine, images, (clip, ident), steps, progress=progress)
    if truth_weight and pool.x_true is None:
        if images is not None or engine.info.align:
            raise ValueError("truth_weight needs true pictures: the built-in world's pool, or pool.x_true")
        pool = pool.with_truth(toy_truth_images(len(pool), engine.image_size, attribute, seed))
    text_dir = text_direction(clip, targets, sources).to(device)
    text_target = unit(clip.encode_text(targets).mean(dim=0)).to(device)
    text_source = unit(clip.encode_text(sources).mean(dim=0)).to(device)

    torch.manual_seed(seed)
    mapper = equalize_lr(MLPMapper(pool.z.shape[1], name=attribute), lr_mul).to(device).train()
    opt = make_optimizer(mapper.parameters(), lr, beta2)
    sampler = torch.Generator().manual_seed(seed)
    history: list[dict] = []
    start = 0
    if resume and ckpt_path.is_file():
        state = torch.load(ckpt_path, map_location=device, weights_only=True)
        if state["recipe"] != recipe:
            raise ValueError(f"{ckpt_path} was trained with {state['recipe']}, not {recipe}; pass resume=False")
        mapper.load_state_dict(state["mapper"])
        opt.load_state_dict(state["optimizer"])
        sampler.set_state(state["sampler"])
        history, start = state["history"], state["iteration"]

    def save_checkpoint(iteration: int) -> None:
        ckpt_path.parent.mkdir(parents=True, exist_ok=True)
        tmp = ckpt_path.with_suffix(".tmp")
        torch.save({"recipe": recipe, "iteration": iteration, "mapper": mapper.state_dict(), "history": history,
                    "optimizer": opt.state_dict(), "sampler": sampler.get_state()}, tmp)
        tmp.replace(ckpt_path)

    from tqdm.auto import tqdm

    bar = tqdm(range(start, iters), initial=start, total=max(iters, start), desc=name, disable=not progress)
    params = list(mapper.parameters())
    for it in bar:
        t0 = time.perf_counter()
        for group in opt.param_groups:
            group["lr"] = cosine_lr(lr, lr_final, it, iters)
        b = pool.batch(torch.randint(len(pool), (batch,), generator=sampler).to(device))
        z_base, x_ref, clip_ref, id_ref = b.z, b.x0, b.clip_rec, b.id_rec
        if context is not None:
            z_base, x_ref, clip_ref, id_ref = _context_references(engine, b, context, sampler, steps, (clip, ident))
        delta = train_strength * mapper(b.z)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp):
            x_edit = engine.decode_differentiable(b.x_T, conditioning.sms(b.z, z_base + delta), steps,
                                                  checkpoint=grad_checkpoint)
        x_edit = x_edit.float()
        loss, parts = mapper_loss(x_ref, x_edit, delta, id_ref, ident.embed(x_edit), clip_ref,
                                  clip.encode_image(x_edit), text_dir, weights, text_target, text_source)
        if truth_weight:
            truth = truth_loss(x_edit, b.x_true)
            loss = loss + truth_weight * truth
            parts = {**parts, "total": loss.item(), "truth": truth.item()}
        opt.zero_grad(set_to_none=True)
        loss.backward()
        grad_norm = torch.nn.utils.clip_grad_norm_(params, grad_clip if grad_clip else float("inf"))
        opt.step()
        history.append({"iteration": it + 1, **{k: round(v, 6) for k, v in parts.items()},
                        "delta_z": round(delta.detach().norm(dim=-1).mean().item(), 6),
                        "grad_norm": round(float(grad_norm), 6), "seconds": round(time.perf_counter() - t0, 4)})
        bar.set_postfix(pre=f"{parts['pre']:.3f}", id=f"{parts['id']:.3f}", dir=f"{parts['dir']:.3f}")
        if checkpoint_every and (it + 1) % checkpoint_every == 0:
            save_checkpoint(it + 1)
    done = max(iters, start)
    save_checkpoint(done)

    card = make_card(engine, attribute, synonyms, targets, sources, history, done, pool, (clip, ident), recipe,
                     grad_clip, grad_checkpoint, device)
    path = save_mapper(plain_mapper(mapper), out_dir / f"{name}.safetensors", card)
    return {"history": history, "path": str(path), "card": card, "checkpoint": str(ckpt_path)}


# --- command line --------------------------------------------------------------------------------

_UNSET = object()  # an option not given on the command line: recipe_defaults fills it


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="chatface train-mapper", description="Train one ChatFace text-driven attribute mapper.")
    p.add_argument("--model", default="toy", help="toy, ffhq256, ffhq128 or a DiffAE checkpoint path")
    p.add_argument("--attribute", required=True, help="registry name, e.g. 'curly hair'")
    p.add_argument("--target", nargs="+", required=True, help="target prompt(s), e.g. 'a face with curly hair'")
    p.add_argument("--source", nargs="+", default=["a face"], help="source prompt(s)")
    p.add_argument("--synonyms", nargs="*", default=[], help="chat synonyms stored on the card")
    p.add_argument("--iters", type=int, default=_UNSET,
                   help="default: the model's recipe (recipes.json in its folder), else 1000")
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--lr", type=float, default=0.2)
    p.add_argument("--lr-final", type=optional_float, default=_UNSET,
                   help="cosine-decay the lr to this by the last iteration; 'none' keeps it constant "
                        "(default: the model's recipe, else none)")
    p.add_argument("--lr-mul", type=float, default=_UNSET,
                   help="equalised-lr multiplier of the mapper's layers (default: the model's recipe, else 0.01)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--images", help="folder of aligned training faces (required for real models)")
    p.add_argument("--pool-size", type=int, default=64, help="faces encoded up front")
    p.add_argument("--judges", help="folder with the toy judges (clip.*, identity.*); default: the toy model's folder")
    p.add_argument("--clip-model", default="ViT-B-32", help="open_clip model name (real models)")
    p.add_argument("--clip-pretrained", default="openai", help="open_clip pretrained tag or local weights file")
    p.add_argument("--id-weights", help="model_ir_se50.pth (real models)")
    p.add_argument("--out", help="mapper folder (default: <CHATFACE_HOME>/models/<model>/mappers, where the engine "
                                 "finds it; never the package's own files)")
    p.add_argument("--lambda-global", type=float, default=_UNSET,
                   help="weight of StyleCLIP's global CLIP loss (default: the model's recipe, "
                        "else 0 = ChatFace's recipe)")
    p.add_argument("--global-margin", type=optional_float, default=_UNSET,
                   help="hinge the global CLIP loss at this target-over-source cosine gap; 'none' = StyleCLIP's form "
                        "(default: the model's recipe, else none)")
    p.add_argument("--train-strength", type=float, default=_UNSET,
                   help="edit strength s at which the losses judge z + s·M(z) (default: the model's recipe, "
                        "else 1 = ChatFace's recipe)")
    p.add_argument("--truth-weight", type=float, default=0.0,
                   help="OPTION, built-in world only: weight of an L1 term to the renderer's true picture of each training "
                        "face with the attribute (0 = ChatFace's recipe; use with --train-strength 1)")
    p.add_argument("--truth-latent", action="store_true",
                   help="OPTION, built-in world only: fit M(z) to Enc(true picture) - z and mark the card \"sms\": false "
                        "(chatface_widgets.train.truth_latents); no CLIP, no decoding")
    p.add_argument("--context", help="folder of other attributes' mappers to train amid (combined edits, Eq. 12)")
    p.add_argument("--context-prob", type=float, default=0.5, help="fraction of rows that get other attributes' edits")
    p.add_argument("--checkpoint-dir", help="where checkpoints go (default: <out>/.checkpoints)")
    p.add_argument("--checkpoint-every", type=int, default=50)
    p.add_argument("--no-resume", action="store_true")
    p.add_argument("--device")
    p.add_argument("--amp", action="store_true", help="bf16 autocast for the decoder (GPU)")
    p.add_argument("--no-grad-checkpoint", action="store_true",
                   help="keep every decoder step's activations (faster; fine for small models)")
    p.add_argument("--threads", type=int, help="torch CPU threads")
    p.add_argument("--quiet", action="store_true")
    return p


def optional_float(text: str) -> Optional[float]:
    """argparse type: a float, or 'none' for None."""
    return None if text.strip().lower() == "none" else float(text)


def recipe_defaults(engine, args) -> dict:
    """Unset iters, lr_mul, λ_glob, global margin, final lr and training strength: the model's recipes
    (its ``recipes.json`` in the catalogue, with the attribute's own overrides), else the paper's."""
    from chatface_widgets.train.recipes import RecipeBook

    chosen = {"iters": args.iters, "lr_mul": args.lr_mul, "lambda_global": args.lambda_global,
              "global_margin": args.global_margin, "lr_final": args.lr_final, "train_strength": args.train_strength}
    book = RecipeBook.for_engine(engine).settings(args.attribute)
    return {k: (v if v is not _UNSET else book[k]) for k, v in chosen.items()}


def load_judges_for(engine, args):
    """The judges the catalogue names for the model: its toy judge networks, else open_clip + IR-SE50."""
    from chatface_widgets.train.judges import ClipJudge, IdentityJudge, load_toy_judges

    spec = getattr(engine, "spec", None)
    if args.judges or (spec is not None and spec.judges == "toy"):
        return load_toy_judges(args.judges or spec.folder)
    from chatface_widgets.engine.weights import MissingWeightsError, resolve

    id_weights, pretrained = args.id_weights, args.clip_pretrained
    if not id_weights:
        id_weights = resolve("ir_se50")  # the weights cache; its error says where to get the file
    if pretrained == "openai" and args.clip_model == "ViT-B-32":
        try:  # prefer the cached OpenAI file over a download
            pretrained = str(resolve("clip_vit_b32_openai"))
        except MissingWeightsError:
            pass
    return (ClipJudge.from_open_clip(args.clip_model, pretrained, device=engine.device),
            IdentityJudge.from_irse50(id_weights, device=engine.device))


def default_output(engine) -> Path:
    """Where a trained mapper goes unless --out says: the user folder of the model, never the package."""
    from chatface_widgets.engine.catalogue import user_folder

    return user_folder(engine.spec.name if getattr(engine, "spec", None) else engine.info.name) / "mappers"


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    from chatface_widgets.engine.engine import Engine

    engine = Engine.load(args.model, device=args.device)
    if args.truth_latent:
        import sys

        from chatface_widgets.train.truth_latents import train_truth_latent

        out = Path(args.out) if args.out else default_output(engine)
        res = train_truth_latent(engine, normalize_name(args.attribute), out, args.synonyms, args.target, args.source,
                                 seed=args.seed, command="chatface train-mapper " + " ".join(sys.argv[1:] if argv is None else argv))
        print(json.dumps({"path": res["path"], "training": res["card"]["training"]}))
        return 0
    recipe = recipe_defaults(engine, args)
    judges = load_judges_for(engine, args)
    images = folder_images(args.images, engine.image_size, args.pool_size) if args.images else None
    out = Path(args.out) if args.out else default_output(engine)
    context = (load_context(args.context, args.attribute, engine.device, args.context_prob)
               if args.context else None)
    result = train_mapper(engine, args.attribute, args.target, args.source, recipe["iters"], judges, out, args.synonyms,
                          batch=args.batch, lr=args.lr, seed=args.seed, resume=not args.no_resume,
                          progress=not args.quiet, images=images, pool_size=args.pool_size, lr_mul=recipe["lr_mul"],
                          checkpoint_dir=args.checkpoint_dir, checkpoint_every=args.checkpoint_every, amp=args.amp,
                          grad_checkpoint=not args.no_grad_checkpoint, context=context, lr_final=recipe["lr_final"],
                          train_strength=recipe["train_strength"], truth_weight=args.truth_weight,
                          weights=LossWeights(glob=recipe["lambda_global"], glob_margin=recipe["global_margin"]))
    print(json.dumps({"path": result["path"], "iterations": result["card"]["iterations"],
                      "losses": result["card"]["losses"]["final_mean_last_20"]}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
