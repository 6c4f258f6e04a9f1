"""The built-in world's one attribute table agrees with the renderer, the captions, the toy CLIP, the catalogue,
local edits and the evaluation (issue 26, item 4)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from chatface_widgets.diffusion.local import part_prior
from chatface_widgets.toy import PARTS, render_face, sample_params
from chatface_widgets.toy.attributes import ATTRIBUTES, BY_NAME, PHRASES, REGION_PRIORS, TABLE
from chatface_widgets.toy.params import make_caption

SIZE = 48


def test_every_reader_takes_its_names_from_the_table():
    from chatface_widgets import toy
    from chatface_widgets.engine import catalogue
    import importlib

    evaluate = importlib.import_module("chatface_widgets.eval.evaluate")

    assert toy.ATTRIBUTES == ATTRIBUTES == tuple(a.name for a in TABLE)
    assert tuple(catalogue.TINY_ATTRIBUTES) == ATTRIBUTES
    assert evaluate.ATTRIBUTE_PARTS == {a.name: a.paints for a in TABLE}
    assert all(part in PARTS for a in TABLE for part in (*a.paints, *a.region, *([a.texture] if a.texture else [])))


@pytest.mark.parametrize("name", ATTRIBUTES)
def test_a_caption_names_the_attribute_with_its_phrase(name):
    params = sample_params(2_000_000_123).with_attributes({a: 0.0 for a in ATTRIBUTES} | {name: 1.0})
    caption = make_caption(params)
    expected = "curly hair" if name == "curly hair" else "gray hair" if name == "gray hair" else PHRASES[name]
    assert expected in caption or (name == "smile" and "smil" in caption), caption


@pytest.mark.parametrize("name", ATTRIBUTES)
def test_the_renderer_changes_only_what_the_row_says(name):
    """The renderer draws the attribute in its `paints` parts, and the region prior (the parts before the edit,
    grown) covers what it changes: a local edit is not cut off."""
    covered, changed_total = 0, 0
    for seed in range(12):
        base = sample_params(2_000_100_000 + seed).with_attributes({name: 0.0})
        without, with_it = render_face(base, SIZE), render_face(base.with_attributes({name: 1.0}), SIZE)
        changed = np.abs(np.asarray(without.image, np.int16) - np.asarray(with_it.image, np.int16)).max(-1) > 24
        painted = np.isin(with_it.mask, [PARTS.index(p) for p in BY_NAME[name].paints])
        assert not changed.any() or (changed & painted).any(), f"{name} draws nothing in its paints parts"
        onehot = torch.from_numpy(np.stack([(without.mask == i) for i in range(len(PARTS))]).astype(np.float32))[None]
        parts, grow = REGION_PRIORS[name]
        prior = part_prior(onehot, [PARTS.index(p) for p in parts], grow)[0, 0].numpy() > 0
        covered += int((changed & prior).sum())
        changed_total += int(changed.sum())
    assert changed_total == 0 or covered / changed_total >= 0.97, f"{name}: prior covers {covered}/{changed_total}"
