"""The decoder's colour noise removed: a Gaussian blur of the chroma (R − Y, B − Y) that keeps the luma (BT.601)."""

from __future__ import annotations

import math
from typing import Optional

import torch
import torch.nn.functional as F

LUMA = (0.299, 0.587, 0.114)  # BT.601 weights: the same luma as eval.truth's speckle measure
LARGEST_SIGMA = 3.0  # px; a card asking for more is refused (models.card_fields)
REPAINTED = 0.05  # a change of this much (of the [-1, 1] range, any channel) counts as a pixel fully repainted


def gaussian_kernel(sigma: float, dtype=torch.float32, device=None) -> torch.Tensor:
    """A normalised 1-D Gaussian of σ px, radius ⌈3σ⌉."""
    radius = max(1, math.ceil(3 * sigma))
    t = torch.arange(-radius, radius + 1, dtype=torch.float64)
    k = torch.exp(-0.5 * (t / sigma) ** 2)
    return (k / k.sum()).to(dtype=dtype, device=device)


def blur(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """Separable Gaussian blur of (B, C, H, W), reflected at the borders."""
    k = gaussian_kernel(sigma, x.dtype, x.device)
    r, c = len(k) // 2, x.shape[1]
    rows = k.view(1, 1, 1, -1).expand(c, 1, 1, -1)
    x = F.conv2d(F.pad(x, (r, r, 0, 0), mode="reflect"), rows, groups=c)
    return F.conv2d(F.pad(x, (0, 0, r, r), mode="reflect"), rows.transpose(2, 3), groups=c)


def luma(x: torch.Tensor) -> torch.Tensor:
    """Y of (B, 3, H, W) RGB, (B, 1, H, W)."""
    w = torch.tensor(LUMA, dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
    return (x * w).sum(1, keepdim=True)


def _chroma_blurred(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """blur(x) + (Y − blur(Y)): the luma of x and the blurred chroma of x, since both are linear in RGB."""
    blurred = blur(x, sigma)
    return blurred + (luma(x) - luma(blurred))


def _applies(x: torch.Tensor, sigma: float) -> bool:
    return sigma > 0 and x.shape[1] == 3 and min(x.shape[-2:]) > math.ceil(3 * sigma)


def smooth_chroma(x: torch.Tensor, sigma: float, mask: Optional[torch.Tensor] = None) -> torch.Tensor:
    """x with its chroma blurred by σ px and its luma kept; only where ``mask`` (B|1, 1, H, W) allows, x itself where it is 0."""
    if not _applies(x, sigma):
        return x
    work = x.float()
    return _masked(work, _chroma_blurred(work, sigma).clamp(-1.0, 1.0), mask).to(x.dtype)


def smooth_change(before: torch.Tensor, after: torch.Tensor, sigma: float,
                  mask: Optional[torch.Tensor] = None) -> torch.Tensor:
    """``after`` with the chroma of its change from ``before`` blurred (a painter's colour noise, not the photo's)."""
    if not _applies(after, sigma):
        return after
    base = before.float()
    smooth = (base + _chroma_blurred(after.float() - base, sigma)).clamp(-1.0, 1.0)
    return _masked(after.float(), smooth, mask).to(after.dtype)


def repainted(before: torch.Tensor, after: torch.Tensor, full: float = REPAINTED) -> torch.Tensor:
    """How much each pixel was repainted, (B, 1, H, W) in [0, 1]: its largest channel change over ``full``, capped at 1."""
    return ((after.float() - before.float()).abs().amax(1, keepdim=True) / full).clamp(max=1.0)


def _masked(work: torch.Tensor, smooth: torch.Tensor, mask: Optional[torch.Tensor]) -> torch.Tensor:
    """smooth where the mask is 1, work where it is 0 (bit for bit), blended between."""
    if mask is not None:
        m = mask.to(work.dtype)
        smooth = torch.where(m == 0, work, work + m * (smooth - work))
    return smooth
