"""DDIM samplers of a diffusion autoencoder as pure functions (k-diffusion style), all built on :func:`ddim_step`.

``model`` is any callable (x_t, t, z) -> raw prediction; ``codes`` a conditioning schedule
``(i, T) -> z`` (or a tensor z, meaning :func:`~.conditioning.constant`); ``schedule`` a
:class:`~.schedule.Schedule` whose prediction type matches the model. The callback gets
``{"i", "x", "denoised", "steps"}`` after each step (i counts 0…T−1 in the order run);
returning ``False`` stops the loop. Local edits (:mod:`.local`) reach the samplers as data:
``invert_trajectory`` keeps every inversion state, ``decode(..., keep=KeepOutside(...))`` blends
them in outside a mask after each step.
"""

from __future__ import annotations

from typing import Callable, Optional, Union

import torch

from chatface_widgets.diffusion.conditioning import CodeSchedule, as_codes
from chatface_widgets.diffusion.ddim import Model, ddim_step
from chatface_widgets.diffusion.local import KeepOutside, Trajectory
from chatface_widgets.diffusion.schedule import Schedule

Codes = Union[torch.Tensor, CodeSchedule]
StepCallback = Callable[[dict], Optional[bool]]


@torch.no_grad()
def invert(model: Model, x0: torch.Tensor, codes: Codes, schedule: Schedule,
           callback: Optional[StepCallback] = None) -> torch.Tensor:
    """x_T by deterministic DDIM inversion of x0 (DiffAE Sec. 3.2, DDIM Eq. 12 run forwards in t)."""
    codes = as_codes(codes)
    x = x0
    for i in range(schedule.steps):
        x, x0_hat = ddim_step(model, x, codes(i, schedule.steps), schedule, i, inverse=True)
        if callback is not None and callback({"i": i, "x": x, "denoised": x0_hat, "steps": schedule.steps}) is False:
            break
    return x


@torch.no_grad()
def invert_trajectory(model: Model, x0: torch.Tensor, codes: Codes, schedule: Schedule,
                      callback: Optional[StepCallback] = None) -> Trajectory:
    """:func:`invert` keeping every state s_0 = x0 … s_T = x_T (what local edits follow outside their region)."""
    states = [x0]

    def keep(info: dict) -> Optional[bool]:
        states.append(info["x"])
        return None if callback is None else callback(info)

    invert(model, x0, codes, schedule, callback=keep)
    if len(states) != schedule.steps + 1:
        raise RuntimeError("inversion stopped early: no complete trajectory")
    return Trajectory(tuple(states))


@torch.no_grad()
def decode(model: Model, x_T: torch.Tensor, codes: Codes, schedule: Schedule,
           callback: Optional[StepCallback] = None, keep: Optional[KeepOutside] = None) -> torch.Tensor:
    """x̂0 in [-1, 1] from x_T by DDIM decoding (DiffAE Eq. 2, η = 0); stopped early, the latest x̂0.

    ``keep``: after every step, outside its mask x follows the photo's own inversion trajectory
    (a local edit; the result is the photo itself where the mask is 0).
    """
    codes = as_codes(codes)
    x = x0_hat = x_T
    for k, i in enumerate(reversed(range(schedule.steps))):
        x, x0_hat = ddim_step(model, x, codes(i, schedule.steps), schedule, i)
        if keep is not None:
            x, x0_hat = keep(x, i), keep.finish(x0_hat)
        if callback is not None and callback({"i": k, "x": x, "denoised": x0_hat, "steps": schedule.steps}) is False:
            return x if i == 0 else x0_hat
    return x


def decode_differentiable(model: Model, x_T: torch.Tensor, codes: Codes, schedule: Schedule,
                          checkpoint: bool = True) -> torch.Tensor:
    """:func:`decode` with gradients through every step (the mapper's D(z_edit)); checkpointed to bound memory."""
    from torch.utils.checkpoint import checkpoint as run_checkpointed

    codes = as_codes(codes)
    x = x_T

    def step(x: torch.Tensor, z: torch.Tensor, i: int) -> torch.Tensor:
        return ddim_step(model, x, z, schedule, i)[0]

    for i in reversed(range(schedule.steps)):
        z = codes(i, schedule.steps)
        x = run_checkpointed(step, x, z, i, use_reentrant=False) if checkpoint else step(x, z, i)
    return x
