"""A small U-Net and its safetensors + JSON-card file pair: the body of the face parser and the texture painter."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Callable, Optional

import torch
import torch.nn.functional as F
from torch import nn

from chatface_widgets.foundation.files import atomic_path


class JsonConfig:
    """Mixin for frozen dataclass configs stored in a JSON card: tuples there are lists."""

    @classmethod
    def from_json(cls, data: dict):
        """Config from its JSON dict (lists become tuples; unknown keys are an error)."""
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in data.items()})

    def to_json(self) -> dict:
        """JSON-ready dict (tuples become lists)."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}


def conv_block(cin: int, cout: int, stride: int = 1) -> nn.Sequential:
    """Two 3×3 conv + batch norm + ReLU; the first one may stride."""
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True),
        nn.Conv2d(cout, cout, 3, 1, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


class SmallUNet(nn.Module):
    """U-Net: (B, in_channels, H, W) → (B, out_channels, H, W); each level after the first halves the side."""

    def __init__(self, in_channels: int, out_channels: int, widths: tuple):
        super().__init__()
        w = widths
        self.down = nn.ModuleList([conv_block(in_channels, w[0])] + [conv_block(w[i - 1], w[i], 2) for i in range(1, len(w))])
        # up[i] merges level i+1 (upsampled) with the skip of level i
        self.up = nn.ModuleList([conv_block(w[i + 1] + w[i], w[i]) for i in range(len(w) - 1)])
        self.head = nn.Conv2d(w[0], out_channels, 1)

    def run(self, x: torch.Tensor) -> torch.Tensor:
        """The network's output at the input's own size."""
        skips = []
        for block in self.down:
            x = block(x)
            skips.append(x)
        for i in range(len(self.up) - 1, -1, -1):
            skip = skips[i]
            x = F.interpolate(x, size=skip.shape[-2:], mode="bilinear", align_corners=False)
            x = self.up[i](torch.cat([x, skip], 1))
        return self.head(x)


def resize(x: torch.Tensor, size) -> torch.Tensor:
    """Images resized to ``size`` (a side, or (H, W); bilinear, antialiased when shrinking); unchanged when already that size."""
    hw = (size, size) if isinstance(size, int) else tuple(size)
    if tuple(x.shape[-2:]) == hw:
        return x
    return F.interpolate(x, size=hw, mode="bilinear", align_corners=False, antialias=x.shape[-1] > hw[1])


def count_parameters(model: nn.Module) -> int:
    """Number of parameters (buffers such as batch-norm statistics not counted)."""
    return sum(p.numel() for p in model.parameters())


def save_small(model: nn.Module, folder, weights_name: str, config_name: str, card: dict) -> Path:
    """Write ``weights_name`` (fp16 floats) and ``config_name`` (the card, with parameters and dtype), each atomically."""
    from safetensors.torch import save_file

    folder = Path(folder)
    state = {k: (v.detach().cpu().half() if v.is_floating_point() else v.detach().cpu()).contiguous()
             for k, v in model.state_dict().items()}
    with atomic_path(folder / weights_name) as tmp:
        save_file(state, str(tmp))
    card = {**card, "parameters": count_parameters(model), "dtype": "float16"}
    with atomic_path(folder / config_name) as tmp:
        tmp.write_text(json.dumps(card, indent=2) + "\n", encoding="utf-8")
    return folder / weights_name


def load_small(folder, weights_name: str, config_name: str, build: Callable[[dict], nn.Module], what: str,
               hint: str, device: str = "cpu") -> Optional[nn.Module]:
    """The model whose file pair is in ``folder`` (float32, eval mode), None when both files are absent.

    ``build(card)`` makes the untrained model from the JSON card. A missing half, an unreadable card
    or file, mismatched or non-finite weights raise a one-line ValueError naming the file and ``hint``.
    """
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    folder = Path(folder)
    path, card_path = folder / weights_name, folder / config_name
    if not path.is_file() and not card_path.is_file():
        return None
    for p in (path, card_path):
        if not p.is_file():
            raise ValueError(f"{p}: missing (the {what} needs both {weights_name} and {config_name}); "
                             f"retrain with `{hint}`")
    try:
        model = build(json.loads(card_path.read_text(encoding="utf-8")))
    except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError) as exc:
        text = str(exc).strip().splitlines()
        raise ValueError(f"{card_path}: not a readable {what} card ({type(exc).__name__}: "
                         f"{text[0] if text else ''}); retrain with `{hint}`") from None
    try:
        state = load_file(str(path))
    except (SafetensorError, OSError, ValueError) as exc:
        text = str(exc).strip().splitlines()
        raise ValueError(f"{path}: not a readable safetensors file ({text[0] if text else type(exc).__name__}); "
                         f"retrain with `{hint}`") from None
    state = {k: v.float() if v.is_floating_point() else v for k, v in state.items()}
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        raise ValueError(f"{path}: weights do not match the config in {config_name} "
                         f"({str(exc).strip().splitlines()[0]})") from None
    bad = [k for k, v in state.items() if v.is_floating_point() and not torch.isfinite(v).all()]
    if bad:
        raise ValueError(f"{path}: non-finite weights in {bad[0]} (a diverged run or a damaged file)")
    return model.to(device).eval().requires_grad_(False)
