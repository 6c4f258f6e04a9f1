"""Reading checkpoint files safely: safetensors, bare state dicts and PyTorch-Lightning ``.ckpt``.

Pickled files are never allowed to run code: everything goes through ``torch.load(weights_only=True)``.
Lightning files may also name Lightning's own classes (callbacks, attribute dicts); those, and only
those, are replaced by inert stand-ins; a file naming any other global is refused.
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


# Only globals from these packages may appear in a Lightning checkpoint besides tensors and containers;
# they are replaced by inert stand-ins (no code from them is imported or run). Anything else is refused.
LIGHTNING_PACKAGES = ("pytorch_lightning.", "lightning.", "lightning_fabric.")


class _LightningStandIn(dict):
    """Inert placeholder for a Lightning class a checkpoint names (a dict, as AttributeDict is)."""

    def __init__(self, *args, **kwargs):  # never runs Lightning code: just keeps what it is given
        super().__init__()
        self.args = args

    def __setstate__(self, state):
        self.state = state


class _RestrictedUnpickler(pickle.Unpickler):
    """Rebuilds tensors and containers; Lightning classes become stand-ins; any other global is refused."""

    _TORCH_NAMES = ("_rebuild_tensor_v2", "_rebuild_tensor", "_rebuild_parameter", "_rebuild_parameter_with_state",
                    "_rebuild_from_type_v2", "_rebuild_device_tensor_from_numpy")

    def find_class(self, module: str, name: str):
        if (module, name) == ("collections", "OrderedDict"):
            return collections.OrderedDict
        if module == "torch._utils" and name in self._TORCH_NAMES:
            return super().find_class(module, name)
        if module == "torch" and (name.endswith("Storage") or isinstance(getattr(torch, name, None), torch.dtype)):
            return getattr(torch, name)
        if (module, name) in (("torch", "Size"), ("torch.nn.parameter", "Parameter"), ("torch._tensor", "_rebuild_from_type_v2")):
            return super().find_class(module, name)
        if (module + ".").startswith(LIGHTNING_PACKAGES):
            return type(name, (_LightningStandIn,), {"__module__": "chatface_widgets.inert"})
        raise pickle.UnpicklingError(f"refusing to load; the checkpoint names the global {module}.{name}")


class _RestrictedPickleModule:
    """A pickle-module stand-in for ``torch.load(pickle_module=...)``."""

    Unpickler = _RestrictedUnpickler
    load = staticmethod(pickle.load)
    __name__ = "chatface_restricted_pickle"


def _check_only_lightning_globals(path: Path) -> None:
    """Refuse a file that names any non-tensor global outside Lightning's packages."""
    if not hasattr(torch.serialization, "get_unsafe_globals_in_checkpoint"):  # added in torch 2.5
        raise CheckpointError(f"{path}: reading a Lightning checkpoint safely needs torch>=2.5")
    names = torch.serialization.get_unsafe_globals_in_checkpoint(str(path))
    others = [n for n in names if not n.startswith(LIGHTNING_PACKAGES)]
    if others:
        raise CheckpointError(f"{path}: refusing to load; the checkpoint names non-tensor globals {others}")


def load_pickled(path: Path) -> object:
    """torch.load(weights_only=True); files naming Lightning classes go through the restricted unpickler."""
    path = Path(path)
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - torch raises many types on garbage bytes
        # Only "this file names a global outside the weights-only allow-list" earns the second try.
        if not (isinstance(exc, pickle.UnpicklingError) and "global" in str(exc).lower()):
            first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
            raise CheckpointError(f"{path}: not a readable PyTorch checkpoint ({type(exc).__name__}: {first_line})") from None
    _check_only_lightning_globals(path)
    try:
        return torch.load(path, map_location="cpu", weights_only=False, pickle_module=_RestrictedPickleModule)
    except pickle.UnpicklingError as exc:
        raise CheckpointError(f"{path}: {exc}") from None


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
