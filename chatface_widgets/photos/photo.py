"""Reading a user's photo into a clean RGB image, and converting between PIL images and tensors.

Every failure is a :class:`PhotoError` with a one-line reason; a photo is only ever read.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Union

import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError

# Refuse anything larger, from the file's header, before decoding: a 48 MP phone photo (8064×6048) fits;
# decoding one costs about 0.8 GB, so a small file declaring more pixels is refused, not decoded.
MAX_PIXELS = 50_000_000
MIN_SIDE = 16  # smaller than this holds no face

PhotoLike = Union[str, os.PathLike, Image.Image, np.ndarray]


class PhotoError(ValueError):
    """A photo that cannot be used, with the reason in plain words."""


def _to_rgb(img: Image.Image) -> Image.Image:
    """Convert any PIL mode (RGBA, LA, P, CMYK, I;16, I, F, 1, L) to 8-bit RGB; alpha over white."""
    if img.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        arr = np.asarray(img, dtype=np.float64)
        if not np.isfinite(arr).all():
            raise PhotoError("the image contains NaN or infinite pixel values")
        hi = 65535.0 if img.mode.startswith("I;16") or arr.max() > 255 else 255.0
        arr = np.clip(arr / hi * 255.0, 0, 255).round().astype(np.uint8)
        img = Image.fromarray(arr, "L")
    if img.mode == "P":
        img = img.convert("RGBA")
    if img.mode in ("RGBA", "LA", "PA"):
        rgba = img.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return img.convert("RGB")


def _from_array(arr: np.ndarray) -> Image.Image:
    """An (H, W), (H, W, 3) or (H, W, 4) array: uint8 as is, floats in [0, 1] scaled."""
    arr = np.asarray(arr)
    if arr.ndim not in (2, 3) or (arr.ndim == 3 and arr.shape[2] not in (1, 3, 4)):
        raise PhotoError(f"expected an image array of shape (H, W), (H, W, 3) or (H, W, 4), got {arr.shape}")
    if arr.dtype != np.uint8:
        arr = arr.astype(np.float64)
        if not np.isfinite(arr).all():
            raise PhotoError("the image array contains NaN or infinite values")
        if arr.max(initial=0) <= 1.0:
            arr = arr * 255.0
        arr = np.clip(arr, 0, 255).round().astype(np.uint8)
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[:, :, 0]
    return Image.fromarray(arr)


def load_photo(photo: PhotoLike) -> Image.Image:
    """A photo (path, PIL image or array) as an upright 8-bit RGB PIL image; raises PhotoError."""
    if isinstance(photo, Image.Image):
        img = photo
    elif isinstance(photo, np.ndarray):
        img = _from_array(photo)
    elif isinstance(photo, (str, os.PathLike)):
        path = Path(photo).expanduser()
        if not path.exists():
            raise PhotoError(f"no such file: {path}")
        if path.is_dir():
            raise PhotoError(f"{path} is a folder, not an image file")
        if path.stat().st_size == 0:
            raise PhotoError(f"{path} is empty (0 bytes)")
        try:
            with warnings.catch_warnings():
                # PIL's own decompression-bomb check (a warning past Image.MAX_IMAGE_PIXELS) refuses, too.
                warnings.simplefilter("error", Image.DecompressionBombWarning)
                with Image.open(path) as opened:  # reads the header only: the size before any decoding
                    _check_size(opened.size, str(path))
                    opened.load()
                    img = opened.copy()
                    img.info.update(opened.info)
                    exif = opened.getexif()
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            raise PhotoError(f"{path} is too large to be a photo (over {MAX_PIXELS:,} pixels, or frames past "
                             f"Pillow's limit of {Image.MAX_IMAGE_PIXELS:,}); downscale it first") from None
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
            if isinstance(exc, PhotoError):
                raise
            raise PhotoError(f"{path} is not a readable image ({type(exc).__name__}: {exc})") from None
        if exif:
            img = ImageOps.exif_transpose(img.copy()) if exif.get(0x0112, 1) != 1 else img
    else:
        raise PhotoError(f"expected a file path, a PIL image or a numpy array, got {type(photo).__name__}")
    _check_size(img.size, "the image")
    if isinstance(photo, Image.Image):
        img = ImageOps.exif_transpose(img) if img.getexif().get(0x0112, 1) != 1 else img
    return _to_rgb(img)


def _check_size(size, what: str) -> None:
    w, h = size
    if w == 0 or h == 0:
        raise PhotoError(f"{what} is empty ({w}×{h} pixels)")
    if min(w, h) < MIN_SIDE:
        raise PhotoError(f"{what} is too small ({w}×{h}); a face photo needs at least {MIN_SIDE} pixels a side")
    if w * h > MAX_PIXELS:
        raise PhotoError(f"{what} is too large ({w}×{h}, over {MAX_PIXELS:,} pixels); downscale it first")


def center_square(img: Image.Image, size: int) -> Image.Image:
    """Centre-crop to a square and resize to ``size`` (the reference's resize + centre crop)."""
    w, h = img.size
    side = min(w, h)
    left, top = (w - side) // 2, (h - side) // 2
    square = img.crop((left, top, left + side, top + side))
    return square if side == size else square.resize((size, size), Image.LANCZOS)


def to_tensor(img: Image.Image) -> torch.Tensor:
    """RGB PIL → float32 (1, 3, H, W) in [-1, 1] ((x/255 − 0.5)/0.5 as DiffAE)."""
    arr = np.asarray(img.convert("RGB"), dtype=np.float32)
    return torch.from_numpy(arr).permute(2, 0, 1)[None].div(127.5).sub(1.0)


def to_pil(x: torch.Tensor) -> list[Image.Image]:
    """(B, 3, H, W) in [-1, 1] → list of RGB PIL images (rounded, clipped)."""
    if not torch.isfinite(x).all():
        raise FloatingPointError("the model produced NaN or infinite values")
    arr = ((x.detach().float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()
    return [Image.fromarray(a) for a in arr]

def is_model_world(image, size: int) -> bool:
    """True for an image the non-aligning model can edit as is: its own size, or a --scale copy of one."""
    w, h = image.size
    if w != h or w % size:
        return False
    if w == size:
        return True
    small = image.resize((size, size), Image.NEAREST)
    return small.resize((w, h), Image.NEAREST).tobytes() == image.tobytes()
