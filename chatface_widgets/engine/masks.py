"""Where a user lets an edit act, as a tensor: kept parts, parts an edit is limited to, a painted mask (issue 30).

    as_mask("mask.png")                 # white = may edit, black = keep; alpha or gray, soft edges allowed
    allowed_region(face, settings)      # (1, 1, H, W) in [0, 1], or None when the user said nothing

The user's word wins over the estimated region: a render with a constraint is local, and its mask is
the estimated region times this one, so outside what the user allows the output is the photo and
inside the edit is what it was without the constraint.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import numpy as np
import torch
from PIL import Image

from chatface_widgets.diffusion import local as local_edits
from chatface_widgets.foundation.where import PaintedMask, UnknownPartError, known_parts_text

# A kept part is every pixel the part maps give it at least KEEP_THRESHOLD of probability: its edge pixels,
# which the parser is unsure of, stay too. (Session 7 grew the likelier-than-not part by 1 px instead; that
# also kept the sides of a glasses frame next to kept hair: eyeglasses · keep hair hit 0.77, eval.where.)
KEEP_GROW = 0.0  # then grown by this fraction of the side
KEEP_THRESHOLD = 0.1


class NoPartsError(ValueError):
    """Part names asked of a face whose model has no part maps (no face parser, no landmarks)."""


def as_mask(value) -> PaintedMask:
    """A PaintedMask from a file path, a PIL image (alpha if it has one, else gray), an array or a tensor, in [0, 1]."""
    if isinstance(value, PaintedMask):
        return value
    if isinstance(value, (str, Path)):
        with Image.open(value) as img:
            img.load()
            value = img.copy()
    if isinstance(value, Image.Image):
        channel = value.getchannel("A") if "A" in value.getbands() else value.convert("L")
        pixels = np.asarray(channel, dtype=np.float32) / 255.0
    else:
        if isinstance(value, torch.Tensor):
            value = value.detach().cpu().numpy()
        pixels = np.asarray(value, dtype=np.float32)
        pixels = pixels.reshape(pixels.shape[-2:]) if pixels.ndim > 2 and pixels.size == np.prod(pixels.shape[-2:]) else pixels
        if pixels.ndim != 2:
            raise ValueError(f"a mask must be 2-D (height, width), got shape {pixels.shape}")
        if pixels.dtype != np.float32 or pixels.max(initial=0.0) > 1.0:
            pixels = pixels / 255.0 if pixels.max(initial=0.0) > 1.0 else pixels
    if pixels.size == 0 or not np.isfinite(pixels).all():
        raise ValueError("a mask must be a non-empty image of finite values in [0, 1]")
    pixels = np.ascontiguousarray(np.clip(pixels, 0.0, 1.0), dtype=np.float32)
    pixels.setflags(write=False)
    return PaintedMask(pixels)


def mask_tensor(mask: PaintedMask, face) -> torch.Tensor:
    """The mask in the face's frame (1, 1, H, W): a mask of the whole photo is warped like the face, else resized."""
    size = face.x0.shape[-1]
    pixels = np.asarray(mask.pixels, dtype=np.float32)
    image = Image.fromarray(pixels, "F")
    original = getattr(face, "original", None)
    aligned = getattr(face, "aligned", None)
    if aligned is not None and original is not None and image.size == original.size:
        quad = tuple((np.asarray(aligned.quad, dtype=np.float64) + 0.5).flatten())
        image = image.transform((size, size), Image.Transform.QUAD, quad, Image.Resampling.BILINEAR)
    elif image.size != (size, size):
        image = image.resize((size, size), Image.Resampling.BILINEAR)
    out = torch.from_numpy(np.clip(np.asarray(image, dtype=np.float32), 0.0, 1.0).copy())
    return out[None, None].to(face.x0.device)


def part_map(face, names: tuple, grow: float, threshold: float = 0.5) -> torch.Tensor:
    """Where the named parts are on this face (probability ≥ ``threshold``), {0, 1} (1, 1, H, W), grown by
    ``grow``·side; errors name the fix."""
    found = face.parts()
    if found is None:
        raise NoPartsError(f"this model cannot tell where the {', '.join(names)} is on this face (no part maps: "
                           "the built-in model's parser or dlib landmarks of an aligned photo); paint a mask instead")
    known, maps = found
    missing = [n for n in names if n not in known]
    if missing:
        raise UnknownPartError(f"unknown part {missing[0]!r}; the parts are {known_parts_text(known)}")
    return local_edits.part_prior(maps, [known.index(n) for n in names], grow, threshold)


def allowed_region(face, settings) -> Optional[torch.Tensor]:
    """Where the user lets the edit act on ``face`` under ``settings``, (1, 1, H, W) in [0, 1]; None: anywhere."""
    if not settings.constrained:
        return None
    allowed = torch.ones_like(face.x0[:, :1])
    if settings.only:  # not shrunk: eroding a 48 px face's eyes or thin hair by 1 px removes the edit (eval.where)
        allowed = allowed * part_map(face, settings.only, 0.0)
    if settings.keep:
        allowed = allowed * (1.0 - part_map(face, settings.keep, KEEP_GROW, KEEP_THRESHOLD))
    if settings.mask is not None:
        allowed = allowed * mask_tensor(settings.mask, face)
    return allowed

