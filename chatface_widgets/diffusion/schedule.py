"""The respaced DDIM schedule of one step count and the conversions between ε, v and x̂0.

Symbols (DDIM, Song et al. 2021; v: Salimans & Ho 2022; DiffAE, Preechakul et al. 2022):

* ``alpha_bar`` (ᾱ_t): ∏(1 − β) of the linear 1000-step schedule, at original timestep t
* ``x_t``: the noisy image at t; ``x0``: the clean image; ``x0`` predicted and clipped is x̂0
* ``eps`` (ε): the noise in x_t = √ᾱ_t·x0 + √(1 − ᾱ_t)·ε  (DDPM Eq. 4)
* ``v``: the velocity √ᾱ_t·ε − √(1 − ᾱ_t)·x0, what a v-predicting UNet outputs
* ``i``: a respaced step index 0…T−1 (0 is the least noisy); ``t_i`` its original timestep

The reference code keeps the schedule in float64 and casts a coefficient to float32 where it is
used; the tensor arithmetic is float32. We do the same, so the golden fixtures match.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import torch

from chatface_widgets.models.diffae import PREDICTIONS  # what a network may return: "eps" (noise ε) or "v" (velocity)
from chatface_widgets.foundation.steps import alpha_bar_full, ddim_timesteps


@dataclass(frozen=True)
class Schedule:
    """Respaced DDIM coefficients for one step count and prediction type (float64, indexed by step i)."""

    prediction: str  # "eps" or "v": how to read the network's raw output
    timesteps: np.ndarray  # t_i, the original timestep fed to the network, int64, ascending
    alphas_cumprod: np.ndarray  # ᾱ_i of the respaced chain (β from ᾱ ratios, then cumprod, as the reference)
    alphas_cumprod_prev: np.ndarray  # ᾱ_{i−1}; 1 for i = 0 (the decoding target)
    alphas_cumprod_next: np.ndarray  # ᾱ_{i+1}; 0 for the last i (the inversion target)
    betas: np.ndarray  # respaced β_i = 1 − ᾱ_i / ᾱ_{i−1}
    train_alphas_cumprod: np.ndarray  # ᾱ_{t_i} of the 1000-step schedule: what v was trained against

    @property
    def steps(self) -> int:
        """T, the number of DDIM steps."""
        return len(self.timesteps)

    def to_eps(self, out: torch.Tensor, x_t: torch.Tensor, i: int) -> torch.Tensor:
        """ε from the network's raw output at step i (unchanged for an ε-predicting network)."""
        return to_eps(out, x_t, float(self.train_alphas_cumprod[i]), self.prediction)


@lru_cache(maxsize=64)
def make_schedule(steps: int, prediction: str = "eps") -> Schedule:
    """The respaced schedule as the reference SpacedDiffusion builds it (DDIM Sec. 4.2 with DiffAE's spacing)."""
    if prediction not in PREDICTIONS:
        raise ValueError(f"prediction must be one of {PREDICTIONS}, got {prediction!r}")
    kept = ddim_timesteps(steps)
    full_alpha_bar = alpha_bar_full()
    betas, last = [], 1.0
    for t in kept:
        betas.append(1.0 - full_alpha_bar[t] / last)
        last = full_alpha_bar[t]
    betas = np.asarray(betas, dtype=np.float64)
    alpha_bar = np.cumprod(1.0 - betas)
    return Schedule(
        prediction=prediction,
        timesteps=np.asarray(kept, dtype=np.int64),
        alphas_cumprod=alpha_bar,
        alphas_cumprod_prev=np.append(1.0, alpha_bar[:-1]),
        alphas_cumprod_next=np.append(alpha_bar[1:], 0.0),
        betas=betas,
        train_alphas_cumprod=full_alpha_bar[kept],
    )


def _coef(value: float, like: torch.Tensor, dtype: torch.dtype | None = None) -> torch.Tensor:
    """A float64 coefficient cast to float32 (as the reference indexes its arrays), then to ``dtype`` or like's."""
    return torch.tensor(np.float32(value), dtype=torch.float32, device=like.device).to(dtype or like.dtype)


def predict_x0(x_t: torch.Tensor, eps: torch.Tensor, alpha_bar: float, clip: bool = True) -> torch.Tensor:
    """x̂0 = √(1/ᾱ)·x_t − √(1/ᾱ − 1)·ε (DDIM Eq. 9), clipped to [-1, 1]."""
    x0 = _coef(math.sqrt(1.0 / alpha_bar), x_t) * x_t - _coef(math.sqrt(1.0 / alpha_bar - 1.0), x_t) * eps
    return x0.clamp(-1.0, 1.0) if clip else x0


def eps_from_x0(x_t: torch.Tensor, x0: torch.Tensor, alpha_bar: float) -> torch.Tensor:
    """ε' = (√(1/ᾱ)·x_t − x̂0) / √(1/ᾱ − 1) (DDIM Eq. 9 for ε): the noise consistent with a clipped x̂0."""
    return (_coef(math.sqrt(1.0 / alpha_bar), x_t) * x_t - x0) / _coef(math.sqrt(1.0 / alpha_bar - 1.0), x_t)


def eps_from_v(v: torch.Tensor, x_t: torch.Tensor, alpha_bar: float) -> torch.Tensor:
    """ε = √ᾱ·v + √(1 − ᾱ)·x_t (Salimans & Ho 2022, Sec. 4), in float32 whatever the autocast."""
    a, s = _coef(math.sqrt(alpha_bar), x_t, torch.float32), _coef(math.sqrt(1.0 - alpha_bar), x_t, torch.float32)
    with torch.autocast(device_type=x_t.device.type, enabled=False):
        return a * v.float() + s * x_t.float()


def v_from_eps(eps: torch.Tensor, x_t: torch.Tensor, alpha_bar: float) -> torch.Tensor:
    """v = (ε − √(1 − ᾱ)·x_t) / √ᾱ: the inverse of :func:`eps_from_v`."""
    return (eps - _coef(math.sqrt(1.0 - alpha_bar), x_t) * x_t) / _coef(math.sqrt(alpha_bar), x_t)


def to_eps(out: torch.Tensor, x_t: torch.Tensor, alpha_bar: float, prediction: str) -> torch.Tensor:
    """ε from a raw network output that is ``prediction`` ("eps": as is; "v": :func:`eps_from_v`)."""
    if prediction == "eps":
        return out
    if prediction == "v":
        return eps_from_v(out, x_t, alpha_bar)
    raise ValueError(f"prediction must be one of {PREDICTIONS}, got {prediction!r}")


def add_noise(x0: torch.Tensor, eps: torch.Tensor, alpha_bar) -> torch.Tensor:
    """x_t = √ᾱ·x0 + √(1 − ᾱ)·ε (DDPM Eq. 4); ``alpha_bar`` a float or a tensor that broadcasts."""
    if isinstance(alpha_bar, torch.Tensor):
        return alpha_bar.sqrt() * x0 + (1 - alpha_bar).sqrt() * eps
    return math.sqrt(alpha_bar) * x0 + math.sqrt(1.0 - alpha_bar) * eps


def v_target(x0: torch.Tensor, noise: torch.Tensor, alpha_bar: torch.Tensor) -> torch.Tensor:
    """v = √ᾱ·ε − √(1 − ᾱ)·x0 (Salimans & Ho 2022, Sec. 4): training target of a v-predicting UNet."""
    return alpha_bar.sqrt() * noise - (1 - alpha_bar).sqrt() * x0
