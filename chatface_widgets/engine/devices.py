"""The one device rule: which torch device a render, a batch rank or a trainer uses, checked before any work.

    pick_device()            # $CHATFACE_DEVICE, else CUDA, then MPS, then CPU
    pick_device("cuda:1")    # DeviceError (a ValueError) naming the fix when that device cannot be used
    rank, world, local = ranks()    # torchrun's environment (1 process: 0, 1, 0)
"""

from __future__ import annotations

import os
from typing import Optional

import torch


class DeviceError(ValueError):
    """A device that cannot be used here; the message names the devices that can."""


def available() -> list[str]:
    """The devices this machine can run on, best first (``cpu`` always)."""
    found = [f"cuda:{i}" for i in range(torch.cuda.device_count())] if torch.cuda.is_available() else []
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        found.append("mps")
    return found + ["cpu"]


def check_device(text: str) -> torch.device:
    """``text`` as a torch device this machine has; DeviceError saying which ones it has otherwise."""
    usable = ", ".join(available())
    try:
        device = torch.device(str(text).strip())
    except (RuntimeError, ValueError, TypeError):
        raise DeviceError(f"device {text!r} is not a device name; use one of: {usable}") from None
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise DeviceError(f"device {text!r}: CUDA is not available here (no GPU, or a CPU-only torch "
                              f"{torch.__version__}); use one of: {usable}")
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise DeviceError(f"device {text!r}: this machine has {torch.cuda.device_count()} CUDA device(s); "
                              f"use one of: {usable}")
    elif device.type == "mps" and "mps" not in available():
        raise DeviceError(f"device {text!r}: MPS is not available here; use one of: {usable}")
    elif device.type not in ("cpu", "cuda", "mps"):
        raise DeviceError(f"device {text!r} is not supported; use one of: {usable}")
    return device


def pick_device(device: Optional[str] = None, local_rank: Optional[int] = None) -> torch.device:
    """``device`` (or ``$CHATFACE_DEVICE``) checked; else ``cuda:local_rank`` under torchrun, CUDA, MPS, then CPU."""
    chosen = device or os.environ.get("CHATFACE_DEVICE")
    if chosen:
        return check_device(chosen)
    if torch.cuda.is_available():
        return torch.device("cuda" if local_rank is None else f"cuda:{local_rank}")
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def ranks() -> tuple[int, int, int]:
    """(rank, world size, local rank) from torchrun's environment; joins the process group (NCCL on CUDA, else gloo)."""
    rank, world = int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1))
    local = int(os.environ.get("LOCAL_RANK", 0))
    if world > 1:
        import torch.distributed as dist

        if not dist.is_initialized():
            dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
    return rank, world, local
