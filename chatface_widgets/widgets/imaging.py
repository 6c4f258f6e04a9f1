"""PIL images to PNG bytes for ``ipywidgets.Image``, scaled up without blurring the small faces."""

from __future__ import annotations

import io

from PIL import Image


def upscale(image: Image.Image, size: int) -> Image.Image:
    """Nearest-neighbour enlargement by a whole factor so the long side is about ``size`` pixels."""
    factor = max(1, round(size / max(image.size)))
    if factor == 1:
        return image
    return image.resize((image.width * factor, image.height * factor), Image.NEAREST)


def png_bytes(image: Image.Image, size: int | None = None) -> bytes:
    """The image (optionally upscaled to about ``size`` pixels) encoded as PNG."""
    if size:
        image = upscale(image, size)
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()


def blank(size: int, color=(235, 235, 235)) -> Image.Image:
    """A flat placeholder image shown before the first render."""
    return Image.new("RGB", (size, size), color)


def region_overlay(photo: Image.Image, mask, color=(255, 64, 160), strength: float = 0.55) -> Image.Image:
    """The photo greyed outside a local edit's region and tinted inside it (mask: (H, W) in [0, 1], or 1.0: all)."""
    import numpy as np

    base = np.asarray(photo.convert("RGB"), dtype=np.float32)
    m = np.clip(np.broadcast_to(np.asarray(mask, dtype=np.float32), base.shape[:2]), 0.0, 1.0)[..., None]
    grey = base.mean(-1, keepdims=True) * 0.6 + 90.0
    tinted = base * (1 - strength) + np.asarray(color, np.float32) * strength
    out = grey * (1 - m) + tinted * m
    return Image.fromarray(np.clip(np.rint(out), 0, 255).astype(np.uint8), "RGB")
