"""Every step rule in one place: DiffAE's ``ddim{T}`` respacing (valid counts, the timesteps they keep,
the nearest valid count) and a model's StepPolicy (default, interactive bound, menu choices, snapping
what an interpreter heard to a valid count).

Pure Python (no torch), so the chat interpreter can validate step counts without importing torch.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Optional

import numpy as np

NUM_TRAIN_TIMESTEPS = 1000  # T of the training schedule
BETA_START, BETA_END = 1e-4, 0.02  # linear β schedule of DiffAE
DEFAULT_STEPS = 8  # ChatFace's T when a model names no default of its own (its slot default, "fast")
QUALITY_STEPS = 50  # the paper's largest time-step slot ("best quality")
INTERACTIVE_MAX_STEPS = 100  # the panel, the CLI, recipes and batches refuse more (the Python API does not)


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


@dataclass(frozen=True)
class StepPolicy:
    """Which DDIM step counts a model accepts, which it uses by default, and the interactive bound."""

    default: int  # the model's own default step count (a valid count)
    maximum: Optional[int] = None  # the largest count accepted (panel and CLI); None: any valid count

    def __post_init__(self):
        check_steps(self.default)

    def check(self, steps) -> int:
        """``steps`` as an int if valid (and within ``maximum``); else ValueError naming valid counts."""
        steps = check_steps(steps)
        if self.maximum is not None and steps > self.maximum:
            raise ValueError(f"steps={steps} is more than the {self.maximum} allowed here (it would take "
                             f"{steps / self.default:.0f}x the default {self.default}-step time); choose "
                             f"{self.default} to {self.maximum}, or call face.render(steps=...) from Python")
        return steps

    def or_default(self, steps) -> int:
        """The default for None, else :meth:`check` (0 is an error, never 'the default')."""
        return self.default if steps is None else self.check(steps)

    def choices(self, up_to: int = QUALITY_STEPS) -> list[int]:
        """The valid counts to offer in a menu: every valid count up to ``up_to``, plus the default."""
        top = min(up_to, self.maximum) if self.maximum is not None else up_to
        return sorted(set(valid_step_counts(top)) | {self.default})

    def levels(self) -> tuple[int, int, int]:
        """(fast, better, best): the default, about 2.5x the default, and the paper's 50."""
        best = max(QUALITY_STEPS, self.default)
        better = min((c for c in valid_step_counts(best) if c >= 2.5 * self.default), default=best)
        return self.default, better, best

    def snap(self, steps) -> int:
        """The valid count nearest to a number an interpreter heard (larger on a tie), within [2, maximum]."""
        top = self.maximum if self.maximum is not None else NUM_TRAIN_TIMESTEPS
        snapped = max(nearest_valid_steps(min(max(int(round(float(steps))), 2), top)))
        return snapped if snapped <= top else max(valid_step_counts(top))

    def bounded(self, maximum: int = INTERACTIVE_MAX_STEPS) -> "StepPolicy":
        """The same policy with an upper bound (what the panel and the CLI use)."""
        return replace(self, maximum=max(maximum, self.default))
