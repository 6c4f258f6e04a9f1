"""chatface_widgets: chat-guided editing of face photos with a diffusion autoencoder (ChatFace on DiffAE).

    import chatface_widgets as cf
    engine = cf.Engine.load("toy")
    face = engine.open(photo)
    face.render({"smile": 0.8})

Heavy modules (torch models, widgets) are imported on first use, not at package import.
"""

from __future__ import annotations

import logging

__version__ = "0.1.0"
logging.getLogger(__name__).addHandler(logging.NullHandler())  # a library logs; the application decides what shows

_LAZY = {
    "Engine": ("chatface_widgets.engine.engine", "Engine"),
    "Face": ("chatface_widgets.engine.engine", "Face"),
    "load_diffae": ("chatface_widgets.models.diffae", "load_diffae"),
    "UnknownAttributeError": ("chatface_widgets.editing.registry", "UnknownAttributeError"),
    "PhotoError": ("chatface_widgets.photos.photo", "PhotoError"),
    "RuleInterpreter": ("chatface_widgets.chat", "RuleInterpreter"),
    "OpenAIInterpreter": ("chatface_widgets.chat", "OpenAIInterpreter"),
    "ChatFacePanel": ("chatface_widgets.widgets", "ChatFacePanel"),
    "Recipe": ("chatface_widgets.jobs.recipe", "Recipe"),
    "RenderSettings": ("chatface_widgets.foundation.settings", "RenderSettings"),
    "apply": ("chatface_widgets.jobs.batch", "apply"),
}

__all__ = [*_LAZY, "load_ipython_extension", "unload_ipython_extension", "__version__"]


def __getattr__(name: str):
    """Import public names lazily so ``import chatface_widgets`` stays cheap."""
    if name in _LAZY:
        import importlib

        module, attr = _LAZY[name]
        return getattr(importlib.import_module(module), attr)
    raise AttributeError(f"module 'chatface_widgets' has no attribute {name!r}")


def load_ipython_extension(ipython) -> None:
    """``%load_ext chatface_widgets``: register the ``%chatface`` magic."""
    from chatface_widgets.widgets.magic import load_ipython_extension as _load

    _load(ipython)


def unload_ipython_extension(ipython) -> None:
    """``%unload_ext chatface_widgets``."""
    from chatface_widgets.widgets.magic import unload_ipython_extension as _unload

    _unload(ipython)
