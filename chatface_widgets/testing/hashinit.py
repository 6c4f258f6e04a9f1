"""Formula-generated weights (FNV-1a-64 seed + splitmix64 stream) used by the golden fixtures."""

from __future__ import annotations

import math

import numpy as np
import torch

FNV_OFFSET = 0xCBF29CE484222325  # FNV-1a-64 offset basis
FNV_PRIME = 0x100000001B3  # FNV-1a-64 prime
GOLDEN_GAMMA = 0x9E3779B97F4A7C15  # splitmix64 increment
_MIX1, _MIX2 = 0xBF58476D1CE4E5B9, 0x94D049BB133111EB  # splitmix64 finaliser multipliers
_MASK = (1 << 64) - 1
_CHUNK = 1 << 22  # elements generated per numpy pass (bounds temporary memory to ~100 MB)


def fnv1a64(text: str | bytes) -> int:
    """FNV-1a 64-bit hash of the UTF-8 bytes of ``text``."""
    data = text.encode("utf-8") if isinstance(text, str) else bytes(text)
    h = FNV_OFFSET
    for byte in data:
        h = ((h ^ byte) * FNV_PRIME) & _MASK
    return h


def _mix(z: np.ndarray) -> np.ndarray:
    """splitmix64 output function on a uint64 array (wrapping arithmetic)."""
    z = (z ^ (z >> np.uint64(30))) * np.uint64(_MIX1)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(_MIX2)
    return z ^ (z >> np.uint64(31))


def splitmix64(state: int, n: int, start: int = 0) -> np.ndarray:
    """Outputs ``start .. start+n-1`` of the splitmix64 stream seeded with ``state`` (uint64 array)."""
    k = np.arange(start + 1, start + n + 1, dtype=np.uint64)
    with np.errstate(over="ignore"):
        return _mix(np.uint64(state & _MASK) + k * np.uint64(GOLDEN_GAMMA))


def hash_uniform(key: str, n: int) -> np.ndarray:
    """``n`` float64 values in [0, 1) from the stream seeded by FNV-1a-64(key): (z >> 11) * 2^-53."""
    seed = fnv1a64(key)
    out = np.empty(n, dtype=np.float64)
    for lo in range(0, n, _CHUNK):
        hi = min(n, lo + _CHUNK)
        z = splitmix64(seed, hi - lo, start=lo)
        out[lo:hi] = (z >> np.uint64(11)).astype(np.float64) * 2.0**-53
    return out


def hash_tensor(key: str, shape, offset: float = 0.0, scale: float = 1.0) -> torch.Tensor:
    """float32 tensor ``offset + scale*(2u-1)`` (float64 maths, one rounding) generated from ``key``."""
    shape = tuple(int(s) for s in shape)
    n = math.prod(shape)
    u = hash_uniform(key, n)
    values = float(offset) + float(scale) * (2.0 * u - 1.0)
    return torch.from_numpy(values.astype(np.float32)).reshape(shape)


def hash_state_dict(spec: dict) -> dict[str, torch.Tensor]:
    """Generate every tensor of a manifest/spec ``key -> {shape, [dtype], offset/scale or fixture_init}``."""
    out = {}
    for key, info in spec.items():
        init = info.get("fixture_init", info)
        if "constant" in init:
            dtype = getattr(torch, info.get("dtype", "float32"))
            out[key] = torch.full(tuple(info["shape"]), init["constant"], dtype=dtype)
        else:
            out[key] = hash_tensor(key, info["shape"], init["offset"], init["scale"])
    return out
