"""The notebook panel: thread-safe state, render worker, controller, ipywidgets view and ``%chatface``.

    panel = ChatFacePanel("photo.jpg")     # or %load_ext chatface_widgets, then %chatface photo.jpg
    panel.send("add a big smile")
    panel.wait_idle(5)

Names are imported on first use, so importing this package loads neither torch nor ipywidgets.
"""

from __future__ import annotations

_LAZY = {
    "ChatFacePanel": "panel",
    "PanelController": "controller",
    "RenderResult": "controller",
    "ChatEntry": "controller",
    "PanelState": "state",
    "Snapshot": "state",
    "LatestWorker": "worker",
    "QueueWorker": "worker",
    "Ticket": "worker",
    "load_engine": "loading",
    "open_panel": "magic",
    "load_ipython_extension": "magic",
    "unload_ipython_extension": "magic",
}

__all__ = list(_LAZY)


def __getattr__(name: str):
    """Import the module that defines ``name`` on first access."""
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
