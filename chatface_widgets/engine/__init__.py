"""The engine: load a model once (catalogue, devices, fast path), open a photo once, render settings into pixels.

``from chatface_widgets.engine import Engine, Face`` is the short form of ``chatface_widgets.engine.engine``.
"""

from chatface_widgets.engine.engine import Engine, Face

__all__ = ["Engine", "Face"]
