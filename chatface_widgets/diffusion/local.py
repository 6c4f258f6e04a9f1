"""Local edits as data: the photo's inversion trajectory, where an edit acts, and keeping the rest.

Three small pieces the samplers and the engine combine (no engine knowledge here):

* :class:`Trajectory`: every state s_0 = x0 … s_T = x_T that deterministic DDIM inversion passes
  (DiffAE Sec. 3.2). Its first state is the photo itself.
* :func:`edit_score`: where an edit acts, estimated by the network itself: the difference between its
  x̂0 predictions conditioned on z and on z_edit at middle noise levels (DiffEdit, Couairon et al.
  2022, Sec. 3.1, here on the photo's own inversion states instead of fresh noise), scaled to [0, 1].
  :func:`soft_region` thresholds it and widens it by a reach (dilation, then a feathered edge).
* :class:`KeepOutside`: a per-step "known x" schedule plus a mask, given to ``samplers.decode``:
  after each step, x ← s + m·(x − s) where s is the trajectory state at the decoder's noise level,
  so outside the region the decoder follows the photo's own trajectory while the edit forms
  (RePaint / Blended Diffusion style blending, deterministic), and after the last step the outside
  IS the photo (m = 0 gives s exactly).
* :func:`transfer`: inside the region, what the edit leaves alone is the photo's own pixels too (not
  the decoder's approximation of them): the edit plus the detail its reconstruction missed, faded
  out where the edit replaces what was there. The edit and the reconstruction are decoded with the
  same mask from the same x_T.

Masks are (B or 1, 1, H, W) float tensors in [0, 1]; 1 = the edit acts, 0 = the photo's own pixels.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional, Sequence

import torch
import torch.nn.functional as F

from chatface_widgets.diffusion.ddim import Model, ddim_step
from chatface_widgets.diffusion.schedule import Schedule

SCORE_LEVELS = (0.3, 0.5, 0.7)  # where along the chain (0 clean … 1 noisiest) edit_score compares x̂0 predictions
SCORE_FLOOR = 0.05  # mean |Δx̂0| (in [-1, 1] units) below which a score map counts as "no edit" (not rescaled up)


@dataclass(frozen=True)
class Trajectory:
    """States of deterministic DDIM inversion: ``states[k]`` is the input of inversion step k; the last is x_T."""

    states: tuple  # T + 1 tensors (1, 3, H, W): s_0 = x0 (the photo), s_1, …, s_T = x_T

    @property
    def steps(self) -> int:
        """T, the step count the trajectory was inverted with."""
        return len(self.states) - 1

    @property
    def x0(self) -> torch.Tensor:
        return self.states[0]

    @property
    def x_T(self) -> torch.Tensor:
        return self.states[-1]

    def known_after(self, i: int) -> torch.Tensor:
        """The photo's state at the level the decoder reaches after its step i (DiffAE's decode reads s_{i−1} there; s_0 at the end)."""
        return self.states[max(i - 1, 0)]


@dataclass(frozen=True)
class KeepOutside:
    """Decode-time blending: outside ``mask`` the decoder's x is replaced by the photo's trajectory at every step."""

    trajectory: Trajectory
    mask: torch.Tensor  # (B or 1, 1, H, W) in [0, 1]; 1 = the edit acts

    def __call__(self, x: torch.Tensor, i: int) -> torch.Tensor:
        """x after decode step i, blended: s + m·(x − s) (exactly s where m = 0, exactly x where m = 1)."""
        return _blend(self.trajectory.known_after(i), x, self.mask)

    def finish(self, x0_hat: torch.Tensor) -> torch.Tensor:
        """A predicted clean image (a preview, or an early stop) with the photo itself outside the mask."""
        return _blend(self.trajectory.x0, x0_hat, self.mask)


TRANSFER_TOLERANCE = 0.6  # |edit − reconstruction| ([-1, 1] units) from which a pixel is the edit's own, not photo + change


def transfer(photo: torch.Tensor, edited: torch.Tensor, reconstructed: torch.Tensor,
             tolerance: Optional[float] = None) -> torch.Tensor:
    """The edit with the photo's own detail where the edit leaves things alone: edited + (1 − w)·(photo − reconstructed).

    w = min(1, |Δ| / tolerance) with Δ = edited − reconstructed (its channel maximum): where the edit changes nothing (Δ = 0) the result is exactly the photo; where it replaces
    what was there (|Δ| ≥ tolerance) it is exactly the edit, so no ghost of the old content remains.
    """
    tolerance = TRANSFER_TOLERANCE if tolerance is None else float(tolerance)
    photo, reconstructed = photo.to(edited.dtype), reconstructed.to(edited.dtype)
    delta = edited - reconstructed
    change = delta.abs().amax(1, keepdim=True)
    w = (change / tolerance).clamp(0.0, 1.0)
    out = (edited + (1.0 - w) * (photo - reconstructed)).clamp(-1.0, 1.0)
    return torch.where(change == 0, photo, out)


def _blend(known: torch.Tensor, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """known + m·(x − known), and exactly known where m = 0, exactly x where m = 1."""
    known, mask = known.to(x.dtype), mask.to(x.dtype)
    mixed = known + mask * (x - known)
    return torch.where(mask == 0, known, torch.where(mask == 1, x, mixed))


@torch.no_grad()
def edit_score(model: Model, trajectory: Trajectory, z: torch.Tensor, z_edit: torch.Tensor, schedule: Schedule,
               levels: Sequence[float] = SCORE_LEVELS, floor: float = SCORE_FLOOR) -> torch.Tensor:
    """Where z_edit changes the network's x̂0 on this photo, (B, 1, H, W) in [0, 1] (DiffEdit Sec. 3.1).

    For each level, the photo's inversion state s_i is fed once with z and once with each z_edit (one
    batch); |x̂0(z_edit) − x̂0(z)| is averaged over channels and levels, then divided by its maximum
    (at least ``floor``, so an edit that changes nothing keeps a score near 0).
    """
    if trajectory.steps != schedule.steps:
        raise ValueError(f"trajectory has {trajectory.steps} steps, schedule {schedule.steps}")
    n = z_edit.shape[0]
    total = None
    for level in levels:
        i = min(schedule.steps - 1, max(0, round(float(level) * (schedule.steps - 1))))
        s = trajectory.states[i]
        x = s.expand(n + 1, *s.shape[1:])
        codes = torch.cat([z.expand(1, -1), z_edit])
        x0_hat = ddim_step(model, x, codes, schedule, i)[1].float()
        diff = (x0_hat[1:] - x0_hat[:1]).abs().mean(1, keepdim=True)
        total = diff if total is None else total + diff
    total = total / len(levels)
    peak = total.amax(dim=(1, 2, 3), keepdim=True).clamp_min(floor)
    return (total / peak).clamp(0.0, 1.0)


def soft_region(score: torch.Tensor, reach: float, threshold: float = 0.5) -> torch.Tensor:
    """A soft mask from a score map: ``score ≥ threshold``, dilated by ``reach``·size pixels, then feathered as far.

    ``reach`` is a fraction of the image side (0: the thresholded pixels only, hard edged). The
    feather only widens the region: 1 on the dilated mask, falling linearly to 0 one radius further.
    """
    hard = (score >= threshold).to(score.dtype)
    radius = max(0, int(round(float(reach) * score.shape[-1])))
    if radius == 0:
        return hard
    grown = F.max_pool2d(hard, 2 * radius + 1, stride=1, padding=radius)
    return _fade(grown, radius)


def _fade(grown: torch.Tensor, radius: int) -> torch.Tensor:
    """1 on the mask, falling linearly to 0 at ``radius`` pixels from it (chessboard distance)."""
    out = grown.clone()
    ring = grown
    for r in range(1, radius + 1):
        ring = F.max_pool2d(ring, 3, stride=1, padding=1)
        out = torch.maximum(out, ring * (1.0 - r / (radius + 1)))
    return out


PRIOR_FLOOR = 0.1  # an edit score peak inside a prior below this counts as "the edit does not act there"


def part_prior(parts: torch.Tensor, indices: Sequence[int], grow: float, threshold: float = 0.5) -> torch.Tensor:
    """Where an attribute may act, (B, 1, H, W) in {0, 1}: pixels whose listed parts have at least ``threshold``
    probability (default: likelier than not), grown by grow·side.

    ``parts``: per-pixel part probabilities (B, P, H, W) from a face parser or landmark maps.
    """
    likely = (parts[:, list(indices)].sum(1, keepdim=True) >= threshold).to(torch.float32)
    radius = max(0, int(round(float(grow) * parts.shape[-1])))
    return F.max_pool2d(likely, 2 * radius + 1, stride=1, padding=radius) if radius else likely


def restrict(score: torch.Tensor, prior: torch.Tensor, floor: float = PRIOR_FLOOR) -> torch.Tensor:
    """The edit score inside a prior only, rescaled to its own peak there (at least ``floor``); the score itself where the prior is empty."""
    if not bool((prior > 0).any()):
        return score
    inside = score * prior.to(score.dtype)
    peak = inside.amax(dim=(1, 2, 3), keepdim=True).clamp_min(floor)
    return (inside / peak).clamp(0.0, 1.0)


def union(masks: Sequence[torch.Tensor]) -> torch.Tensor:
    """Pixelwise maximum of masks that broadcast (several attributes edited at once, ChatFace Eq. 12)."""
    out = masks[0]
    for m in masks[1:]:
        out = torch.maximum(out, m)
    return out


def nonzero_fraction(mask: torch.Tensor) -> float:
    """How much of the image a mask touches (0 … 1), for status lines and reports."""
    return float((mask > 0).float().mean()) if mask.numel() else math.nan
