"""The attribute registry: what can be edited, under which names, and how edits compose into z_edit.

An attribute is a mapper (a trained ChatFace MLP or a fixed linear direction) with a chat name
and synonyms. ``AttributeRegistry.compose`` implements ``z_edit = z + Σ s_i·Δz_i(z)`` (ChatFace
Eq. 12) after validating names and strengths.
"""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Iterable, Mapping, Optional

import torch

from chatface_widgets.foundation.contract import EditContract, StepPolicy, UnknownAttributeError, normalize_name  # noqa: F401
from chatface_widgets.models.mapper import AttributeMapper, LinearDirection, compose, load_mapper

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
        self._contract: Optional[EditContract] = None  # names and synonyms, rebuilt after add()
        for attr in attributes:
            self.add(attr)

    def add(self, attr: Attribute) -> None:
        self._items[normalize_name(attr.name)] = attr
        self._contract = None

    def get(self, name: str) -> Optional[Attribute]:
        """The attribute stored under a canonical name, or None."""
        return self._items.get(normalize_name(name))

    def attributes(self) -> list[Attribute]:
        """Every attribute, in registration order."""
        return list(self._items.values())

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

    def contract(self, steps: Optional[StepPolicy] = None) -> EditContract:
        """The edit contract of these attributes (names, synonyms, recommended strengths) and a step policy."""
        if self._contract is None:
            recommended = {n: a.card["recommended_strength"] for n, a in self._items.items()
                           if a.card.get("recommended_strength") is not None}
            self._contract = EditContract(tuple(self.names), self.synonyms(), recommended)
        return self._contract if steps is None else replace(self._contract, steps=steps)

    def resolve(self, name: str, strict: bool = True) -> Optional[str]:
        """The registry name for ``name`` (exact or synonym); raises UnknownAttributeError when strict."""
        return self.contract().resolve(name, strict)

    def __getitem__(self, name: str) -> Attribute:
        return self._items[self.resolve(name)]

    def validate(self, strengths: Mapping[str, float]) -> dict[str, float]:
        """Resolve names, check strengths and merge synonyms (EditContract.merge); notes become warnings."""
        merged = self.contract().merge(strengths)
        for note in merged.notes:
            warnings.warn(note, stacklevel=3)
        return dict(merged.strengths)

    def compose(self, z: torch.Tensor, strengths: Mapping[str, float]) -> torch.Tensor:
        """z_edit = z + Σ s_i·Δz_i(z) (ChatFace Eq. 12), validating names and strengths first."""
        return self.compose_validated(z, self.validate(strengths))

    def compose_validated(self, z: torch.Tensor, clean: Mapping[str, float]) -> torch.Tensor:
        """Eq. 12 for strengths that :meth:`validate` already returned (registry names, floats)."""
        mappers = {k: self._items[k].mapper.to(z.device) for k in clean}
        with torch.no_grad():
            return compose(z, mappers, clean)

    def steady(self, name: str, strength: float) -> bool:
        """Whether an edit of ``name`` at this sign conditions every step instead of following SMS (Eq. 13).

        The card's ``"sms"``: false for both signs, or ``{"add": bool, "remove": bool}`` for a signed
        mapper whose two halves were trained differently (absent or true: SMS).
        """
        sms = self._items[normalize_name(name)].card.get("sms")
        if isinstance(sms, dict):
            sms = sms.get("add" if strength >= 0 else "remove")
        return sms is False

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
            card = {**card, "_path": str(card_path.with_suffix(".safetensors"))}
            if z_channels is not None and mapper.z_channels != z_channels:
                raise ValueError(f"{card_path}: mapper for z size {mapper.z_channels}, model has {z_channels}")
            registry.add(Attribute(card["attribute"], mapper, tuple(card.get("synonyms", ())), "mlp", card))
        return registry

    def add_directions(self, directions: Mapping[str, LinearDirection], synonyms: Mapping[str, Iterable[str]] | None = None) -> None:
        """Register fixed linear directions (e.g. DiffAE's latent classifier) beside trained mappers."""
        for name, direction in directions.items():
            if normalize_name(name) not in self._items:
                self.add(Attribute(name, direction, tuple((synonyms or {}).get(name, ())), "linear"))
