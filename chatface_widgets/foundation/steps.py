"""DiffAE's ``ddim{T}`` respacing rules: which step counts are valid and which timesteps they keep.

Pure Python (no torch), so the chat interpreter can validate step counts without importing torch.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Optional

import numpy as np

NUM_TRAIN_TIMESTEPS = 1000  # T of the training schedule
BETA_START, BETA_END = 1e-4, 0.02  # linear β schedule of DiffAE


def base_betas(total: int = NUM_TRAIN_TIMESTEPS) -> np.ndarray:
    """The linear β schedule in float64 (DDPM Eq. 4 schedule as DiffAE scales it)."""
    scale = 1000 / total
    return np.linspace(scale * BETA_START, scale * BETA_END, total, dtype=np.float64)


def alpha_bar_full(total: int = NUM_TRAIN_TIMESTEPS) -> np.ndarray:
    """ā_t = ∏(1 − β) for every original timestep, float64."""
    return np.cumprod(1.0 - base_betas(total))


def _stride_for(steps: int, total: int = NUM_TRAIN_TIMESTEPS) -> Optional[int]:
    """The smallest integer stride s with len(range(0, total, s)) == steps, or None."""
    for stride in range(1, total + 1):
        if len(range(0, total, stride)) == steps:
            return stride
    return None


@lru_cache(maxsize=None)
def valid_step_counts(max_steps: int = NUM_TRAIN_TIMESTEPS) -> list[int]:
    """All step counts the official ``ddim{T}`` respacing accepts, up to ``max_steps``."""
    counts = sorted({len(range(0, NUM_TRAIN_TIMESTEPS, s)) for s in range(1, NUM_TRAIN_TIMESTEPS + 1)})
    return [c for c in counts if 2 <= c <= max_steps]


def nearest_valid_steps(steps: int) -> list[int]:
    """The valid step counts closest to ``steps`` (one, or two on a tie)."""
    counts = valid_step_counts()
    best = min(abs(c - steps) for c in counts)
    return [c for c in counts if abs(c - steps) == best]


def check_steps(steps) -> int:
    """Return ``steps`` as an int if the respacing accepts it, else raise ValueError naming valid ones."""
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)):
        raise ValueError(f"steps must be an integer, got {steps!r}")
    steps = int(steps)
    if steps in valid_step_counts():
        return steps
    if steps < 2:
        raise ValueError(f"steps={steps} is invalid: DDIM needs at least 2 steps (try 8, 20 or 50)")
    near = " or ".join(str(c) for c in nearest_valid_steps(steps))
    raise ValueError(
        f"steps={steps} is not a valid DDIM step count for the 1000-step schedule; "
        f"nearest valid: {near} (valid up to 50: {', '.join(map(str, valid_step_counts(50)))})"
    )


def ddim_timesteps(steps: int) -> list[int]:
    """The original timesteps 0…999 that DiffAE's ``ddim{T}`` respacing keeps (T = 8 → 0, 125, …, 875)."""
    steps = check_steps(steps)
    return list(range(0, NUM_TRAIN_TIMESTEPS, _stride_for(steps)))


