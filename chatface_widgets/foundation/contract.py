"""The edit contract: the one definition of strengths, attribute names and step counts.

    contract = engine.contract                        # built from the model's registry and config
    contract.resolve("smiling")                       # -> "smile" (name, synonym; else UnknownAttributeError)
    contract.merge({"smile": 0.8, "grin": 0.6})       # -> MergedEdits({"smile": 1.0}, notes=("... capped ...",))
    contract.steps.check(0)                           # -> ValueError naming the valid step counts

Every part that must agree asks this module: the attribute registry, the engine, ``Plan``, the
panel state and sliders, every interpreter (and the LLM prompt and schema), and the CLI. Pure
Python (no torch), so the chat layer can use it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Mapping, Optional

from chatface_widgets.foundation.steps import (DEFAULT_STEPS, INTERACTIVE_MAX_STEPS, QUALITY_STEPS,  # noqa: F401
                                              StepPolicy, check_steps)

STRENGTH_MIN, STRENGTH_MAX = -1.0, 1.0  # every strength, everywhere: slider, state, plan, engine
DEFAULT_STRENGTH = 0.5  # ChatFace's slot default when the user names no amount (a mapper card may override)
RESOLUTION = 0.01  # strengths are kept to two decimals, like the sliders show them
INTERACTIVE_MAX_BATCH = 64  # images one panel or CLI call may render at once
LOCAL_REACH = 0.02  # how far a local edit's region reaches past where the edit acts (fraction of the side)
LOCAL_REACH_MAX = 0.25  # the reach control's upper end (a quarter of the image side)


class UnknownAttributeError(KeyError):
    """An attribute name the current model cannot edit; the message lists the known ones."""

    def __str__(self) -> str:  # KeyError would otherwise print the repr of the message
        return str(self.args[0]) if self.args else "unknown attribute"


def normalize_name(name: str) -> str:
    """Canonical form of an attribute name: lower case, single spaces, no underscores or dashes."""
    return " ".join(str(name).replace("_", " ").replace("-", " ").lower().split())


def check_strength(name: str, value) -> float:
    """``value`` as a float if it is a finite number in [STRENGTH_MIN, STRENGTH_MAX]; else ValueError."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) and not hasattr(value, "__float__"):
        raise ValueError(f"strength for {name!r} must be a number, got {value!r}")
    value = float(value)
    if not math.isfinite(value) or not STRENGTH_MIN <= value <= STRENGTH_MAX:
        raise ValueError(f"strength for {name!r} must be a finite number in "
                         f"[{STRENGTH_MIN:g}, {STRENGTH_MAX:g}], got {value}")
    return value


CURVE_RANGE = (0.2, 5.0)  # a card's "strength_curve" γ


def curved(strength: float, gamma: float) -> float:
    """A slider's strength through a card's strength curve: sign(s)·|s|^γ (s itself for γ = 1; 0 and ±1 stay)."""
    s = float(strength)
    return s if gamma == 1.0 or s == 0.0 else math.copysign(abs(s) ** gamma, s)


def check_curve(card_path, value) -> tuple[float, float]:
    """A card's ``"strength_curve"`` as (γ for adding, γ for removing): one number for both signs, or
    ``{"add": γ, "remove": γ}``; (1, 1) when absent; each in CURVE_RANGE, else ValueError naming the card."""
    if value is None:
        return 1.0, 1.0
    low, high = CURVE_RANGE
    pair = (value.get("add", 1.0), value.get("remove", 1.0)) if isinstance(value, dict) and set(value) <= {"add", "remove"} \
        else (value, value)
    for v in pair:
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not low <= v <= high:
            raise ValueError(f"{card_path}: \"strength_curve\" must be a number from {low:g} to {high:g}, or "
                             f"{{\"add\": γ, \"remove\": γ}}, got {value!r}; fix the card (1 is linear)")
    return float(pair[0]), float(pair[1])


def check_reach(value) -> float:
    """A local edit's reach as a float in [0, LOCAL_REACH_MAX]; else ValueError saying the range."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) and not hasattr(value, "__float__"):
        raise ValueError(f"reach must be a number, got {value!r}")
    value = float(value)
    if not math.isfinite(value) or not 0.0 <= value <= LOCAL_REACH_MAX:
        raise ValueError(f"reach must be a number in [0, {LOCAL_REACH_MAX:g}] (a fraction of the image side), "
                         f"got {value}")
    return value


def clamp_strength(value: float) -> float:
    """``value`` limited to [STRENGTH_MIN, STRENGTH_MAX] (finite input expected)."""
    return min(STRENGTH_MAX, max(STRENGTH_MIN, float(value)))


def quantize(value: float) -> float:
    """A strength clamped to the range and rounded to RESOLUTION; NaN and infinities raise ValueError."""
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"a strength must be a finite number, got {value}")
    return round(round(clamp_strength(value) / RESOLUTION) * RESOLUTION, 6) + 0.0  # + 0.0: no -0.0


@dataclass(frozen=True)
class MergedEdits:
    """Strengths keyed by canonical attribute name, with notes on what merging changed."""

    strengths: Mapping[str, float]
    notes: tuple = ()


@dataclass(frozen=True)
class EditContract:
    """What one model can edit and how: names with synonyms, recommended strengths, step policy."""

    attributes: tuple  # canonical attribute names, in display order
    synonyms: Mapping[str, tuple] = field(default_factory=dict)  # name -> other words for it
    recommended: Mapping[str, float] = field(default_factory=dict)  # name -> strength "add X" means
    steps: StepPolicy = StepPolicy(default=DEFAULT_STEPS)

    def __post_init__(self):
        attributes = tuple(dict.fromkeys(normalize_name(a) for a in self.attributes))
        synonyms = {normalize_name(k): tuple(normalize_name(s) for s in v) for k, v in dict(self.synonyms).items()}
        recommended = {normalize_name(k): float(v) for k, v in dict(self.recommended).items()}
        for name, value in recommended.items():
            check_strength(name, value)
        object.__setattr__(self, "attributes", attributes)
        object.__setattr__(self, "synonyms", MappingProxyType(synonyms))
        object.__setattr__(self, "recommended", MappingProxyType(recommended))
        lookup = {}
        for name in attributes:
            for word in synonyms.get(name, ()):
                lookup.setdefault(word, name)
        lookup.update({name: name for name in attributes})  # a real name always wins over a synonym
        object.__setattr__(self, "_lookup", MappingProxyType(lookup))

    def resolve(self, name: str, strict: bool = True) -> Optional[str]:
        """The canonical name for ``name`` or one of its synonyms; UnknownAttributeError when strict."""
        key = self._lookup.get(normalize_name(name))
        if key is None and strict:
            known = ", ".join(self.attributes) or "(none)"
            raise UnknownAttributeError(f"unknown attribute {name!r}; this model can edit: {known}")
        return key

    def __contains__(self, name: str) -> bool:
        return self.resolve(name, strict=False) is not None

    def recommended_strength(self, name: str) -> float:
        """The strength a plain "add X" means for this attribute (its card's, else DEFAULT_STRENGTH)."""
        return self.recommended.get(self.resolve(name), DEFAULT_STRENGTH)

    def merge(self, strengths: Mapping[str, float]) -> MergedEdits:
        """Resolve names, check each strength, add up synonyms of one attribute and cap the sum.

        ``{"smile": 1, "grin": 1}`` becomes ``{"smile": 1.0}`` with a note saying so.
        """
        merged: dict[str, float] = {}
        said: dict[str, list[str]] = {}
        for name, value in strengths.items():
            key = self.resolve(name)
            merged[key] = merged.get(key, 0.0) + check_strength(key, value)
            said.setdefault(key, []).append(str(name))
        notes = []
        for key, value in merged.items():
            if len(said[key]) > 1:
                capped = clamp_strength(value)
                words = ", ".join(repr(w) for w in said[key])
                text = f"{words} all name {key!r}: merged into one strength {capped:+.2f}"
                notes.append(text + (f" (the sum {value:+.2f} was capped)" if capped != value else ""))
                merged[key] = capped
        return MergedEdits(MappingProxyType(merged), tuple(notes))

    def bounded(self) -> "EditContract":
        """This contract with the interactive step bound (panel and CLI)."""
        return replace(self, steps=self.steps.bounded())
