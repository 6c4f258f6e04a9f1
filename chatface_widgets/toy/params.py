"""Parameters of the toy face world: identity, attributes, seeded sampling and captions."""

from __future__ import annotations

import dataclasses
import math
from typing import Mapping

import numpy as np

from chatface_widgets.toy.attributes import ATTRIBUTES, PHRASES  # noqa: E402 - the one attribute table

# Part-mask ids are the positions in this tuple.
PARTS = ("background", "skin", "hair", "eyes", "mouth", "glasses", "clothes", "beard")
# Seeds at or above this are evaluation-only; training streams must stay below it.
HELDOUT_SEED_START = 2_000_000_000

HAIR_STYLES = ("short", "bob", "long", "buzz", "bun")
HAIR_HUES = ("dark", "brown", "blond", "red")
BACKGROUND_PATTERNS = ("plain", "gradient", "stripes")

PRESENT_PROBABILITY = 0.35  # chance that each attribute is present in a sampled face
PRESENT_RANGE = (0.55, 1.0)  # value range of a present attribute
ABSENT_RANGE = (0.0, 0.2)  # value range of an absent attribute
LABEL_THRESHOLD = 0.5  # value at which an attribute counts as present

# Upper bin edges on [0, 1) for the categorical identity fields.
_STYLE_EDGES = (0.25, 0.45, 0.70, 0.80, 1.0)
_HUE_EDGES = (0.35, 0.65, 0.85, 1.0)
_PATTERN_EDGES = (0.4, 0.7, 1.0)

# Identity fields: all in [0, 1] except the head offsets, which are in [-1, 1].
IDENTITY_KEYS = (
    "face_width",
    "face_length",
    "skin_tone",
    "eye_spacing",
    "eye_size",
    "iris_shade",
    "nose_size",
    "mouth_width",
    "brow_thickness",
    "brow_tilt",
    "hair_style",
    "hair_length",
    "hair_hue",
    "background_hue",
    "background_pattern",
    "clothing_hue",
    "clothing_shade",
    "head_x",
    "head_y",
    "head_scale",
)
_SIGNED_KEYS = ("head_x", "head_y")


def canonical_attribute(name: str) -> str:
    """Map 'red_lipstick' / 'Red Lipstick' to 'red lipstick'; raise KeyError if unknown."""
    key = str(name).strip().lower().replace("_", " ")
    if key not in ATTRIBUTES:
        raise KeyError(f"unknown attribute {name!r}; known attributes: {', '.join(ATTRIBUTES)}")
    return key


def _bin(value: float, edges: tuple[float, ...]) -> tuple[int, float]:
    """Return (bin index, position inside the bin in [0, 1]) of value in [0, 1]."""
    lo = 0.0
    for i, hi in enumerate(edges):
        if value < hi or i == len(edges) - 1:
            return i, min(max((value - lo) / (hi - lo), 0.0), 1.0)
        lo = hi
    raise AssertionError("unreachable")


@dataclasses.dataclass(frozen=True)
class FaceParams:
    """One toy face: identity fields (who) plus attribute strengths in [0, 1] (what to edit)."""

    identity: dict[str, float]  # IDENTITY_KEYS -> float
    attributes: dict[str, float]  # ATTRIBUTES -> strength, 0 = absent, 1 = strong
    seed: int | None = None  # seed it was sampled from, kept through edits

    def with_attributes(self, values: Mapping[str, float]) -> FaceParams:
        """Same identity with some attributes set; names may use spaces or underscores."""
        attrs = dict(self.attributes)
        for name, value in values.items():
            v = float(value)
            if not math.isfinite(v):
                raise ValueError(f"attribute {name!r} must be finite, got {value!r}")
            attrs[canonical_attribute(name)] = min(max(v, 0.0), 1.0)
        return FaceParams(identity=dict(self.identity), attributes=attrs, seed=self.seed)

    def replace(self, **attrs: float) -> FaceParams:
        """Keyword form of with_attributes, e.g. p.replace(smile=1.0, red_lipstick=0.0)."""
        return self.with_attributes(attrs)

    @property
    def hair_style(self) -> str:
        """Discrete hair style name."""
        return HAIR_STYLES[_bin(self.identity["hair_style"], _STYLE_EDGES)[0]]

    @property
    def hair_hue(self) -> tuple[str, float]:
        """Discrete hair hue name and the shade position inside it."""
        i, t = _bin(self.identity["hair_hue"], _HUE_EDGES)
        return HAIR_HUES[i], t

    @property
    def background_pattern(self) -> str:
        """Discrete background pattern name."""
        return BACKGROUND_PATTERNS[_bin(self.identity["background_pattern"], _PATTERN_EDGES)[0]]


def sample_params(seed: int) -> FaceParams:
    """Draw a face deterministically from numpy Generator(seed)."""
    rng = np.random.default_rng(int(seed))
    raw = rng.random(len(IDENTITY_KEYS))
    identity = {}
    for key, u in zip(IDENTITY_KEYS, raw.tolist()):
        identity[key] = 2.0 * u - 1.0 if key in _SIGNED_KEYS else u
    present = rng.random(len(ATTRIBUTES)) < PRESENT_PROBABILITY
    strong = rng.uniform(*PRESENT_RANGE, size=len(ATTRIBUTES))
    weak = rng.uniform(*ABSENT_RANGE, size=len(ATTRIBUTES))
    values = np.where(present, strong, weak).tolist()
    return FaceParams(identity=identity, attributes=dict(zip(ATTRIBUTES, values)), seed=int(seed))


def attribute_labels(p: FaceParams) -> dict[str, bool]:
    """Binary presence of every attribute (value >= 0.5)."""
    return {name: p.attributes[name] >= LABEL_THRESHOLD for name in ATTRIBUTES}


def _smile_phrase(v: float) -> str:
    """Smile wording with a strength word."""
    if v < 0.7:
        return "a slight smile"
    if v > 0.85:
        return "a big smile"
    return "a smile"


def make_caption(p: FaceParams) -> str:
    """Plain-English caption naming the attributes that are present."""
    on = attribute_labels(p)
    a = p.attributes
    parts = []
    hair = [w for w, k in (("curly", "curly hair"), ("gray", "gray hair")) if on[k]]
    if hair:
        parts.append(" ".join(hair) + " hair")
    if on["smile"]:
        parts.append(_smile_phrase(a["smile"]))
    parts += [PHRASES[k] for k in ("eyeglasses", "beard", "red lipstick", "blue eyes", "pale skin") if on[k]]
    if not parts:
        return "a face"
    if len(parts) == 1:
        return "a face with " + parts[0]
    return "a face with " + ", ".join(parts[:-1]) + " and " + parts[-1]
