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
