"""Reading checkpoint files safely: safetensors, bare state dicts and PyTorch-Lightning ``.ckpt``.

Pickled files are never allowed to run code: everything goes through ``torch.load(weights_only=True)``.
Lightning files may also name Lightning's own classes (callbacks, attribute dicts); those, and only
those, are replaced by inert stand-ins; a file naming any other global is refused.
"""

from __future__ import annotations

import collections
import pickle
from pathlib import Path
from typing import Mapping, NamedTuple, Optional

import torch

EMA_PREFIX, RAW_PREFIX = "ema_model.", "model."
# Extra entries the official LitModel registers next to the network weights.
KNOWN_EXTRAS = ("x_T", "conds_mean", "conds_std")


class CheckpointError(ValueError):
    """A checkpoint file that cannot be read as weights; the message names the file and the fix."""


class NonFiniteWeightsError(CheckpointError):
    """A checkpoint holding NaN or infinite weights (a diverged run, a damaged file or a crafted one)."""


# What to do with a pickle we cannot read safely (said once, used by every message below).
RESAVE_HINT = ("if you trust the file, re-save its tensors where it was made with "
               "torch.save(state_dict, path) (torch>=1.6) or safetensors, then load that file")


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
        if module == "torch" and name.endswith("Storage") and isinstance(getattr(torch, name, None), type):
            return _StorageTypeRef(name, getattr(torch, name))
        if module == "torch" and isinstance(getattr(torch, name, None), torch.dtype):
            return getattr(torch, name)
        if (module, name) in (("torch", "Size"), ("torch.nn.parameter", "Parameter"), ("torch._tensor", "_rebuild_from_type_v2")):
            return super().find_class(module, name)
        if (module + ".").startswith(LIGHTNING_PACKAGES):
            return type(name, (_LightningStandIn,), {"__module__": "chatface_widgets.inert"})
        raise pickle.UnpicklingError(f"refusing to load; the checkpoint names the global {module}.{name}")


class _StorageTypeRef:
    """A storage type as a checkpoint names it: torch reads its dtype; calling it (allocating) is refused."""

    def __init__(self, name: str, storage_type: type):
        self.name = name
        # torch's persistent_load asks typed storages for .dtype (UntypedStorage holds bytes).
        self.dtype = torch.uint8 if storage_type is torch.UntypedStorage else storage_type.dtype
        self._dtype = self.dtype

    def __call__(self, *args, **kwargs):
        raise pickle.UnpicklingError(f"refusing to load; the checkpoint calls torch.{self.name}(...), "
                                     "which a saved checkpoint never does")


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


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _refusal(path: Path, exc: BaseException) -> CheckpointError:
    """A one-line CheckpointError for anything torch.load raised on a file (no code from it has run)."""
    text = str(exc)
    if isinstance(exc, TypeError) and "not callable" in text:
        return CheckpointError(f"{path}: refusing to load; the file asks to call a storage or type constructor "
                               "(e.g. torch.FloatStorage(n)), which a saved checkpoint never does: it is damaged "
                               "or crafted (nothing in it was run); use a checkpoint from a trusted source")
    if "Expected input to be a checkpoint returned by torch.save" in text or "Unsupported operand" in text:
        return CheckpointError(f"{path}: not a checkpoint written by torch.save (a plain pickle, or the pre-1.6 "
                               f"format), so it cannot be read without running code; {RESAVE_HINT}")
    if isinstance(exc, pickle.UnpicklingError) and text.startswith("refusing"):
        return CheckpointError(f"{path}: {text} (nothing in it was run); {RESAVE_HINT}")
    return CheckpointError(f"{path}: not a readable PyTorch checkpoint ({type(exc).__name__}: {_first_line(exc)})")


def _names_a_global(exc: BaseException) -> bool:
    """Whether torch's weights-only reader stopped at a global outside its allow-list."""
    text = str(exc).lower()
    return isinstance(exc, pickle.UnpicklingError) and "global" in text and "unsupported operand" not in text


def load_pickled(path: Path) -> object:
    """torch.load(weights_only=True); files naming Lightning classes go through the restricted unpickler.

    Every failure is a :class:`CheckpointError` that names the file; no code from the file ever runs.
    """
    path = Path(path)
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - torch raises many types on garbage bytes
        # Only "this file names a global outside the weights-only allow-list" earns the second try.
        if not _names_a_global(exc):
            raise _refusal(path, exc) from None
    try:
        _check_only_lightning_globals(path)
        return torch.load(path, map_location="cpu", weights_only=False, pickle_module=_RestrictedPickleModule)
    except CheckpointError:
        raise
    except Exception as exc:  # noqa: BLE001 - as above: a refusal that names the file, never a traceback
        raise _refusal(path, exc) from None


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


class DiffAECheckpoint(NamedTuple):
    """What a DiffAE file holds: the network weights, a note on what was skipped, and where they came from."""

    state_dict: dict  # bare network keys (``encoder.…``, ``input_blocks.…``)
    report: str  # one line: which weights were used and what was ignored ("" when nothing)
    layout: str  # "safetensors" | "lightning" | "training" (our trainer's ckpt.pt) | "state_dict"
    config: Optional[dict]  # the config stored inside the file (training checkpoints), else None
    training: Optional[dict]  # the training record of a training checkpoint, else None


TRAINING_KEYS = ("model", "ema", "config")  # chatface_widgets.train.diffae_trainer.save_checkpoint


def is_training_checkpoint(obj) -> bool:
    """Whether a loaded object is a ``ckpt.pt`` of our DiffAE trainer (weights, EMA, optimiser, config)."""
    return isinstance(obj, Mapping) and all(isinstance(obj.get(k), Mapping) for k in TRAINING_KEYS)


def read_diffae_checkpoint(path) -> DiffAECheckpoint:
    """The DiffAE weights of any supported file: safetensors, Lightning ``.ckpt`` (EMA), a bare state dict,
    or a training run's ``ckpt.pt`` (EMA weights plus the config it was trained with)."""
    path = Path(path)
    if path.suffix == ".safetensors":
        sd, report = select_weights(read_tensors(path), path)
        return DiffAECheckpoint(sd, report, "safetensors", None, None)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint not found: {path}")
    obj = load_pickled(path)
    if not isinstance(obj, Mapping):
        raise CheckpointError(f"{path}: expected a dict of tensors, found {type(obj).__name__}")
    if is_training_checkpoint(obj):
        ema = {k: v for k, v in obj["ema"].items() if isinstance(v, torch.Tensor)}
        state = obj.get("state") if isinstance(obj.get("state"), Mapping) else {}
        record = {k: v for k, v in state.items() if k != "history"}
        note = f"{path}: training checkpoint at step {record.get('step', '?')}; using its {len(ema)} EMA weights"
        return DiffAECheckpoint(ema, note, "training", dict(obj["config"]), record)
    layout = "lightning" if isinstance(obj.get("state_dict", None), Mapping) else "state_dict"
    sd, report = select_weights(obj, path)
    return DiffAECheckpoint(sd, report, layout, None, None)


def read_diffae_state_dict(path) -> tuple[dict, str]:
    """The DiffAE network state dict of a file plus a one-line report of what was skipped."""
    ck = read_diffae_checkpoint(path)
    return ck.state_dict, ck.report


def check_finite(tensors: Mapping[str, torch.Tensor], source="weights") -> None:
    """Raise NonFiniteWeightsError naming ``source`` and the first tensor holding NaN or ±inf.

    One pass without copies: a tensor's float32 sum is finite exactly when all its values are, unless
    the sum overflows; only then (or when it is not finite) is the tensor checked value by value.
    """
    for name, value in tensors.items():
        if not isinstance(value, torch.Tensor) or not value.is_floating_point() or value.numel() == 0:
            continue
        if bool(torch.isfinite(value.sum(dtype=torch.float32))):
            continue
        nan = int(torch.isnan(value).sum())
        inf = int(torch.isinf(value).sum())
        if nan or inf:
            raise NonFiniteWeightsError(
                f"{source}: tensor {name!r} holds {nan:,} NaN and {inf:,} infinite values (of {value.numel():,}); "
                "the weights are damaged (a diverged training run, a bad download or conversion): "
                "download or export them again")
