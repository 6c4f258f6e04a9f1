"""Texture painter: a small U-Net that draws (or removes) an attribute's fine texture, such as curls, on a face image.

The built-in 48×48 DiffAE does not carry curls in its semantic code z: decoding a curly face's z
from random noise draws none; curls reach its output only through the photo's own x_T (the
stochastic subcode). A mapper in z can therefore move the hairstyle but not draw curls. The painter
is the built-in model's texture stage: after decoding, it adds ``strength × R(x, sign)`` where R is
its predicted residual toward the renderer's fully textured (sign +1) or untextured (−1) look.
It is trained on pairs of toy renders that differ only in that attribute:

    python -m chatface_widgets.train.painter_trainer --out weights/toy/textures --minutes 20 --threads 1

    painter = load_painter("weights/toy/textures", "curly hair")   # None when absent
    curly = painter.paint(images, torch.tensor([0.8]))             # (B, 3, H, W) in [-1, 1]
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import torch

from chatface_widgets.foundation.contract import check_curve, curved
from chatface_widgets.models.small_unet import JsonConfig, SmallUNet, load_small, resize, save_small

TRAIN_HINT = "python -m chatface_widgets.train.painter_trainer --out {folder}"
# What the model's chroma blur (card "chroma_sigma") smooths where a painter paints: its change (default), or the
# painted pixels themselves, for an attribute that makes colour plainer than the photo's (pale skin).
CHROMA_OF = ("change", "result")


def file_stem(attribute: str) -> str:
    """File stem of an attribute's painter: 'curly hair' → 'curly_hair'."""
    return "_".join(attribute.lower().split())


@dataclass(frozen=True)
class TexturePainterConfig(JsonConfig):
    """Architecture of a painter, the attribute it paints and the face part it paints in."""

    attribute: str = "curly hair"
    part: str = "hair"  # where the texture lives (the region prior of a local edit)
    image_size: int = 48  # input side; other sizes are painted at this size and the residual resized back
    widths: tuple = (16, 32, 48, 64)  # channels per level; each level after the first halves the side
    with_mapper: bool = True  # the engine also moves z with the attribute's mapper (False: the texture alone)

    def __post_init__(self):
        if len(self.widths) < 2 or self.image_size < 2 ** (len(self.widths) - 1) or not self.attribute.strip():
            raise ValueError(f"bad TexturePainterConfig: widths {self.widths}, image_size {self.image_size}, "
                             f"attribute {self.attribute!r}")


class TexturePainter(SmallUNet):
    """U-Net: images (B, 3, H, W) in [-1, 1] and a direction (B,) of ±1 → residual (B, 3, H, W) toward that texture."""

    curve: tuple = (1.0, 1.0)  # the card's "strength_curve" (γ adding, γ removing): a slider at s paints |s|^γ of it
    smooth_result: bool = False  # the card's "chroma_of": "result": the model's chroma blur takes the painted pixels, not the change

    def __init__(self, config: TexturePainterConfig = TexturePainterConfig()):
        super().__init__(4, 3, config.widths)  # RGB + a constant channel holding the direction
        self.config = config

    def forward(self, x: torch.Tensor, direction: torch.Tensor) -> torch.Tensor:
        """The residual at the input's size (painted at ``image_size``)."""
        if x.ndim != 4 or x.shape[1] != 3:
            raise ValueError(f"TexturePainter expects images (B, 3, H, W), got {tuple(x.shape)}")
        small = resize(x, self.config.image_size)
        d = direction.to(small).reshape(-1, 1, 1, 1).expand(small.shape[0], 1, *small.shape[-2:])
        return resize(self.run(torch.cat([small, d], 1)), x.shape[-2:])

    @torch.no_grad()
    def paint(self, x: torch.Tensor, strength: torch.Tensor) -> torch.Tensor:
        """x + min(|s|, 1) · R(x, sign s) per image, clamped to [-1, 1]; rows with s = 0 come back unchanged."""
        strength = torch.as_tensor(strength, dtype=torch.float32).reshape(-1).to(x.device)
        if strength.shape[0] != x.shape[0]:
            raise ValueError(f"paint: {x.shape[0]} images but {strength.shape[0]} strengths")
        out = x.clone()
        if self.curve != (1.0, 1.0):  # the card's strength curve (foundation.contract.curved), as for mappers
            strength = torch.tensor([curved(v, self.curve[v < 0]) for v in strength.tolist()], device=strength.device)
        rows = torch.nonzero(strength != 0).flatten()
        if len(rows) == 0:
            return out
        was_training = self.training
        self.eval()
        try:
            device = next(self.parameters()).device
            s = strength[rows]
            residual = self(x[rows].float().to(device), torch.sign(s).to(device)).to(x)
            out[rows] = (x[rows] + s.abs().clamp(max=1.0).reshape(-1, 1, 1, 1).to(x) * residual).clamp(-1, 1)
            return out
        finally:
            self.train(was_training)


def save_painter(model: TexturePainter, folder, meta: Optional[dict] = None) -> Path:
    """Write ``<attribute>.safetensors`` (fp16 floats) and ``<attribute>.json`` (config + meta), each atomically."""
    stem = file_stem(model.config.attribute)
    Path(folder).mkdir(parents=True, exist_ok=True)
    return save_small(model, folder, stem + ".safetensors", stem + ".json",
                      {"config": model.config.to_json(), **(meta or {})})


def load_painter(folder, attribute: str, device: str = "cpu") -> Optional[TexturePainter]:
    """The painter of ``attribute`` in ``folder`` (float32, eval mode), None when its files are absent.

    A broken file, or a card for another attribute, raises a one-line ValueError naming it.
    """
    stem = file_stem(attribute)

    def build(card: dict) -> TexturePainter:
        config = TexturePainterConfig.from_json(card["config"])
        if file_stem(config.attribute) != stem:
            raise ValueError(f"the card is for {config.attribute!r}, not {attribute!r}")
        painter = TexturePainter(config)
        painter.curve = check_curve(Path(folder) / (stem + ".json"), card.get("strength_curve"))
        chroma_of = card.get("chroma_of", "change")
        if chroma_of not in CHROMA_OF:
            raise ValueError(f'field "chroma_of" must be one of {", ".join(map(repr, CHROMA_OF))}, got {chroma_of!r}')
        painter.smooth_result = chroma_of == "result"
        return painter

    return load_small(folder, stem + ".safetensors", stem + ".json", build, "texture painter",
                      TRAIN_HINT.format(folder=folder), device)


def painters_in(folder) -> list[str]:
    """Attributes with a painter card in ``folder`` (file stems, spaces restored), sorted."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    return sorted(p.stem.replace("_", " ") for p in folder.glob("*.json") if p.with_suffix(".safetensors").is_file())
