"""Where the user lets an edit act: parts to keep, parts to limit it to, or a painted mask (issue 30).

    RenderSettings(edits={"gray hair": 1}, keep=("beard",))   # gray hair, the beard left as it is
    RenderSettings(edits={"gray hair": 1}, only=("hair",))    # the edit limited to the hair
    RenderSettings(edits=..., mask=PaintedMask(array))        # 1 = may edit, 0 = keep (soft edges allowed)

Part names are the ones every part map of the renderer uses (the built-in face parser and the dlib
landmark maps, ``toy.PARTS``). A painted mask belongs to one photo: it is not written to a recipe.
Pure Python: the mask's pixels are kept as given (an array) and identified by a digest.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any, Iterable

PART_NAMES = ("background", "skin", "hair", "eyes", "mouth", "glasses", "clothes", "beard")  # = toy.PARTS


class UnknownPartError(ValueError):
    """A part name no part map knows; the message lists the known ones."""


def known_parts_text(parts: Iterable[str] = PART_NAMES) -> str:
    """The known part names as one phrase for errors and replies."""
    return ", ".join(parts)


def check_parts(names: Any, what: str = "parts", known: Iterable[str] = PART_NAMES) -> tuple[str, ...]:
    """``names`` (a name or a list of them) as a sorted tuple of known part names; UnknownPartError otherwise."""
    if isinstance(names, str):
        names = (names,)
    if names is None:
        return ()
    known = tuple(known)
    out = []
    for name in names:
        if not isinstance(name, str):
            raise UnknownPartError(f"{what}: part names must be text, got {name!r}")
        clean = name.strip().lower()
        if clean not in known:
            raise UnknownPartError(f"{what}: unknown part {name!r}; the parts are {known_parts_text(known)}")
        out.append(clean)
    return tuple(sorted(set(out)))


@dataclass(frozen=True, eq=False)
class PaintedMask:
    """A mask given in code or painted in the panel: where the edit may act (1) and where the photo stays (0).

    ``pixels``: a 2-D array of floats in [0, 1] (any size; the renderer resizes it to the face).
    Equal digests mean equal pixels, so settings with a mask stay hashable and comparable.
    """

    pixels: Any = field(repr=False)
    digest: str = ""

    def __post_init__(self):
        if not self.digest:
            data = self.pixels.tobytes() if hasattr(self.pixels, "tobytes") else repr(self.pixels).encode()
            shape = repr(getattr(self.pixels, "shape", ())).encode()
            object.__setattr__(self, "digest", hashlib.sha256(shape + data).hexdigest()[:16])

    def __eq__(self, other):
        return isinstance(other, PaintedMask) and other.digest == self.digest

    def __hash__(self):
        return hash(self.digest)

    def __repr__(self):
        return f"PaintedMask({self.digest})"
