"""Attribute mappers: Δz for one attribute, learned (ChatFace's residual MLP) or a fixed direction.

Every mapper maps a batch of semantic codes z (B, D) to an offset Δz (B, D) for strength 1; the
editor scales and sums them (``z_edit = z + Σ s_i·Δz_i(z)``, ChatFace Eq. 12).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Optional

import torch
import torch.nn.functional as F
from torch import nn

from chatface_widgets.foundation.contract import check_curve, curved


class AttributeMapper(nn.Module):
    """Base class: ``delta(z)`` is Δz at strength 1; ``forward`` is the same; ``step(z, s)`` is the edit at strength s."""

    name: str = ""
    curve: tuple = (1.0, 1.0)  # the card's "strength_curve" (γ adding, γ removing): s moves z by sign(s)·|s|^γ of the step

    def delta(self, z: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.delta(z)

    def step(self, z: torch.Tensor, strength: float) -> torch.Tensor:
        """s·Δz(z), the term of ChatFace Eq. 12, after the strength curve."""
        return curved(strength, self.curve[strength < 0]) * self.delta(z)


class MLPMapper(AttributeMapper):
    """ChatFace's mapper Δz = M(z): 4 linear layers of width D with LeakyReLU, residual in z (Eq. 5)."""

    def __init__(self, z_channels: int, num_layers: int = 4, name: str = ""):
        super().__init__()
        self.name = name
        self.z_channels = z_channels
        layers: list[nn.Module] = []
        for i in range(num_layers):
            layers.append(nn.Linear(z_channels, z_channels))
            if i < num_layers - 1:
                layers.append(nn.LeakyReLU(0.2))
        self.net = nn.Sequential(*layers)
        # Start as the identity edit: the last layer outputs zero until training moves it.
        nn.init.zeros_(self.net[-1].weight)
        nn.init.zeros_(self.net[-1].bias)

    def delta(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z)


class LinearDirection(AttributeMapper):
    """A fixed direction, DiffAE's classifier recipe: Δz = denorm(norm(z) + √D·ŵ) − z (amplitude-scaled).

    With ``mean``/``std`` the step is taken in the normalised space, ``z_n = (z − μ)/σ``, so
    ``Δz = amplitude·√D·ŵ·σ``; without them the direction acts on z directly.
    """

    def __init__(self, direction: torch.Tensor, mean: Optional[torch.Tensor] = None, std: Optional[torch.Tensor] = None,
                 name: str = "", amplitude: float = 1.0):
        super().__init__()
        self.name = name
        self.amplitude = float(amplitude)
        direction = direction.reshape(-1).float()
        self.register_buffer("direction", F.normalize(direction, dim=0))
        dim = direction.numel()
        self.register_buffer("std", (std.reshape(1, -1).float() if std is not None else torch.ones(1, dim)))
        self.register_buffer("mean", (mean.reshape(1, -1).float() if mean is not None else torch.zeros(1, dim)))

    def delta(self, z: torch.Tensor) -> torch.Tensor:
        step = self.amplitude * math.sqrt(self.direction.numel()) * self.direction
        z_n = (z - self.mean) / self.std
        return (z_n + step) * self.std + self.mean - z


def compose(z: torch.Tensor, mappers: dict[str, AttributeMapper], strengths: dict[str, float]) -> torch.Tensor:
    """z_edit = z + Σ_i s_i·Δz_i(z) (ChatFace Eq. 12); every Δz_i is evaluated at the original z."""
    z_edit = z
    for name, strength in sorted(strengths.items()):  # a fixed order: the same edits give the same bits
        if strength:
            z_edit = z_edit + mappers[name].step(z, strength)
    return z_edit


class SignedMapper(AttributeMapper):
    """One residual MLP per direction: s·M₊(z) for s > 0, |s|·M₋(z) for s < 0 (Eq. 12's term, signed).

    A single mapper removes by stepping back along the step that adds, so "remove the glasses" on a
    face without glasses paints an anti-glasses pattern. M₋ is trained on its own target (the face
    without the attribute), which is no step at all where the attribute is absent.
    """

    def __init__(self, add: MLPMapper, remove: MLPMapper, name: str = ""):
        super().__init__()
        self.name, self.add, self.remove = name, add, remove
        self.z_channels = add.z_channels

    def delta(self, z: torch.Tensor) -> torch.Tensor:
        return self.add.delta(z)

    def step(self, z: torch.Tensor, strength: float) -> torch.Tensor:
        s = curved(strength, self.curve[strength < 0])
        return s * self.add.delta(z) if s >= 0 else -s * self.remove.delta(z)


def save_mapper(mapper: MLPMapper | SignedMapper, dst, meta: dict) -> Path:
    """Write an MLP (or signed) mapper as safetensors plus a JSON card (attribute, synonyms, prompts, training record).

    Both are serialised before either is written, and each file is replaced whole (foundation.files):
    rewriting a mapper in place (``truth_latents --remove-only``) never leaves half a file.
    """
    from safetensors.torch import save

    from chatface_widgets.foundation.files import atomic_write_bytes

    dst = Path(dst)
    dst.parent.mkdir(parents=True, exist_ok=True)
    weights = save({k: v.detach().cpu().float().contiguous() for k, v in mapper.state_dict().items()})
    plain = mapper.add if isinstance(mapper, SignedMapper) else mapper
    card = {"kind": "mlp_mapper", "z_channels": mapper.z_channels, "num_layers": len(plain.net) // 2 + 1,
            **({"signed": True} if isinstance(mapper, SignedMapper) else {}), **meta}
    text = (json.dumps(card, indent=2) + "\n").encode("utf-8")
    atomic_write_bytes(dst, weights)
    atomic_write_bytes(dst.with_suffix(".json"), text)
    return dst


def load_mapper(path) -> tuple[MLPMapper | SignedMapper, dict]:
    """Read a mapper written by :func:`save_mapper`; returns the module (eval, its strength curve set) and its card."""
    from safetensors.torch import load_file

    path = Path(path)
    card = json.loads(path.with_suffix(".json").read_text())
    name = card.get("attribute", path.stem)

    def plain() -> MLPMapper:
        return MLPMapper(card["z_channels"], card.get("num_layers", 4), name=name)

    mapper = SignedMapper(plain(), plain(), name=name) if card.get("signed") is True else plain()
    mapper.load_state_dict(load_file(str(path)), strict=True)
    mapper.curve = check_curve(path.with_suffix(".json"), card.get("strength_curve"))
    return mapper.eval(), card


def read_directions(folder) -> Optional[tuple[dict[str, torch.Tensor], dict]]:
    """``directions.safetensors`` + ``.json`` in a folder → (name → vector, card); None when absent."""
    from safetensors.torch import load_file

    path = Path(folder) / "directions.safetensors"
    if not path.is_file():
        return None
    tensors = load_file(str(path))
    card = json.loads(path.with_suffix(".json").read_text())
    return {name: tensors[entry["key"]] for name, entry in card["directions"].items()}, card
