"""ChatFace mapper losses: preservation, identity and CLIP-directional terms, and their weighted sum.

With D the SMS decoder (T = 8, s = 1), z_edit = z + M(z) and x0 the input image:

* L_pre = |x0 − D(z_edit)|₁ + |Δz|₂                             (ChatFace preservation loss)
* L_id  = 1 − cos(ID(D(z0)), ID(D(z_edit)))                      (ChatFace identity loss)
* L_dir = 1 − cos(E_I(D(z_edit)) − E_I(D(z0)), E_T(tgt) − E_T(src))  (StyleGAN-NADA directional loss)
* L     = λ_pre·L_pre + λ_id·L_id + λ_dir·L_dir, λ = 0.2 / 0.5 / 2.0 (ChatFace's total mapper loss)

Optional, off in the paper recipe: StyleCLIP's global CLIP loss L_glob = 1 − cos(E_I(D(z_edit)), E_T(tgt)).
L_dir is blind to the size of the image change (a tiny edit in the right direction scores as well as
a full one), so with L_pre pulling Δz towards 0 the edit can stay faint; λ_glob > 0 rewards reaching
the target. L_glob never stops rewarding: the edit keeps exaggerating. With a margin m it becomes a
hinge, L_glob = max(0, m − (cos(E_I(D(z_edit)), E_T(tgt)) − cos(E_I(D(z_edit)), E_T(src)))): once CLIP
prefers the target prompt to the source prompt by m, only L_pre acts on the size of the step.

Every term is a batch mean. Embeddings passed in are unit vectors (the judges return them so).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Sequence

import torch
import torch.nn.functional as F

DIRECTION_EPS = 1e-7  # StyleGAN-NADA's guard when normalising a (near-)zero direction


@dataclass(frozen=True)
class LossWeights:
    """λ of ChatFace's total mapper loss (paper values)."""

    pre: float = 0.2  # preservation: pixel L1 to the input plus the size of the latent step
    id: float = 0.5  # identity: ArcFace (or toy ID net) cosine to the reconstruction
    dir: float = 2.0  # CLIP direction: image change parallel to the text change
    glob: float = 0.0  # StyleCLIP global CLIP term (not in ChatFace's recipe; 0 turns it off)
    glob_margin: float | None = None  # None: StyleCLIP's form; a number: the hinge on target-over-source

    def to_json(self) -> dict:
        return asdict(self)


def unit(v: torch.Tensor, eps: float = DIRECTION_EPS) -> torch.Tensor:
    """v / (|v| + eps) along the last axis, as StyleGAN-NADA normalises its directions."""
    return v / (v.norm(dim=-1, keepdim=True) + eps)


def preservation_loss(x0: torch.Tensor, x_edit: torch.Tensor, delta_z: torch.Tensor) -> torch.Tensor:
    """L_pre = mean |x0 − D(z_edit)|₁ per pixel + mean over the batch of |Δz|₂ (ChatFace preservation loss)."""
    return F.l1_loss(x_edit, x0) + delta_z.norm(dim=-1).mean()


def identity_loss(id_rec: torch.Tensor, id_edit: torch.Tensor) -> torch.Tensor:
    """L_id = 1 − cos(ID(D(z0)), ID(D(z_edit))) on unit embeddings (ChatFace identity loss)."""
    return (1.0 - (id_rec * id_edit).sum(dim=-1)).mean()


def text_direction(clip, target: Sequence[str] | str, source: Sequence[str] | str) -> torch.Tensor:
    """Unit ΔT = E_T(target) − E_T(source); several prompts per side are averaged first (NADA's templates)."""
    t = clip.encode_text(target).mean(dim=0)
    s = clip.encode_text(source).mean(dim=0)
    return unit(t - s)


def directional_loss(clip_rec: torch.Tensor, clip_edit: torch.Tensor, text_dir: torch.Tensor) -> torch.Tensor:
    """L_dir = 1 − cos(E_I(D(z_edit)) − E_I(D(z0)), ΔT) (StyleGAN-NADA directional loss)."""
    image_dir = unit(clip_edit - clip_rec)
    return (1.0 - (image_dir * text_dir.to(image_dir.dtype)).sum(dim=-1)).mean()


def global_clip_loss(clip_edit: torch.Tensor, text_target: torch.Tensor) -> torch.Tensor:
    """L_glob = 1 − cos(E_I(D(z_edit)), E_T(target)) (StyleCLIP's CLIP loss) on unit embeddings."""
    return (1.0 - (clip_edit * text_target.to(clip_edit.dtype)).sum(dim=-1)).mean()


def global_margin_loss(clip_edit: torch.Tensor, text_target: torch.Tensor, text_source: torch.Tensor,
                       margin: float) -> torch.Tensor:
    """L_glob = max(0, m − (cos(E_I(D(z_edit)), E_T(tgt)) − cos(E_I(D(z_edit)), E_T(src)))) on unit embeddings."""
    gap = clip_edit @ text_target.to(clip_edit.dtype) - clip_edit @ text_source.to(clip_edit.dtype)
    return torch.relu(margin - gap).mean()


def mapper_loss(x0: torch.Tensor, x_edit: torch.Tensor, delta_z: torch.Tensor, id_rec: torch.Tensor,
                id_edit: torch.Tensor, clip_rec: torch.Tensor, clip_edit: torch.Tensor, text_dir: torch.Tensor,
                weights: LossWeights = LossWeights(), text_target: torch.Tensor | None = None,
                text_source: torch.Tensor | None = None) -> tuple[torch.Tensor, dict[str, float]]:
    """L = λ_pre·L_pre + λ_id·L_id + λ_dir·L_dir (+ λ_glob·L_glob) (ChatFace's total mapper loss); parts as floats."""
    pre = preservation_loss(x0, x_edit, delta_z)
    idl = identity_loss(id_rec, id_edit)
    dirl = directional_loss(clip_rec, clip_edit, text_dir)
    total = weights.pre * pre + weights.id * idl + weights.dir * dirl
    parts = {"pre": pre.item(), "id": idl.item(), "dir": dirl.item()}
    if weights.glob:
        if text_target is None:
            raise ValueError("weights.glob > 0 needs text_target = unit E_T(target)")
        if weights.glob_margin is None:
            glob = global_clip_loss(clip_edit, text_target)
        elif text_source is None:
            raise ValueError("weights.glob_margin needs text_source = unit E_T(source)")
        else:
            glob = global_margin_loss(clip_edit, text_target, text_source, weights.glob_margin)
        total = total + weights.glob * glob
        parts["global"] = glob.item()
    return total, {"total": total.item(), **parts}
