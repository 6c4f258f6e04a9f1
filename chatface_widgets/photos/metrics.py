"""Pure metric functions for edit evaluation (numpy in, numbers out; images are (H, W, 3) in [0, 1]).

Definitions used by ``chatface eval``:

* hit: for a face whose reconstruction reads the attribute as absent (oracle < 0.5), the edit is a
  hit when the oracle reading of the edit is ≥ 0.5 and rose by ≥ 0.3 over the reconstruction.
  Callers may also pass ``attainable`` (per face): whether the attribute can show on that face at
  all without changing who it is (the toy world draws no curls on a buzz cut); other faces are not
  eligible, since only an identity change could make them hits.
* sc (spatial consistency): among pixels outside the edited region, the fraction whose largest
  per-channel absolute change between reconstruction and edit is < 0.1.
* texture shown (curls): the high-pass energy of the luma (mean |y − its 3×3 box mean|) inside the
  part the attribute lives in rose by at least TEXTURE_SHARE of the rise the renderer itself draws
  for that face; an oracle can read "curly" off a new hairstyle, this reads curls.
* preservation: PSNR (peak 1.0) between reconstruction and edit over the pixels outside the edited
  region; identical images give +inf (reports cap it, see ``PSNR_CAP``).
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np

THRESHOLD = 0.5  # oracle reading at which an attribute counts as present
HIT_MARGIN = 0.3  # minimum rise of the oracle reading for a hit
SC_TOLERANCE = 0.1  # per-pixel change (in [0, 1] units) that still counts as unchanged
PSNR_CAP = 100.0  # dB reported for (near-)identical images so JSON stays finite
TEXTURE_SHARE = 0.5  # share of the renderer's own texture rise an edit must show
_LUMA = np.array([0.299, 0.587, 0.114])


def texture(image: np.ndarray, mask: np.ndarray) -> float:
    """High-pass energy of the luma inside ``mask``: mean |y − 3×3 box mean of y| (nan for an empty mask)."""
    mask = np.asarray(mask, bool)
    if not mask.any():
        return math.nan
    y = np.asarray(image, np.float64) @ _LUMA
    h, w = y.shape
    padded = np.pad(y, 1, mode="edge")
    box = sum(padded[dy:dy + h, dx:dx + w] for dy in range(3) for dx in range(3)) / 9.0
    return float(np.abs(y - box)[mask].mean())


def texture_shown(edit: float, before: float, target: float, share: float = TEXTURE_SHARE) -> float:
    """1.0 when ``edit`` texture rose by ≥ share of the target's rise over ``before``, else 0.0 (nan: no rise to show)."""
    gap = target - before
    if not (math.isfinite(edit) and math.isfinite(gap)) or gap <= 0:
        return math.nan
    return float(edit - before >= share * gap)


def psnr(a: np.ndarray, b: np.ndarray, peak: float = 1.0) -> float:
    """Peak signal-to-noise ratio in dB over all elements; +inf when a == b."""
    mse = float(np.mean((np.asarray(a, np.float64) - np.asarray(b, np.float64)) ** 2))
    return math.inf if mse == 0.0 else 10.0 * math.log10(peak * peak / mse)


def masked_psnr(a: np.ndarray, b: np.ndarray, mask: np.ndarray, peak: float = 1.0) -> float:
    """PSNR over the pixels where the (H, W) mask is true (all channels); nan for an empty mask."""
    mask = np.asarray(mask, bool)
    if not mask.any():
        return math.nan
    return psnr(np.asarray(a)[mask], np.asarray(b)[mask], peak)


def capped(value: float, cap: float = PSNR_CAP) -> float:
    """min(value, cap), keeping nan as nan (for JSON-safe PSNR)."""
    return value if math.isnan(value) else min(value, cap)


def spatial_consistency(a: np.ndarray, b: np.ndarray, mask: np.ndarray, tol: float = SC_TOLERANCE) -> float:
    """Fraction of masked pixels whose max-over-channels |a − b| < tol; nan for an empty mask."""
    mask = np.asarray(mask, bool)
    if not mask.any():
        return math.nan
    change = np.abs(np.asarray(a, np.float64) - np.asarray(b, np.float64)).max(-1)
    return float(np.mean(change[mask] < tol))


def eligible(before: np.ndarray, threshold: float = THRESHOLD, attainable: np.ndarray | None = None) -> np.ndarray:
    """Faces on which an add-the-attribute edit can be judged: the attribute reads absent (and is attainable)."""
    ok = np.asarray(before, np.float64) < threshold
    return ok if attainable is None else ok & np.asarray(attainable, bool)


def hit(before: np.ndarray, after: np.ndarray, threshold: float = THRESHOLD, margin: float = HIT_MARGIN) -> np.ndarray:
    """Boolean per face: reading crosses the threshold and rises by at least margin (see module doc)."""
    before, after = np.asarray(before, np.float64), np.asarray(after, np.float64)
    return (before < threshold) & (after >= threshold) & (after - before >= margin)


def hit_rate(before: np.ndarray, after: np.ndarray, threshold: float = THRESHOLD, margin: float = HIT_MARGIN,
             attainable: np.ndarray | None = None) -> tuple[float, int]:
    """(fraction of eligible faces that are hits, number of eligible faces); nan when none is eligible."""
    ok = eligible(before, threshold, attainable)
    n = int(ok.sum())
    return (float(hit(before, after, threshold, margin)[ok].mean()) if n else math.nan), n


def cosine(a: np.ndarray, b: np.ndarray, eps: float = 1e-12) -> np.ndarray:
    """Row-wise cosine similarity of two (N, D) arrays."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    num = (a * b).sum(-1)
    return num / np.maximum(np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1), eps)


def unit(x: np.ndarray, eps: float = 1e-12) -> np.ndarray:
    """Rows scaled to unit length."""
    x = np.asarray(x, np.float64)
    return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), eps)


def directional_similarity(image_edit: np.ndarray, image_recon: np.ndarray, text_target: np.ndarray,
                           text_source: np.ndarray) -> np.ndarray:
    """cos(E_I(edit) − E_I(recon), E_T(target) − E_T(source)) per row, embeddings unit-normalised first."""
    d_img = unit(image_edit) - unit(image_recon)
    d_txt = unit(text_target) - unit(text_source)
    return cosine(d_img, np.broadcast_to(d_txt, d_img.shape))


def identity_similarity(a: np.ndarray, b: np.ndarray, circular: np.ndarray | None = None) -> np.ndarray:
    """1 − mean |a − b| per row for identity readings scaled to [0, 1]; circular columns wrap around."""
    d = np.abs(np.asarray(a, np.float64) - np.asarray(b, np.float64))
    if circular is not None:
        d = np.where(np.asarray(circular, bool), np.minimum(d, 1.0 - d), d)
    return 1.0 - d.mean(-1)


def dilate(mask: np.ndarray, radius: int = 1) -> np.ndarray:
    """Binary dilation with a (2r+1)² square."""
    mask = np.asarray(mask, bool)
    if radius <= 0:
        return mask.copy()
    padded = np.pad(mask, radius)
    out = np.zeros_like(mask)
    h, w = mask.shape
    for dy in range(2 * radius + 1):
        for dx in range(2 * radius + 1):
            out |= padded[dy:dy + h, dx:dx + w]
    return out


def edited_region(mask_before: np.ndarray, mask_after: np.ndarray, part_ids: Sequence[int],
                  changed: np.ndarray | None = None, radius: int = 1) -> np.ndarray:
    """Pixels of the edited parts in either part mask (plus ``changed``), dilated by ``radius``."""
    region = np.isin(mask_before, part_ids) | np.isin(mask_after, part_ids)
    if changed is not None:
        region |= np.asarray(changed, bool)
    return dilate(region, radius)


def monotone(values: Sequence[float], tol: float = 0.01) -> bool:
    """True when the sequence never drops by more than tol."""
    v = [x for x in values if not math.isnan(x)]
    return all(b >= a - tol for a, b in zip(v, v[1:]))


def nanmean(values) -> float:
    """Mean ignoring nan; nan when nothing is left."""
    arr = np.asarray(list(values), np.float64)
    arr = arr[~np.isnan(arr)]
    return float(arr.mean()) if arr.size else math.nan
