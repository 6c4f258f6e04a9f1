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

from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import torch

from chatface_widgets.models.small_unet import JsonConfig, SmallUNet, count_parameters, load_small, resize, save_small

WEIGHTS_NAME, CONFIG_NAME = "parser.safetensors", "parser.json"
TRAIN_HINT = "python -m chatface_widgets.train.parser_trainer --out {folder}"


@dataclass(frozen=True)
class FaceParserConfig(JsonConfig):
    """Architecture of the parser and the names of its output channels (in order)."""

    image_size: int = 48  # input side; other sizes are resized to this and the output back
    widths: tuple = (16, 32, 48, 64)  # channels per level; each level after the first halves the side
    parts: tuple = ("background", "skin", "hair", "eyes", "mouth", "glasses", "clothes", "beard")

    def __post_init__(self):
        if len(self.widths) < 2 or len(self.parts) < 2 or self.image_size < 2 ** (len(self.widths) - 1):
            raise ValueError(f"bad FaceParserConfig: widths {self.widths}, {len(self.parts)} parts, "
                             f"image_size {self.image_size}")


class FaceParser(SmallUNet):
    """U-Net: images (B, 3, H, W) in [-1, 1] → part logits (B, P, H, W) at full resolution."""

    def __init__(self, config: FaceParserConfig = FaceParserConfig()):
        super().__init__(3, len(config.parts), config.widths)
        self.config = config

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits (B, P, H, W); inputs of another size are parsed at ``image_size`` and resized back."""
        if x.ndim != 4 or x.shape[1] != 3:
            raise ValueError(f"FaceParser expects images (B, 3, H, W), got {tuple(x.shape)}")
        return resize(self.run(resize(x, self.config.image_size)), x.shape[-2:])

    @torch.no_grad()
    def probabilities(self, x: torch.Tensor) -> torch.Tensor:
        """Softmax over parts (B, P, H, W), float32; other sizes are resized back bilinearly on probabilities."""
        was_training = self.training
        self.eval()
        try:
            device = next(self.parameters()).device
            x = x.detach().to(device=device, dtype=torch.float32)
            x = x[None] if x.ndim == 3 else x
            probs = torch.softmax(self.run(resize(x, self.config.image_size)).float(), dim=1)
            if probs.shape[-2:] != x.shape[-2:]:
                probs = resize(probs, x.shape[-2:])
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


def save_parser(model: FaceParser, folder, meta: Optional[dict] = None) -> Path:
    """Write ``parser.safetensors`` (fp16 floats) and ``parser.json`` (config + meta), each atomically."""
    return save_small(model, folder, WEIGHTS_NAME, CONFIG_NAME, {"config": model.config.to_json(), **(meta or {})})


def load_parser(folder, device: str = "cpu") -> Optional[FaceParser]:
    """The parser in ``folder`` (float32, eval mode), None when its files are absent.

    A broken file raises a one-line ValueError naming it.
    """
    return load_small(folder, WEIGHTS_NAME, CONFIG_NAME, lambda card: FaceParser(FaceParserConfig.from_json(card["config"])),
                      "parser", TRAIN_HINT.format(folder=folder), device)
