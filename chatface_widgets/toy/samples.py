"""Built-in sample photos: fixed held-out toy faces with mostly neutral attributes."""

from __future__ import annotations

from PIL import Image

from chatface_widgets.toy.params import ATTRIBUTES, HELDOUT_SEED_START, FaceParams, sample_params
from chatface_widgets.toy.render import ToyFace, render_face

SAMPLE_NAMES = ("ada", "ben", "cleo", "dev")
# Held-out seeds picked by eye for distinct, pleasant identities (offsets from HELDOUT_SEED_START).
_SAMPLE_OFFSETS = (4, 0, 20, 9)
# A faint natural smile; every other attribute clearly absent.
_NEUTRAL = {name: 0.05 for name in ATTRIBUTES} | {"smile": 0.3}


def _index(name_or_index: str | int) -> int:
    """Resolve a sample name or index; raise KeyError/IndexError when unknown."""
    if isinstance(name_or_index, str):
        key = name_or_index.strip().lower()
        if key not in SAMPLE_NAMES:
            raise KeyError(f"unknown sample {name_or_index!r}; known samples: {', '.join(SAMPLE_NAMES)}")
        return SAMPLE_NAMES.index(key)
    i = int(name_or_index)
    if not -len(SAMPLE_NAMES) <= i < len(SAMPLE_NAMES):
        raise IndexError(f"sample index {i} out of range 0..{len(SAMPLE_NAMES) - 1}")
    return i % len(SAMPLE_NAMES)


def sample_params_for(name_or_index: str | int = 0) -> FaceParams:
    """Parameters (identity + neutral attributes) of a built-in sample."""
    seed = HELDOUT_SEED_START + _SAMPLE_OFFSETS[_index(name_or_index)]
    return sample_params(seed).with_attributes(_NEUTRAL)


def sample_face(name_or_index: str | int = 0, size: int = 64) -> ToyFace:
    """A built-in sample with its mask and caption."""
    return render_face(sample_params_for(name_or_index), size)


def sample_photo(name_or_index: str | int = 0, size: int = 64) -> Image.Image:
    """A built-in sample photo as an RGB PIL image."""
    return sample_face(name_or_index, size).image
