"""Engines, photos and interpreters for a panel: load once per model, fall back to the tiny model visibly.

"toy" (the default) is the built-in model; when its weights are not on this machine the panel
still opens on the random tiny test model and says so. "tiny" asks for that test model directly.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Optional

_ENGINES: dict = {}  # model name → (engine, note); filled on first use
_ENGINES_LOCK = threading.Lock()
DEFAULT_MODEL = "toy"
TINY = "tiny"


def load_engine(model=None):
    """(engine, note) for a model name or checkpoint path; the note explains a fallback, else None."""
    key = DEFAULT_MODEL if model is None else str(model)
    with _ENGINES_LOCK:
        if key not in _ENGINES:
            _ENGINES[key] = _load(key, fallback=model is None)
        return _ENGINES[key]


def _load(key: str, fallback: bool):
    """Load without caching (see :func:`load_engine`)."""
    from chatface_widgets.engine.engine import Engine

    if key == TINY:
        return Engine.load(TINY), "Using the random tiny test model (its edits are not meaningful)."
    try:
        return Engine.load(key), None
    except FileNotFoundError as exc:
        if not fallback:
            raise
        return Engine.load(TINY), (f"The built-in model's weights are not on this machine ({exc}). "
                                   "Using the random tiny test model instead.")


def default_photo(engine):
    """The model's first built-in sample photo ("sample" for Engine.open)."""
    from chatface_widgets.engine.engine import SAMPLE

    return SAMPLE


def make_interpreter(kind, engine):
    """The chat factory's interpreter for ``engine`` with the interactive bounds (the CLI builds the same)."""
    from chatface_widgets.chat import make_interpreter as build

    return build(kind, engine.contract.bounded())


def photo_place(photo) -> tuple[str, Optional[Path]]:
    """(file stem, folder) of a photo given as a path; ("chatface", None) for images and samples."""
    if isinstance(photo, (str, os.PathLike)):
        path = Path(photo).expanduser()
        return path.stem or "chatface", path.resolve().parent
    return "chatface", None
