"""One deterministic DDIM step (η = 0), used by inversion, decoding and the differentiable decoder.

Symbols as in :mod:`.schedule`: at respaced step i the network sees x_i at original timestep t_i
with code z_i; ᾱ_i is ``schedule.alphas_cumprod[i]`` and the target ᾱ' is ᾱ_{i−1} when decoding
(towards x0) or ᾱ_{i+1} when inverting (towards x_T, DiffAE Sec. 3.2).
"""

from __future__ import annotations

import math
from typing import Callable

import torch

from chatface_widgets.diffusion.schedule import Schedule, _coef, eps_from_x0, predict_x0

# The network: (x_t, t, z) -> raw prediction (ε or v, as schedule.prediction says); t is int64 (B,).
Model = Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]


def timestep_batch(t: int, x: torch.Tensor) -> torch.Tensor:
    """The original timestep t as an int64 tensor of x's batch size, on x's device."""
    return torch.full((x.shape[0],), int(t), dtype=torch.int64, device=x.device)


def ddim_step(model: Model, x: torch.Tensor, z: torch.Tensor, schedule: Schedule, i: int,
              inverse: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """(x at ᾱ', x̂0): DDIM Eq. 12 with η = 0; ε is re-derived from the clipped x̂0 as the reference does.

    ``inverse=False`` moves to ᾱ_{i−1} (decoding, DiffAE Eq. 2); ``inverse=True`` to ᾱ_{i+1}
    (deterministic inversion, DDIM Eq. 12 run backwards).
    """
    alpha_bar = float(schedule.alphas_cumprod[i])
    target = float(schedule.alphas_cumprod_next[i] if inverse else schedule.alphas_cumprod_prev[i])
    eps = schedule.to_eps(model(x, timestep_batch(schedule.timesteps[i], x), z), x, i)
    x0 = predict_x0(x, eps, alpha_bar)
    eps = eps_from_x0(x, x0, alpha_bar)
    return _coef(math.sqrt(target), x0) * x0 + _coef(math.sqrt(1.0 - target), x0) * eps, x0
