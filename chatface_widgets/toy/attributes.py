"""The built-in world's attributes, one row each: the one table the renderer's captions, the toy CLIP,
the catalogue, local edits' region priors and the evaluation read.

A new built-in attribute is one row here, its drawing code in ``toy/render.py`` and its weights.
Part names are ``toy.params.PARTS`` (the parser's and the dlib landmark maps' names too).
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import Optional


@dataclass(frozen=True)
class ToyAttribute:
    """One attribute of the built-in world and everything the package needs to know about it."""

    name: str  # canonical name (the slider, the mapper file, the oracle's column)
    phrase: str  # how a caption names it after "a face with ..." (the toy CLIP's prompt)
    paints: tuple  # the parts the renderer repaints when the attribute is on (evaluation: the edited region)
    region: tuple  # where on the face BEFORE the edit it may act: the parts present then (glasses
    #                grow from the eyes, a beard from the skin) ...
    grow: float  # ... grown by this fraction of the side: the smallest growth covering >= 99 % of what the
    #              renderer changes for it on 150 training-seed faces (true part masks)
    texture: Optional[str] = None  # the part in which it is a texture (curls in the hair), else None
    recommended_strength: float = 1.0  # what a plain "add X" means (written on the mapper card)


TABLE = (
    ToyAttribute("smile", "a smile", ("mouth",), ("mouth",), 0.10),
    ToyAttribute("eyeglasses", "eyeglasses", ("glasses",), ("eyes",), 0.10),
    ToyAttribute("red lipstick", "red lipstick", ("mouth",), ("mouth",), 0.04),
    ToyAttribute("curly hair", "curly hair", ("hair",), ("hair",), 0.06, texture="hair"),
    ToyAttribute("gray hair", "gray hair", ("hair", "beard"), ("hair", "beard"), 0.04),
    ToyAttribute("beard", "a beard", ("beard",), ("skin", "mouth", "beard"), 0.04),
    ToyAttribute("blue eyes", "blue eyes", ("eyes",), ("eyes",), 0.04),
    ToyAttribute("pale skin", "pale skin", ("skin", "mouth", "beard"), ("skin", "mouth", "beard"), 0.06),
)
BY_NAME = MappingProxyType({a.name: a for a in TABLE})
ATTRIBUTES = tuple(a.name for a in TABLE)  # in label-column order (the oracle's outputs)
PHRASES = MappingProxyType({a.name: a.phrase for a in TABLE})
REGION_PRIORS = MappingProxyType({a.name: (a.region, a.grow) for a in TABLE})  # name -> (parts, grow)
PAINTED_PARTS = MappingProxyType({a.name: a.paints for a in TABLE})
TEXTURE_PARTS = MappingProxyType({a.name: a.texture for a in TABLE if a.texture})
