"""Face parser: a small U-Net that labels every pixel of a face image with its part (region priors).

Local edits use these part maps to keep an attribute edit to where it belongs (eyeglasses: the eyes
area). The shipped weights are trained on the built-in toy world's renders, whose part list is
stored in ``parser.json`` (this layer does not import the toy world):

    parser = load_parser("weights/toy")        # None when the folder has no parser files
    probs = parser.probabilities(images)       # (B, P, H, W) float32, sums to 1 over P
    eyes = probs[:, parser.config.parts.index("eyes")]

Train: ``python -m chatface_widgets.train.parser_trainer --out weights/toy --minutes 12 --threads 1``.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Optional

import torch
import torch.nn.functional as F
from torch import nn

from ..files import atomic_path

WEIGHTS_NAME, CONFIG_NAME = "parser.safetensors", "parser.json"
TRAIN_HINT = "python -m chatface_widgets.train.parser_trainer --out {folder}"


@dataclass(frozen=True)
class FaceParserConfig:
    """Architecture of the parser and the names of its output channels (in order)."""

    image_size: int = 48  # input side; other sizes are resized to this and the output back
    widths: tuple = (16, 32, 48, 64)  # channels per level; each level after the first halves the side
    parts: tuple = ("background", "skin", "hair", "eyes", "mouth", "glasses", "clothes", "beard")

    def __post_init__(self):
        if len(self.widths) < 2 or len(self.parts) < 2 or self.image_size < 2 ** (len(self.widths) - 1):
            raise ValueError(f"bad FaceParserConfig: widths {self.widths}, {len(self.parts)} parts, "
                             f"image_size {self.image_size}")

    @classmethod
    def from_json(cls, data: dict) -> "FaceParserConfig":
        """Config from its JSON dict (lists become tuples; unknown keys are an error)."""
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in data.items()})

    def to_json(self) -> dict:
        """JSON-ready dict (tuples become lists)."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}


def _block(cin: int, cout: int, stride: int = 1) -> nn.Sequential:
    """Two 3×3 conv + batch norm + ReLU; the first one may stride."""
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True),
        nn.Conv2d(cout, cout, 3, 1, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


class FaceParser(nn.Module):
    """U-Net: images (B, 3, H, W) in [-1, 1] → part logits (B, P, H, W) at full resolution."""

    def __init__(self, config: FaceParserConfig = FaceParserConfig()):
        super().__init__()
        self.config = config
        w = config.widths
        self.down = nn.ModuleList([_block(3, w[0])] + [_block(w[i - 1], w[i], 2) for i in range(1, len(w))])
        # up[i] merges level i+1 (upsampled) with the skip of level i
        self.up = nn.ModuleList([_block(w[i + 1] + w[i], w[i]) for i in range(len(w) - 1)])
        self.head = nn.Conv2d(w[0], len(config.parts), 1)

    def _logits(self, x: torch.Tensor) -> torch.Tensor:
        """Logits at the network's own size."""
        skips = []
        for block in self.down:
            x = block(x)
            skips.append(x)
        for i in range(len(self.up) - 1, -1, -1):
            skip = skips[i]
            x = F.interpolate(x, size=skip.shape[-2:], mode="bilinear", align_corners=False)
            x = self.up[i](torch.cat([x, skip], 1))
        return self.head(x)

    def _resize_in(self, x: torch.Tensor) -> torch.Tensor:
        s = self.config.image_size
        if x.shape[-2:] == (s, s):
            return x
        return F.interpolate(x, size=(s, s), mode="bilinear", align_corners=False, antialias=x.shape[-1] > s)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits (B, P, H, W); inputs of another size are parsed at ``image_size`` and resized back."""
        if x.ndim != 4 or x.shape[1] != 3:
            raise ValueError(f"FaceParser expects images (B, 3, H, W), got {tuple(x.shape)}")
        logits = self._logits(self._resize_in(x))
        if logits.shape[-2:] != x.shape[-2:]:
            logits = F.interpolate(logits, size=x.shape[-2:], mode="bilinear", align_corners=False)
        return logits

    @torch.no_grad()
    def probabilities(self, x: torch.Tensor) -> torch.Tensor:
        """Softmax over parts (B, P, H, W), float32; other sizes are resized back bilinearly on probabilities."""
        was_training = self.training
        self.eval()
        try:
            device = next(self.parameters()).device
            x = x.detach().to(device=device, dtype=torch.float32)
            x = x[None] if x.ndim == 3 else x
            probs = torch.softmax(self._logits(self._resize_in(x)).float(), dim=1)
            if probs.shape[-2:] != x.shape[-2:]:
                probs = F.interpolate(probs, size=x.shape[-2:], mode="bilinear", align_corners=False)
                probs = probs / probs.sum(1, keepdim=True).clamp_min(1e-8)  # exact sums after resampling
            return probs
        finally:
            self.train(was_training)

    def part_index(self, name: str) -> int:
        """Channel of a part by name."""
        try:
            return self.config.parts.index(name)
        except ValueError:
            raise KeyError(f"unknown part {name!r}; this parser knows {', '.join(self.config.parts)}") from None


def count_parameters(model: nn.Module) -> int:
    """Number of parameters (buffers such as batch-norm statistics not counted)."""
    return sum(p.numel() for p in model.parameters())


def save_parser(model: FaceParser, folder, meta: Optional[dict] = None) -> Path:
    """Write ``parser.safetensors`` (fp16 floats) and ``parser.json`` (config + meta), each atomically."""
    from safetensors.torch import save_file

    folder = Path(folder)
    state = {k: (v.detach().cpu().half() if v.is_floating_point() else v.detach().cpu()).contiguous()
             for k, v in model.state_dict().items()}
    with atomic_path(folder / WEIGHTS_NAME) as tmp:
        save_file(state, str(tmp))
    card = {"config": model.config.to_json(), "parameters": count_parameters(model), "dtype": "float16",
            **(meta or {})}
    with atomic_path(folder / CONFIG_NAME) as tmp:
        tmp.write_text(json.dumps(card, indent=2) + "\n", encoding="utf-8")
    return folder / WEIGHTS_NAME


def load_parser(folder, device: str = "cpu") -> Optional[FaceParser]:
    """The parser in ``folder`` (float32, eval mode), None when its files are absent.

    A broken file raises a one-line ValueError naming it.
    """
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    folder = Path(folder)
    path, card_path = folder / WEIGHTS_NAME, folder / CONFIG_NAME
    if not path.is_file() and not card_path.is_file():
        return None
    hint = TRAIN_HINT.format(folder=folder)
    for p in (path, card_path):
        if not p.is_file():
            raise ValueError(f"{p}: missing (the parser needs both {WEIGHTS_NAME} and {CONFIG_NAME}); "
                             f"retrain with `{hint}`")
    try:
        card = json.loads(card_path.read_text(encoding="utf-8"))
        config = FaceParserConfig.from_json(card["config"])
    except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError) as exc:
        text = str(exc).strip().splitlines()
        raise ValueError(f"{card_path}: not a readable parser card ({type(exc).__name__}: "
                         f"{text[0] if text else ''}); retrain with `{hint}`") from None
    try:
        state = load_file(str(path))
    except (SafetensorError, OSError, ValueError) as exc:
        text = str(exc).strip().splitlines()
        raise ValueError(f"{path}: not a readable safetensors file ({text[0] if text else type(exc).__name__}); "
                         f"retrain with `{hint}`") from None
    model = FaceParser(config)
    state = {k: v.float() if v.is_floating_point() else v for k, v in state.items()}
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        raise ValueError(f"{path}: weights do not match the config in {CONFIG_NAME} "
                         f"({str(exc).strip().splitlines()[0]})") from None
    bad = [k for k, v in state.items() if v.is_floating_point() and not torch.isfinite(v).all()]
    if bad:
        raise ValueError(f"{path}: non-finite weights in {bad[0]} (a diverged run or a damaged file)")
    return model.to(device).eval().requires_grad_(False)
