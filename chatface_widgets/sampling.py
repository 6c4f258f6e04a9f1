"""DDIM respacing, inversion and decoding for a diffusion autoencoder, with ChatFace's SMS.

Every function is small and pure: it takes the network, tensors and a step count, and returns
tensors. Symbols follow DDIM (Song et al. 2021) and DiffAE (Preechakul et al. 2022):

* ``ā_t`` (``alpha_bar``): cumulative product of ``1 − β`` of the linear 1000-step schedule.
* ``x_t``: the noisy image at original timestep ``t``; ``x_T``: the noise code.
* ``z``: the semantic code from the encoder; ``z_edit``: the edited code (ChatFace Eq. 12).
* ``ε``: the network's noise prediction; ``x̂0``: the predicted clean image, clipped to [-1, 1].

The reference code keeps the schedule in float64 and casts a coefficient to float32 when it is
used; the tensor arithmetic is float32. We do the same so the golden fixtures match.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from typing import Callable, Optional

import numpy as np
import torch

from .diffusion.respacing import (BETA_END, BETA_START, NUM_TRAIN_TIMESTEPS, alpha_bar_full, base_betas,  # noqa: F401
                        check_steps, ddim_timesteps, nearest_valid_steps, valid_step_counts)

@dataclass(frozen=True)
class Schedule:
    """Respaced DDIM coefficients for one step count (float64, indexed by respaced step i)."""

    timesteps: np.ndarray  # original timestep t_i fed to the network, int64, ascending
    alphas_cumprod: np.ndarray  # ā at t_i
    alphas_cumprod_prev: np.ndarray  # ā at t_{i−1}; 1 for i = 0
    alphas_cumprod_next: np.ndarray  # ā at t_{i+1}; 0 for the last i
    betas: np.ndarray  # respaced β_i = 1 − ā_i / ā_{i−1}

    @property
    def steps(self) -> int:
        return len(self.timesteps)


@lru_cache(maxsize=64)
def make_schedule(steps: int) -> Schedule:
    """Respaced schedule as the reference SpacedDiffusion builds it (β from ā ratios, then cumprod)."""
    kept = ddim_timesteps(steps)
    full_alpha_bar = alpha_bar_full()
    betas, last = [], 1.0
    for t in kept:
        betas.append(1.0 - full_alpha_bar[t] / last)
        last = full_alpha_bar[t]
    betas = np.asarray(betas, dtype=np.float64)
    alpha_bar = np.cumprod(1.0 - betas)
    return Schedule(
        timesteps=np.asarray(kept, dtype=np.int64),
        alphas_cumprod=alpha_bar,
        alphas_cumprod_prev=np.append(1.0, alpha_bar[:-1]),
        alphas_cumprod_next=np.append(alpha_bar[1:], 0.0),
        betas=betas,
    )


def _coef(value: float, like: torch.Tensor) -> torch.Tensor:
    """A float64 schedule coefficient cast to float32 the way the reference indexes its arrays."""
    return torch.tensor(np.float32(value), dtype=torch.float32, device=like.device).to(like.dtype)


def predict_x0(x_t: torch.Tensor, eps: torch.Tensor, alpha_bar: float, clip: bool = True) -> torch.Tensor:
    """x̂0 = √(1/ā)·x_t − √(1/ā − 1)·ε (DDIM Eq. 9), clipped to [-1, 1]."""
    x0 = _coef(math.sqrt(1.0 / alpha_bar), x_t) * x_t - _coef(math.sqrt(1.0 / alpha_bar - 1.0), x_t) * eps
    return x0.clamp(-1.0, 1.0) if clip else x0


def eps_from_x0(x_t: torch.Tensor, x0: torch.Tensor, alpha_bar: float) -> torch.Tensor:
    """ε' = (√(1/ā)·x_t − x̂0) / √(1/ā − 1): the noise consistent with a clipped x̂0."""
    return (_coef(math.sqrt(1.0 / alpha_bar), x_t) * x_t - x0) / _coef(math.sqrt(1.0 / alpha_bar - 1.0), x_t)


def ddim_move(x0: torch.Tensor, eps: torch.Tensor, alpha_bar_target: float) -> torch.Tensor:
    """x_{t'} = √ā_{t'}·x̂0 + √(1 − ā_{t'})·ε' (DDIM Eq. 12 with η = 0), forwards or backwards."""
    return _coef(math.sqrt(alpha_bar_target), x0) * x0 + _coef(math.sqrt(1.0 - alpha_bar_target), x0) * eps


def _timestep_tensor(t: int, batch: int, device) -> torch.Tensor:
    return torch.full((batch,), int(t), dtype=torch.int64, device=device)


def sms_code(z: torch.Tensor, z_edit: torch.Tensor, remaining: int, steps: int) -> torch.Tensor:
    """z_t = z + (t/T)·(z_edit − z): ChatFace's Stable Manipulation Strategy (Eq. 13), t steps to go."""
    return z + (remaining / steps) * (z_edit - z)


StepCallback = Callable[[dict], Optional[bool]]


@torch.no_grad()
def encode_stochastic(model, x0: torch.Tensor, z: torch.Tensor, steps: int, callback: StepCallback | None = None) -> torch.Tensor:
    """x_T from deterministic DDIM inversion of x0 conditioned on z (DiffAE Sec. 3.2, Eq. 3 reversed)."""
    sched = make_schedule(steps)
    x = x0
    for i in range(sched.steps):
        eps = model(x, _timestep_tensor(sched.timesteps[i], x.shape[0], x.device), z)
        pred_x0 = predict_x0(x, eps, sched.alphas_cumprod[i])
        eps = eps_from_x0(x, pred_x0, sched.alphas_cumprod[i])
        x = ddim_move(pred_x0, eps, sched.alphas_cumprod_next[i])
        if callback is not None and callback({"i": i, "x": x, "denoised": pred_x0, "steps": sched.steps}) is False:
            break
    return x


def decode_steps(model, x_T: torch.Tensor, z: torch.Tensor, steps: int, z_edit: torch.Tensor | None = None,
                 callback: StepCallback | None = None):
    """Generator over DDIM decoding (DiffAE Eq. 2, η = 0) yielding (i, x, x̂0); SMS when z_edit is given."""
    sched = make_schedule(steps)
    x = x_T
    for i in reversed(range(sched.steps)):
        cond = z if z_edit is None else sms_code(z, z_edit, i + 1, sched.steps)
        eps = model(x, _timestep_tensor(sched.timesteps[i], x.shape[0], x.device), cond)
        pred_x0 = predict_x0(x, eps, sched.alphas_cumprod[i])
        eps = eps_from_x0(x, pred_x0, sched.alphas_cumprod[i])
        x = ddim_move(pred_x0, eps, sched.alphas_cumprod_prev[i])
        yield i, x, pred_x0
        if callback is not None:
            info = {"i": sched.steps - 1 - i, "x": x, "denoised": pred_x0, "steps": sched.steps}
            if callback(info) is False:
                return


@torch.no_grad()
def decode(model, x_T: torch.Tensor, z: torch.Tensor, steps: int, z_edit: torch.Tensor | None = None,
           callback: StepCallback | None = None) -> torch.Tensor:
    """x̂0 in [-1, 1] from (x_T, z) by DDIM; with z_edit, step i conditions on SMS z_t (ChatFace Eq. 13).

    The callback gets ``{"i", "x", "denoised", "steps"}`` after each step (i counts 0…T−1 in
    decoding order); returning ``False`` stops the loop and the current x̂0 is returned.
    """
    x = pred_x0 = x_T
    for i, x, pred_x0 in decode_steps(model, x_T, z, steps, z_edit=z_edit, callback=callback):
        pass
    return x if i == 0 else pred_x0


def decode_differentiable(model, x_T: torch.Tensor, z: torch.Tensor, steps: int, z_edit: torch.Tensor | None = None,
                          checkpoint: bool = True) -> torch.Tensor:
    """The SMS decoder D(z_edit) with gradients through every step, checkpointed to bound memory."""
    from torch.utils.checkpoint import checkpoint as run_checkpointed

    sched = make_schedule(steps)
    x = x_T

    def one_step(x, cond, t, ab, ab_prev):
        eps = model(x, _timestep_tensor(t, x.shape[0], x.device), cond)
        pred_x0 = predict_x0(x, eps, ab)
        eps = eps_from_x0(x, pred_x0, ab)
        return ddim_move(pred_x0, eps, ab_prev)

    for i in reversed(range(sched.steps)):
        cond = z if z_edit is None else sms_code(z, z_edit, i + 1, sched.steps)
        args = (x, cond, int(sched.timesteps[i]), float(sched.alphas_cumprod[i]), float(sched.alphas_cumprod_prev[i]))
        x = run_checkpointed(one_step, *args, use_reentrant=False) if checkpoint else one_step(*args)
    return x
