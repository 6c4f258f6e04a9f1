"""Part maps of a real photo's face crop from its 68 dlib landmarks (region priors for local edits).

The toy world has a learned parser (``models.face_parser``); for photos these maps are drawn from
the iBUG-68 landmarks instead, in the same part order (``PARTS_NAMES``), so that an attribute edit
can be kept to its parts in the same way:

    face = align_face(photo, size=256)
    maps = aligned_face_parts(face)                   # (8, 256, 256) float32, sums to 1 per pixel
    eyes = maps[PARTS_NAMES.index("eyes")]

Landmark indices (iBUG-68, as dlib reports them): jaw 0-16, brows 17-26, nose 27-35 (33: bottom of
the nose), eyes 36-41 and 42-47, outer lips 48-59, inner lips 60-67.

What each part is (rough by design: priors, not a segmentation):

* eyes: each eye polygon, grown (wider along the eye, taller across it) to cover lids and lashes;
* mouth: the outer lip polygon, grown slightly;
* skin: the face hull (jaw + brows lifted by ``forehead`` × the brow-to-eye distance, which covers
  the forehead) minus eyes and mouth, plus a neck column under the chin;
* beard: the face hull below the bottom of the nose (landmark 33), minus the mouth: where a beard
  would grow, whether or not there is one;
* hair: a band around the top and sides of the face hull (the hull grown outward, more on top),
  above the level of the jaw's lower sides;
* clothes: below the neck, outside the face;
* glasses: always empty. A photo without glasses has nothing to show where the frames would be, and
  the landmarks do not see frames that are there; an eyeglasses edit should use the eyes map.
* background: everything else.

Maps are area fractions of a hard labelling drawn at ``supersample`` × the size, so they are soft
only along boundaries and the full set sums to exactly 1 per pixel. numpy + PIL only.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
from PIL import Image, ImageDraw

PARTS_NAMES = ("background", "skin", "hair", "eyes", "mouth", "glasses", "clothes", "beard")
_ID = {name: i for i, name in enumerate(PARTS_NAMES)}

JAW, BROWS, NOSE_BOTTOM = slice(0, 17), slice(17, 27), 33
EYES = (slice(36, 42), slice(42, 48))
OUTER_LIPS = slice(48, 60)


def _turn(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> float:
    """z of the cross product (b - a) x (c - a): > 0 for a left turn in x-right, y-up axes."""
    return float((b[0] - a[0]) * (c[1] - a[1]) - (b[1] - a[1]) * (c[0] - a[0]))


def _hull(points: np.ndarray) -> np.ndarray:
    """Convex hull (monotone chain): its vertices in order around it, the first not repeated at the end."""
    pts = np.unique(np.asarray(points, dtype=np.float64), axis=0)
    if len(pts) < 3:
        return pts

    def half(seq):
        out = []
        for p in seq:
            while len(out) >= 2 and _turn(out[-2], out[-1], p) <= 0:
                out.pop()
            out.append(p)
        return out

    lower, upper = half(pts), half(pts[::-1])
    return np.array(lower[:-1] + upper[:-1])


def _grow(poly: np.ndarray, along: float, across: float, axis: np.ndarray) -> np.ndarray:
    """Scale a polygon about its centroid: by ``along`` in the direction ``axis``, ``across`` perpendicular."""
    c = poly.mean(axis=0)
    a = axis / max(np.hypot(*axis), 1e-9)
    b = np.array([-a[1], a[0]])
    d = poly - c
    return c + np.outer(d @ a, a) * along + np.outer(d @ b, b) * across


def _check_landmarks(landmarks) -> np.ndarray:
    lm = np.asarray(landmarks, dtype=np.float64)
    if lm.shape != (68, 2):
        raise ValueError(f"landmarks must be (68, 2) iBUG-68 points, got shape {lm.shape}")
    if not np.isfinite(lm).all():
        raise ValueError("landmarks contain NaN or infinite coordinates")
    return lm


def landmark_labels(landmarks: np.ndarray, size: int, forehead: float = 1.5, supersample: int = 1) -> np.ndarray:
    """Hard part ids uint8 (size·supersample, size·supersample), indexing PARTS_NAMES, from crop-pixel landmarks."""
    lm = _check_landmarks(landmarks)
    if size < 1 or supersample < 1:
        raise ValueError(f"size and supersample must be positive, got {size} and {supersample}")
    n = size * supersample
    eye_centres = np.array([lm[e].mean(axis=0) for e in EYES])
    eye_mid = eye_centres.mean(axis=0)
    mouth_mid = lm[OUTER_LIPS].mean(axis=0)
    down = mouth_mid - eye_mid
    scale = max(np.hypot(*down), 1e-6)  # eye-to-mouth distance: the face's unit length
    down = down / scale
    side = np.array([down[1], -down[0]])  # along the eye line

    # Face hull: jaw and brows, the brows lifted by `forehead` times the brow-to-eye distance.
    brow_eye = max(float(np.mean([(eye_centres[k] - lm[b].mean(axis=0)) @ down
                                  for k, b in enumerate((slice(17, 22), slice(22, 27)))])), 0.05 * scale)
    lifted = lm[BROWS] - down * forehead * brow_eye
    hull = _hull(np.concatenate([lm[JAW], lm[BROWS], lifted]))
    centre = hull.mean(axis=0)
    rel = hull - centre
    rise = np.clip(-(rel @ down), 0.0, None)  # how far above the centre each hull point is
    hair_poly = centre + rel * 1.3 - np.outer(rise, down) * 0.4  # outward everywhere, more on top

    # Pixel centres in crop coordinates, for the half-plane tests.
    coords = (np.arange(n, dtype=np.float64) + 0.5) / supersample - 0.5
    xs, ys = coords[None, :], coords[:, None]
    depth = xs * down[0] + ys * down[1]  # (y, x): how far down the face each pixel is
    across = xs * side[0] + ys * side[1]  # (y, x): how far along the eye line
    chin = lm[8] @ down
    hair_floor = 0.5 * (lm[3] + lm[13]) @ down
    nose_line = lm[NOSE_BOTTOM] @ down
    neck_end = chin + 0.45 * scale
    jaw_width = abs((lm[16] - lm[0]) @ side)
    neck_half = 0.3 * jaw_width
    neck_centre = lm[8] @ side

    def fill(poly: np.ndarray) -> np.ndarray:
        img = Image.new("L", (n, n), 0)
        ImageDraw.Draw(img).polygon(((poly + 0.5) * supersample - 0.5).ravel().tolist(), fill=1)
        return np.asarray(img, dtype=bool)

    labels = np.zeros((n, n), np.uint8)  # background
    labels[depth > chin] = _ID["clothes"]
    labels[fill(hair_poly) & (depth < hair_floor)] = _ID["hair"]
    labels[(depth > chin - 0.2 * scale) & (depth < neck_end) & (np.abs(across - neck_centre) < neck_half)] = _ID["skin"]
    face = fill(hull)
    labels[face] = _ID["skin"]
    labels[face & (depth > nose_line)] = _ID["beard"]
    labels[fill(_grow(lm[OUTER_LIPS], 1.1, 1.2, lm[54] - lm[48]))] = _ID["mouth"]
    for e, (a, b) in zip(EYES, ((36, 39), (42, 45))):
        labels[fill(_grow(lm[e], 1.35, 2.0, lm[b] - lm[a]))] = _ID["eyes"]
    return labels


def landmark_parts(landmarks: np.ndarray, size: int, parts: Sequence[str] = PARTS_NAMES, forehead: float = 1.5,
                   supersample: int = 4) -> np.ndarray:
    """Part maps (len(parts), size, size) float32 in [0, 1] from 68 landmarks in crop pixel coordinates.

    Each map is the fraction of the pixel that the part covers (boundaries drawn at ``supersample`` ×
    the size); with the full ``PARTS_NAMES`` they sum to 1 per pixel. ``parts`` picks and orders the
    channels; "glasses" is always 0 (see the module notes).
    """
    unknown = [p for p in parts if p not in _ID]
    if unknown:
        raise ValueError(f"unknown part(s) {unknown}; known: {', '.join(PARTS_NAMES)}")
    ss = max(1, min(int(supersample), 4096 // max(int(size), 1)))  # bound the drawing to ~4096 px
    labels = landmark_labels(landmarks, size, forehead, ss)
    out = np.empty((len(parts), size, size), np.float32)
    for k, name in enumerate(parts):
        hit = labels == _ID[name]
        out[k] = hit.reshape(size, ss, size, ss).mean(axis=(1, 3)) if ss > 1 else hit
    return out


def aligned_face_parts(face, size: int | None = None, parts: Sequence[str] = PARTS_NAMES,
                       forehead: float = 1.5) -> np.ndarray:
    """Part maps for an :class:`~chatface_widgets.photos.align.AlignedFace` crop (its own size unless ``size``)."""
    size = int(size or face.size)
    return landmark_parts(face.to_crop(face.landmarks, size), size, parts, forehead)
