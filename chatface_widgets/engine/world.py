"""Faces of the built-in world as photos: held-out identities with neutral attributes, at the model's size."""

from __future__ import annotations

from PIL import Image

from chatface_widgets.toy.params import ATTRIBUTES, HELDOUT_SEED_START, sample_params
from chatface_widgets.toy.render import render_face

WORLD_SIZE = 48  # the built-in model's image size (weights/toy/diffae.json); edits take whole multiples of it
FIRST_SEED = HELDOUT_SEED_START + 1000  # past the built-in samples' seeds (offsets 0-20), never trained on
# A faint natural smile; every other attribute clearly absent, so any edit has room to act.
NEUTRAL = {name: 0.05 for name in ATTRIBUTES} | {"smile": 0.3}


def world_face(number: int, scale: int = 1) -> Image.Image:
    """Held-out face ``number`` (0, 1, ...) as an RGB image of WORLD_SIZE·scale pixels a side (nearest)."""
    params = sample_params(FIRST_SEED + int(number)).with_attributes(NEUTRAL)
    image = render_face(params, WORLD_SIZE).image.convert("RGB")
    if scale == 1:
        return image
    return image.resize((WORLD_SIZE * scale, WORLD_SIZE * scale), Image.NEAREST)
