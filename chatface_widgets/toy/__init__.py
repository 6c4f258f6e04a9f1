"""Procedural toy face world: sampled identities, editable attributes, masks and captions."""

from chatface_widgets.toy.params import (
    ATTRIBUTES,
    HELDOUT_SEED_START,
    PARTS,
    FaceParams,
    attribute_labels,
    make_caption,
    sample_params,
)
from chatface_widgets.toy.render import ToyFace, render_batch, render_face, render_masked_batch
from chatface_widgets.toy.samples import SAMPLE_NAMES, sample_face, sample_params_for, sample_photo

__all__ = [
    "ATTRIBUTES",
    "PARTS",
    "FaceParams",
    "sample_params",
    "render_face",
    "render_batch",
    "render_masked_batch",
    "ToyFace",
    "SAMPLE_NAMES",
    "sample_photo",
    "HELDOUT_SEED_START",
    "attribute_labels",
    "make_caption",
    "sample_face",
    "sample_params_for",
]
