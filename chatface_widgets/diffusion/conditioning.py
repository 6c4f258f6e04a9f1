"""Conditioning schedules: which semantic code z_i the network sees at respaced step i.

A schedule is any callable ``codes(i, T) -> z`` where i is the respaced step (T−1 is the noisiest,
0 the cleanest) and T the step count; the samplers call it once per step and know nothing else
about it. ChatFace's SMS is one such schedule, not a branch in the sampler.
"""

from __future__ import annotations

from typing import Callable, Union

import torch

CodeSchedule = Callable[[int, int], torch.Tensor]


class Constant:
    """z_i = z at every step (plain DiffAE decoding, DiffAE Eq. 2)."""

    def __init__(self, z: torch.Tensor):
        self.z = z

    def __call__(self, i: int, steps: int) -> torch.Tensor:
        return self.z

    def __repr__(self) -> str:
        return f"constant(z{tuple(self.z.shape)})"


class SMS:
    """z_t = z + (t/T)·(z_edit − z), t = i + 1 steps to go: ChatFace's Stable Manipulation Strategy (Eq. 13).

    The noisiest step (t = T) sees the full edit, the last step (t = 1) almost the original z.
    """

    def __init__(self, z: torch.Tensor, z_edit: torch.Tensor):
        self.z, self.z_edit = z, z_edit

    def __call__(self, i: int, steps: int) -> torch.Tensor:
        remaining = i + 1
        return self.z + (remaining / steps) * (self.z_edit - self.z)

    def __repr__(self) -> str:
        return f"sms(z{tuple(self.z.shape)}, z_edit{tuple(self.z_edit.shape)})"


def constant(z: torch.Tensor) -> Constant:
    """The schedule that conditions every step on z."""
    return Constant(z)


def sms(z: torch.Tensor, z_edit: torch.Tensor) -> SMS:
    """ChatFace SMS from z (late steps) to z_edit (early steps), ChatFace Eq. 13."""
    return SMS(z, z_edit)


def as_codes(codes: Union[torch.Tensor, CodeSchedule]) -> CodeSchedule:
    """A code schedule as is; a tensor z becomes :func:`constant` (z)."""
    return constant(codes) if isinstance(codes, torch.Tensor) else codes
