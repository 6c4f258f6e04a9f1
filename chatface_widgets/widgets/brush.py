"""A brush on the original image (issue 30): paint "edit here" or "keep this", with a size, an eraser and clear.

The strokes are kept at the model's resolution (one cell per face pixel): +1 "edit here", −1 "keep this",
0 unpainted. :func:`allowed_mask` turns them into the one mask a render takes (1 = the edit may act):
with any "edit here" paint, only there; otherwise everywhere but "keep this". The canvas is ipycanvas
(a MultiCanvas: the photo below, the paint above, mouse events to Python); :class:`Strokes` needs no
widget, so the panel's logic is tested without a browser. A stroke reaches the state when the mouse
is released: one change, one render, one undo step per stroke.
"""

from __future__ import annotations

from typing import Callable, Optional

import numpy as np

EDIT, KEEP, ERASE = "edit here", "keep this", "eraser"
MODES = (EDIT, KEEP, ERASE)
COLORS = {1: (46, 194, 126), -1: (224, 27, 36)}  # edit here: green; keep this: red
ALPHA = 0.45  # how opaque the paint is drawn over the photo


def allowed_mask(paint: np.ndarray) -> Optional[np.ndarray]:
    """The render's mask from painted cells (float32 in {0, 1}, 1 = may edit), or None when nothing is painted."""
    if not paint.any():
        return None
    if (paint > 0).any():
        return (paint > 0).astype(np.float32)
    return (paint >= 0).astype(np.float32)


def paint_of(mask: Optional[np.ndarray], size: int) -> np.ndarray:
    """Painted cells that give ``mask`` back (undo, redo): mostly allowed → "keep this" cells, else "edit here" cells."""
    if mask is None:
        return np.zeros((size, size), np.int8)
    mask = np.asarray(mask, np.float32)
    if mask.shape != (size, size):
        from PIL import Image

        mask = np.asarray(Image.fromarray(mask, "F").resize((size, size), Image.Resampling.BILINEAR))
    if mask.mean() > 0.5:
        return np.where(mask < 0.5, -1, 0).astype(np.int8)
    return np.where(mask >= 0.5, 1, 0).astype(np.int8)


class Strokes:
    """Painted cells (H, W) int8 and the stamping of round brush dabs along a stroke."""

    def __init__(self, size: int):
        self.paint = np.zeros((size, size), np.int8)

    def dab(self, x: float, y: float, radius: float, mode: str) -> None:
        """Paint (or erase) a disk of ``radius`` cells centred at cell coordinates (x, y)."""
        n = self.paint.shape[0]
        yy, xx = np.mgrid[0:n, 0:n]
        disk = (xx + 0.5 - x) ** 2 + (yy + 0.5 - y) ** 2 <= max(float(radius), 0.5) ** 2
        self.paint[disk] = {EDIT: 1, KEEP: -1, ERASE: 0}[mode]

    def line(self, x0: float, y0: float, x1: float, y1: float, radius: float, mode: str) -> None:
        """Dabs every half radius from (x0, y0) to (x1, y1): a stroke without gaps."""
        steps = max(1, int(np.ceil(np.hypot(x1 - x0, y1 - y0) / max(radius * 0.5, 0.5))))
        for t in np.linspace(0.0, 1.0, steps + 1):
            self.dab(x0 + t * (x1 - x0), y0 + t * (y1 - y0), radius, mode)

    def clear(self) -> None:
        self.paint[:] = 0

    def overlay(self, scale: int) -> np.ndarray:
        """The paint as RGBA (H·scale, W·scale, 4) uint8 for the canvas."""
        rgba = np.zeros(self.paint.shape + (4,), np.uint8)
        for value, color in COLORS.items():
            rgba[self.paint == value] = (*color, int(255 * ALPHA))
        return rgba.repeat(scale, 0).repeat(scale, 1)


class Brush:
    """The painting widget: photo and paint on an ipycanvas MultiCanvas, mode, size, clear; reports each stroke."""

    def __init__(self, image, display: int, on_stroke: Callable[[Optional[np.ndarray]], None]):
        import ipywidgets as W
        from ipycanvas import MultiCanvas

        self.cells = image.width
        self.scale = max(1, int(display) // self.cells)
        side = self.cells * self.scale
        self.strokes = Strokes(self.cells)
        self.on_stroke = on_stroke
        self.canvas = MultiCanvas(2, width=side, height=side, layout=W.Layout(width=f"{side}px", height=f"{side}px"))
        self.canvas.add_class("cf-brush-canvas")
        self.mode = W.ToggleButtons(options=MODES, value=EDIT, style={"button_width": "78px"})
        self.mode.add_class("cf-brush-mode")
        self.size = W.IntSlider(value=max(1, self.cells // 12), min=1, max=max(2, self.cells // 3), description="size",
                                style={"description_width": "34px"}, layout=W.Layout(width="200px"))
        self.size.add_class("cf-brush-size")
        self.clear_button = W.Button(description="Clear", icon="eraser", layout=W.Layout(width="80px"))
        self.clear_button.add_class("cf-brush-clear")
        self.widget = W.VBox([W.HTML("Paint where to edit"), self.canvas,
                              self.mode, W.HBox([self.size, self.clear_button])])
        self.widget.add_class("cf-brush")
        self._last = None  # the previous point of the stroke being painted (cells), None between strokes
        self.set_image(image)
        self.canvas.on_mouse_down(self._down)
        self.canvas.on_mouse_move(self._move)
        self.canvas.on_mouse_up(self._up)
        self.canvas.on_mouse_out(self._up)
        self.clear_button.on_click(lambda _: self.clear())

    def set_image(self, image) -> None:
        """Show ``image`` (the face the model sees) under the paint."""
        rgb = np.asarray(image.convert("RGB"), np.uint8).repeat(self.scale, 0).repeat(self.scale, 1)
        self.canvas[0].put_image_data(rgb, 0, 0)
        self._redraw()

    def show(self, paint: Optional[np.ndarray]) -> None:
        """Show painted cells set elsewhere (undo, a chat's "edit anywhere"), without reporting a stroke."""
        if paint is None:
            self.strokes.clear()
        else:
            self.strokes.paint[:] = paint
        self._redraw()

    def clear(self) -> None:
        """Remove all paint, and report it (the edit may act anywhere again)."""
        self.strokes.clear()
        self._redraw()
        self.on_stroke(None)

    def _redraw(self) -> None:
        layer = self.canvas[1]
        layer.clear()
        if self.strokes.paint.any():
            layer.put_image_data(self.strokes.overlay(self.scale), 0, 0)

    def _cell(self, x: float, y: float) -> tuple[float, float]:
        return x / self.scale, y / self.scale

    def _down(self, x: float, y: float) -> None:
        self._last = self._cell(x, y)
        self._paint_to(self._last)

    def _move(self, x: float, y: float) -> None:
        if self._last is not None:
            self._paint_to(self._cell(x, y))

    def _up(self, x: float, y: float) -> None:
        if self._last is None:
            return
        self._paint_to(self._cell(x, y))
        self._last = None
        self._redraw()
        self.on_stroke(allowed_mask(self.strokes.paint))

    def _paint_to(self, point: tuple[float, float]) -> None:
        """Extend the stroke to ``point`` and draw the new dab at once (the full overlay is redrawn on release)."""
        (x0, y0), (x1, y1) = self._last, point
        self.strokes.line(x0, y0, x1, y1, self.size.value, self.mode.value)
        self._last = point
        layer = self.canvas[1]
        if self.mode.value == ERASE:
            self._redraw()
            return
        color = COLORS[1 if self.mode.value == EDIT else -1]
        layer.fill_style = f"rgba({color[0]}, {color[1]}, {color[2]}, {ALPHA})"
        layer.fill_circle(x1 * self.scale, y1 * self.scale, self.size.value * self.scale)
