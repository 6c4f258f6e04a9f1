"""Reading checkpoint files safely: safetensors, bare state dicts and PyTorch-Lightning ``.ckpt``.

Pickled files are never allowed to run code. ``torch.load(weights_only=True)`` handles bare state
dicts; Lightning files may also carry plain-Python objects of other libraries in their
hyper-parameters, so for those we fall back to an unpickler that rebuilds tensors and containers
and turns every other global into an inert placeholder instead of importing it.
"""

from __future__ import annotations

import collections
import pickle
from pathlib import Path
from typing import Mapping

import torch

EMA_PREFIX, RAW_PREFIX = "ema_model.", "model."
# Extra entries the official LitModel registers next to the network weights.
KNOWN_EXTRAS = ("x_T", "conds_mean", "conds_std")


class CheckpointError(ValueError):
    """A checkpoint file that cannot be read as weights."""


class _Inert:
    """Stand-in for a global that a checkpoint names but we refuse to import."""

    def __init__(self, *args, **kwargs):
        self.args = args

    def __setstate__(self, state):
        self.state = state

    def __call__(self, *args, **kwargs):  # reduce-style construction of the stand-in
        return _Inert(*args)


# Globals that a tensor checkpoint legitimately needs; every other global becomes _Inert.
_ALLOWED_MODULE_PREFIXES = ("torch._utils", "torch.storage", "torch._tensor", "torch.nn.parameter")
_ALLOWED = {
    ("collections", "OrderedDict"): collections.OrderedDict,
    ("builtins", "set"): set,
    ("builtins", "frozenset"): frozenset,
    ("builtins", "slice"): slice,
    ("torch", "Size"): torch.Size,
    ("torch", "device"): torch.device,
}


class _RestrictedUnpickler(pickle.Unpickler):
    """Unpickler that resolves only tensor-rebuild helpers, storages, dtypes and plain containers."""

    def find_class(self, module: str, name: str):
        if (module, name) in _ALLOWED:
            return _ALLOWED[(module, name)]
        if module == "torch" and (name.endswith("Storage") or isinstance(getattr(torch, name, None), torch.dtype)):
            return getattr(torch, name)
        if module.startswith(_ALLOWED_MODULE_PREFIXES) and (name.startswith("_rebuild") or name.endswith("Storage")
                                                            or name in ("Parameter", "_load_from_bytes")):
            if name == "_load_from_bytes":
                return _Inert
            return super().find_class(module, name)
        return type(name, (_Inert,), {"__module__": "chatface_widgets.inert." + module})


class _RestrictedPickleModule:
    """A pickle-module stand-in for ``torch.load(pickle_module=...)``."""

    Unpickler = _RestrictedUnpickler
    load = staticmethod(pickle.load)
    __name__ = "chatface_restricted_pickle"


def load_pickled(path: Path) -> object:
    """torch.load with weights_only=True, falling back to the restricted unpickler for Lightning extras."""
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - torch raises many types on garbage bytes
        # Only "this file names a global outside the weights-only allow-list" earns the fallback.
        if not (isinstance(exc, pickle.UnpicklingError) and "global" in str(exc).lower()):
            first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
            raise CheckpointError(f"{path}: not a readable PyTorch checkpoint ({type(exc).__name__}: {first_line})") from None
    try:
        return torch.load(path, map_location="cpu", weights_only=False, pickle_module=_RestrictedPickleModule)
    except Exception as exc:  # noqa: BLE001 - any failure here means "not a checkpoint we can read"
        raise CheckpointError(f"{path}: not a readable PyTorch checkpoint ({type(exc).__name__}: {exc})") from None


def read_tensors(path) -> dict:
    """All tensors of a file: safetensors directly, pickles through :func:`load_pickled`."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint not found: {path}")
    if path.suffix == ".safetensors":
        from safetensors import SafetensorError
        from safetensors.torch import load_file

        try:
            return dict(load_file(str(path)))
        except (SafetensorError, OSError) as exc:
            raise CheckpointError(f"{path}: not a readable safetensors file ({exc})") from None
    obj = load_pickled(path)
    if not isinstance(obj, Mapping):
        raise CheckpointError(f"{path}: expected a dict of tensors, found {type(obj).__name__}")
    return dict(obj)


def select_weights(obj: Mapping, path: Path | str = "checkpoint") -> tuple[dict, str]:
    """Pick the network weights out of a loaded file: Lightning ``ema_model.*`` first, else bare keys."""
    sd = obj.get("state_dict", obj) if isinstance(obj.get("state_dict", None), Mapping) else obj
    tensors = {k: v for k, v in sd.items() if isinstance(v, torch.Tensor)}
    ema = {k[len(EMA_PREFIX):]: v for k, v in tensors.items() if k.startswith(EMA_PREFIX)}
    notes = []
    if ema:
        raw = sum(1 for k in tensors if k.startswith(RAW_PREFIX))
        extras = sorted(k for k in tensors if not k.startswith((EMA_PREFIX, RAW_PREFIX)))
        notes.append(f"{path}: using {len(ema)} ema_model.* weights (ignored {raw} model.* weights)")
        if extras:
            notes.append(f"ignored extra entries: {', '.join(extras)}")
        return ema, "; ".join(notes)
    if any(k.startswith(RAW_PREFIX) for k in tensors):
        raw = {k[len(RAW_PREFIX):]: v for k, v in tensors.items() if k.startswith(RAW_PREFIX)}
        extras = sorted(k for k in tensors if not k.startswith(RAW_PREFIX))
        notes.append(f"{path}: no ema_model.* weights; using {len(raw)} model.* weights")
        if extras:
            notes.append(f"ignored extra entries: {', '.join(extras)}")
        return raw, "; ".join(notes)
    extras = sorted(k for k in tensors if k in KNOWN_EXTRAS)
    bare = {k: v for k, v in tensors.items() if k not in KNOWN_EXTRAS}
    return bare, (f"ignored extra entries: {', '.join(extras)}" if extras else "")


def read_diffae_state_dict(path) -> tuple[dict, str]:
    """The DiffAE network state dict of a file plus a one-line report of what was skipped."""
    path = Path(path)
    if path.suffix == ".safetensors":
        return select_weights(read_tensors(path), path)
    obj = load_pickled(path) if path.is_file() else None
    if obj is None:
        raise FileNotFoundError(f"checkpoint not found: {path}")
    if not isinstance(obj, Mapping):
        raise CheckpointError(f"{path}: expected a dict of tensors, found {type(obj).__name__}")
    return select_weights(obj, path)
