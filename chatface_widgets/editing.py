"""The attribute registry: what can be edited, under which names, and how edits compose into z_edit.

An attribute is a mapper (a trained ChatFace MLP or a fixed linear direction) with a chat name
and synonyms. ``AttributeRegistry.compose`` implements ``z_edit = z + Σ s_i·Δz_i(z)`` (ChatFace
Eq. 12) after validating names and strengths.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Mapping, Optional

import torch

from .models.mapper import AttributeMapper, LinearDirection, compose, load_mapper

MAX_STRENGTH = 2.0  # strengths beyond ±2 leave the region the mappers were trained for


class UnknownAttributeError(KeyError):
    """An attribute name the current model cannot edit; the message lists the known ones."""

    def __str__(self) -> str:  # KeyError would otherwise print the repr of the message
        return str(self.args[0]) if self.args else "unknown attribute"


def normalize_name(name: str) -> str:
    """Canonical form of an attribute name: lower case, single spaces, no underscores or dashes."""
    return " ".join(str(name).replace("_", " ").replace("-", " ").lower().split())


@dataclass
class Attribute:
    """One editable attribute: its mapper plus the words that name it."""

    name: str
    mapper: AttributeMapper
    synonyms: tuple = ()
    kind: str = "mlp"  # "mlp" (trained ChatFace mapper) or "linear" (fixed direction)
    card: dict = field(default_factory=dict)  # training record / provenance from the JSON card


class AttributeRegistry:
    """Name → Attribute, with lookup by chat name or synonym and validated composition."""

    def __init__(self, attributes: Iterable[Attribute] = ()):
        self._items: dict[str, Attribute] = {}
        for attr in attributes:
            self.add(attr)

    def add(self, attr: Attribute) -> None:
        self._items[normalize_name(attr.name)] = attr

    @property
    def names(self) -> list[str]:
        return list(self._items)

    def __contains__(self, name: str) -> bool:
        return self.resolve(name, strict=False) is not None

    def __len__(self) -> int:
        return len(self._items)

    def synonyms(self) -> dict[str, list[str]]:
        """Chat name → synonyms, for interpreters."""
        return {name: list(a.synonyms) for name, a in self._items.items()}

    def resolve(self, name: str, strict: bool = True) -> Optional[str]:
        """The registry name for ``name`` (exact or synonym); raises UnknownAttributeError when strict."""
        key = normalize_name(name)
        if key in self._items:
            return key
        for attr_name, attr in self._items.items():
            if key in (normalize_name(s) for s in attr.synonyms):
                return attr_name
        if strict:
            known = ", ".join(self.names) or "(none)"
            raise UnknownAttributeError(f"unknown attribute {name!r}; this model can edit: {known}")
        return None

    def __getitem__(self, name: str) -> Attribute:
        return self._items[self.resolve(name)]

    def validate(self, strengths: Mapping[str, float]) -> dict[str, float]:
        """Resolve names and check strengths are finite numbers within ±MAX_STRENGTH."""
        clean: dict[str, float] = {}
        for name, value in strengths.items():
            key = self.resolve(name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) and not hasattr(value, "__float__"):
                raise ValueError(f"strength for {key!r} must be a number, got {value!r}")
            value = float(value)
            if not math.isfinite(value) or abs(value) > MAX_STRENGTH:
                raise ValueError(f"strength for {key!r} must be finite and within ±{MAX_STRENGTH}, got {value}")
            clean[key] = clean.get(key, 0.0) + value
        return clean

    def compose(self, z: torch.Tensor, strengths: Mapping[str, float]) -> torch.Tensor:
        """z_edit = z + Σ s_i·Δz_i(z) (ChatFace Eq. 12), validating names and strengths first."""
        return self.compose_validated(z, self.validate(strengths))

    def compose_validated(self, z: torch.Tensor, clean: Mapping[str, float]) -> torch.Tensor:
        """Eq. 12 for strengths that :meth:`validate` already returned (registry names, floats)."""
        mappers = {k: self._items[k].mapper.to(z.device) for k in clean}
        with torch.no_grad():
            return compose(z, mappers, clean)

    @classmethod
    def from_folder(cls, folder, z_channels: Optional[int] = None) -> "AttributeRegistry":
        """Load every mapper card (``*.json`` beside ``*.safetensors``) in a folder."""
        registry = cls()
        folder = Path(folder)
        if not folder.is_dir():
            return registry
        for card_path in sorted(folder.glob("*.json")):
            card = json.loads(card_path.read_text())
            if card.get("kind") != "mlp_mapper":
                continue
            mapper, card = load_mapper(card_path.with_suffix(".safetensors"))
            if z_channels is not None and mapper.z_channels != z_channels:
                raise ValueError(f"{card_path}: mapper for z size {mapper.z_channels}, model has {z_channels}")
            registry.add(Attribute(card["attribute"], mapper, tuple(card.get("synonyms", ())), "mlp", card))
        return registry

    def add_directions(self, directions: Mapping[str, LinearDirection], synonyms: Mapping[str, Iterable[str]] | None = None) -> None:
        """Register fixed linear directions (e.g. DiffAE's latent classifier) beside trained mappers."""
        for name, direction in directions.items():
            if normalize_name(name) not in self._items:
                self.add(Attribute(name, direction, tuple((synonyms or {}).get(name, ())), "linear"))
