"""FFHQ-style face alignment of real photos and paste-back of edited faces (extra ``[align]``: dlib).

Geometry follows the FFHQ dataset recipe (NVlabs ``recreate_aligned_images``): from dlib's 68
landmarks, the eye-to-eye and eye-to-mouth vectors give an oriented square ``quad`` around the face;
the photo is pre-shrunk when the quad is much larger than the output, padded by reflection (blurred
and faded to the median colour, as the recipe does) where the quad leaves the photo, and sampled
through the quad at 4x the output size, then downsampled with Lanczos.

Coordinates: landmarks, boxes and ``quad`` are pixel indices of the (EXIF-upright) photo, as dlib
reports them; a pixel index i covers the continuous interval [i, i+1), so PIL's transforms, which
work in continuous coordinates, get ``quad + 0.5``.
"""

from __future__ import annotations

import functools
import threading
from dataclasses import dataclass, field

import numpy as np
from PIL import Image, ImageFilter

from chatface_widgets.photos.photo import load_photo  # RGB, EXIF-upright copy; paths are only read

SUPERSAMPLE = 4  # the recipe samples the quad at 4x the output size (4096 for 1024), then downsamples
DETECT_MAX_SIDE = 1600  # detection runs on a copy no larger than this; landmarks use full resolution
_DLIB_LOCK = threading.Lock()  # one detection at a time: widget observers may run on several threads


class NoFaceError(ValueError):
    """No face was found in the photo."""


def _dlib():
    """Import dlib and the landmark model package lazily, with an install hint."""
    try:
        import dlib
        import face_recognition_models
    except ImportError as exc:
        raise ImportError(
            "Face alignment needs dlib and the dlib landmark model: pip install 'chatface-widgets[align]' "
            f"(missing: {exc.name})") from exc
    return dlib, face_recognition_models


@functools.lru_cache(maxsize=1)
def _models():
    """(HOG frontal face detector, 68-point shape predictor), loaded once on first use."""
    dlib, frm = _dlib()
    return dlib.get_frontal_face_detector(), dlib.shape_predictor(frm.pose_predictor_model_location())


# ------------------------------------------------------------------------------------------- detection


@dataclass(frozen=True, eq=False)
class FaceBox:
    """One detected face: box (pixel indices, right/bottom exclusive), detector score and 68 landmarks."""

    left: int
    top: int
    right: int
    bottom: int
    score: float
    landmarks: np.ndarray = field(repr=False)  # (68, 2) float (x, y), iBUG-300W order

    @property
    def area(self) -> int:
        """Box area in pixels."""
        return max(0, self.right - self.left) * max(0, self.bottom - self.top)


def _detect(img: Image.Image, upsample: int | None) -> list[FaceBox]:
    """Run dlib's HOG detector (on a bounded-size copy) and the 68-point predictor (at full size)."""
    detector, predictor = _models()
    dlib, _ = _dlib()
    scale = min(1.0, DETECT_MAX_SIDE / max(img.size))
    small = img if scale == 1.0 else img.resize(
        (max(1, round(img.width * scale)), max(1, round(img.height * scale))), Image.Resampling.BILINEAR)
    small_arr = np.asarray(small)
    passes = [upsample] if upsample is not None else [0, 1]  # second pass at 2x only if nothing found
    full = np.asarray(img)
    faces = []
    with _DLIB_LOCK:
        rects, scores = [], []
        for up in passes:
            rects, scores, _ = detector.run(small_arr, up, 0.0)
            if len(rects):
                break
        for rect, score in zip(rects, scores):
            x0, y0, x1, y1 = (int(round(v / scale))
                              for v in (rect.left(), rect.top(), rect.right() + 1, rect.bottom() + 1))
            shape = predictor(full, dlib.rectangle(x0, y0, x1 - 1, y1 - 1))
            pts = np.array([(p.x, p.y) for p in shape.parts()], dtype=np.float64)
            faces.append(FaceBox(x0, y0, x1, y1, float(score), pts))
    faces.sort(key=lambda f: (f.area, f.score, -f.left), reverse=True)  # largest first; ties: leftmost first
    return faces


def find_faces(photo, upsample: int | None = None) -> list[FaceBox]:
    """Faces in a photo (PIL image or path), largest first (equal ones left to right); [] when there is none."""
    return _detect(load_photo(photo), upsample)


# ----------------------------------------------------------------------------------------- alignment


def ffhq_quad(landmarks: np.ndarray) -> np.ndarray:
    """The FFHQ recipe's oriented square (top-left, bottom-left, bottom-right, top-right) from 68 landmarks."""
    lm = np.asarray(landmarks, dtype=np.float64)
    eye_left, eye_right = lm[36:42].mean(axis=0), lm[42:48].mean(axis=0)  # image-left, image-right eye
    eye_avg = (eye_left + eye_right) / 2
    eye_to_eye = eye_right - eye_left
    mouth_avg = (lm[48] + lm[54]) / 2  # outer mouth corners
    eye_to_mouth = mouth_avg - eye_avg
    # x axis: eye line, tilted by the eye-to-mouth vector turned 90 degrees (perp((a, b)) = (b, -a)).
    x = eye_to_eye + np.array([eye_to_mouth[1], -eye_to_mouth[0]])
    x = x / np.hypot(*x) * max(np.hypot(*eye_to_eye) * 2.0, np.hypot(*eye_to_mouth) * 1.8)
    y = np.array([-x[1], x[0]])  # x turned 90 degrees: points from the eyes towards the mouth
    c = eye_avg + eye_to_mouth * 0.1
    return np.stack([c - x - y, c - x + y, c + x + y, c + x - y])


def _reflect_pad(arr: np.ndarray, pad: tuple[int, int, int, int], qsize: float) -> np.ndarray:
    """Reflect-pad (left, top, right, bottom), blur the padding and fade it to the median colour (FFHQ)."""
    pl, pt, pr, pb = pad
    out = np.pad(arr.astype(np.float32), ((pt, pb), (pl, pr), (0, 0)), mode="reflect")
    h, w = out.shape[:2]
    yy, xx = np.ogrid[:h, :w]
    xx, yy = xx.astype(np.float32), yy.astype(np.float32)
    # 0 at the original border, rising to 1 at the outer edge of the padding; negative inside.
    mask = np.maximum(1.0 - np.minimum(xx / pl, (w - 1 - xx) / pr), 1.0 - np.minimum(yy / pt, (h - 1 - yy) / pb))
    mask = mask[..., None]
    blurred = Image.fromarray(np.clip(np.rint(out), 0, 255).astype(np.uint8)).filter(
        ImageFilter.GaussianBlur(qsize * 0.02))
    out += (np.asarray(blurred, dtype=np.float32) - out) * np.clip(mask * 3.0 + 1.0, 0.0, 1.0)
    out += (np.median(out, axis=(0, 1)) - out) * np.clip(mask, 0.0, 1.0)
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def warp_quad(img: Image.Image, quad: np.ndarray, size: int, padding: str = "reflect") -> Image.Image:
    """Sample the square ``quad`` (photo pixel indices) of an RGB image into a ``size`` x ``size`` crop."""
    q = np.asarray(quad, dtype=np.float64) + 0.5  # continuous coordinates
    qsize = float(np.hypot(*(q[3] - q[0])))
    # Shrink: keep the quad at most ~4x the output before sampling (cheaper, antialiased).
    shrink = int(np.floor(qsize / size * 0.5))
    if shrink > 1:
        new = (max(1, round(img.width / shrink)), max(1, round(img.height / shrink)))
        q = q * (new[0] / img.width, new[1] / img.height)
        qsize *= new[0] / img.width
        img = img.resize(new, Image.Resampling.LANCZOS)
    # Crop to the quad's bounding box plus a border.
    border = max(int(np.rint(qsize * 0.1)), 3)
    lo = np.floor(q.min(axis=0)).astype(int) - border
    hi = np.ceil(q.max(axis=0)).astype(int) + border
    box = (max(lo[0], 0), max(lo[1], 0), min(hi[0], img.width), min(hi[1], img.height))
    img = img.crop(box)
    q = q - box[:2]
    # Pad where the quad (plus border) leaves the photo.
    pad = (max(box[0] - lo[0], 0), max(box[1] - lo[1], 0), max(hi[0] - box[2], 0), max(hi[1] - box[3], 0))
    if max(pad) > border - 4:
        if padding == "reflect":
            pad = tuple(max(p, int(np.rint(qsize * 0.3))) for p in pad)
            img = Image.fromarray(_reflect_pad(np.asarray(img), pad, qsize))
        elif padding == "edge":
            arr = np.pad(np.asarray(img), ((pad[1], pad[3]), (pad[0], pad[2]), (0, 0)), mode="edge")
            img = Image.fromarray(arr)
        elif padding != "none":
            raise ValueError(f"padding must be 'reflect', 'edge' or 'none', not {padding!r}")
        if padding != "none":
            q = q + pad[:2]
    big = size * SUPERSAMPLE
    out = img.transform((big, big), Image.Transform.QUAD, tuple(q.flatten()), Image.Resampling.BILINEAR)
    return out.resize((size, size), Image.Resampling.LANCZOS)


def ellipse_mask(size: int, radius: float = 0.48, feather: float = 0.18) -> np.ndarray:
    """(size, size) float32 alpha: 1 inside an ellipse, smooth ramp of relative width ``feather``, 0 outside."""
    c = (np.arange(size, dtype=np.float64) + 0.5) / size - 0.5  # pixel centres in [-0.5, 0.5]
    r = np.hypot(c[None, :] / radius, c[:, None] / (radius * 1.04))  # a little taller than wide
    t = np.clip((1.0 - r) / feather, 0.0, 1.0)
    return (t * t * (3.0 - 2.0 * t)).astype(np.float32)  # smoothstep: exactly 0 for r >= 1


@dataclass(frozen=True, eq=False)
class AlignedFace:
    """An FFHQ-aligned face crop and what is needed to put an edited version back into the photo."""

    image: Image.Image  # size x size RGB crop
    quad: np.ndarray = field(repr=False)  # (4, 2) TL, BL, BR, TR corners in photo pixel indices
    landmarks: np.ndarray = field(repr=False)  # (68, 2) in photo pixel indices
    face: FaceBox = field(repr=False)
    photo: Image.Image = field(repr=False)  # the RGB, EXIF-upright photo the crop came from
    size: int = 256
    index: int = 0  # which face of the photo this is, in find_faces order (0: the largest)
    count: int = 1  # how many faces were found in the photo

    def _frame(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
        """(origin, x edge, y edge, side^2) of the quad in continuous photo coordinates."""
        q = np.asarray(self.quad, dtype=np.float64) + 0.5
        a, b = q[3] - q[0], q[1] - q[0]
        return q[0], a, b, float(a @ a)

    def to_crop(self, points: np.ndarray, size: int | None = None) -> np.ndarray:
        """Photo pixel coordinates (N, 2) -> crop pixel coordinates of a ``size`` crop."""
        size = size or self.size
        o, a, b, q2 = self._frame()
        d = np.asarray(points, dtype=np.float64) + 0.5 - o
        return np.stack([d @ a, d @ b], axis=-1) * (size / q2) - 0.5

    def to_photo(self, points: np.ndarray, size: int | None = None) -> np.ndarray:
        """Crop pixel coordinates (N, 2) of a ``size`` crop -> photo pixel coordinates."""
        size = size or self.size
        o, a, b, _ = self._frame()
        uv = (np.asarray(points, dtype=np.float64) + 0.5) / size
        return o + uv[..., :1] * a + uv[..., 1:] * b - 0.5

    def paste(self, edited: Image.Image, radius: float = 0.48, feather: float = 0.18,
              mask: np.ndarray | None = None) -> Image.Image:
        """The whole photo with ``edited`` (square, any size) warped back and blended through a feathered ellipse.

        ``mask`` (square float array in [0, 1], e.g. a local edit's region at the crop's size) also
        weights the blend: where it is 0 the photo keeps its own pixels, bit for bit.
        """
        edited = load_photo(edited)
        o, a, b, q2 = self._frame()
        side = float(np.sqrt(q2))
        n = edited.width
        if edited.height != n:
            raise ValueError(f"edited face must be square, got {edited.size}")
        if side * 1.5 < n:  # the face is small in the photo: downsample once with Lanczos, not bilinearly
            n = max(8, int(np.ceil(side)))
            edited = edited.resize((n, n), Image.Resampling.LANCZOS)
        weight = ellipse_mask(n, radius, feather)
        if mask is not None:
            mask = Image.fromarray(np.asarray(mask, dtype=np.float32), "F")
            weight = weight * np.clip(np.asarray(mask.resize((n, n), Image.Resampling.BILINEAR)), 0.0, 1.0)
        alpha = Image.fromarray(weight.astype(np.float32), "F")
        photo = self.photo
        # Only the quad's bounding box can change; everything else is copied untouched.
        corners = np.asarray(self.quad) + 0.5
        x0, y0 = np.maximum(np.floor(corners.min(axis=0)).astype(int) - 1, 0)
        x1, y1 = np.minimum(np.ceil(corners.max(axis=0)).astype(int) + 1, photo.size)
        if x1 <= x0 or y1 <= y0:
            return photo.copy()
        # Output pixel (x, y) of the region (continuous, origin at (x0, y0)) -> crop coordinates.
        s = n / q2
        coeffs = []
        for edge in (a, b):
            coeffs += [s * edge[0], s * edge[1], s * ((x0 - o[0]) * edge[0] + (y0 - o[1]) * edge[1])]
        region = (x1 - x0, y1 - y0)
        face = edited.transform(region, Image.Transform.AFFINE, tuple(coeffs), Image.Resampling.BILINEAR)
        w = alpha.transform(region, Image.Transform.AFFINE, tuple(coeffs), Image.Resampling.BILINEAR)
        w = np.clip(np.asarray(w, dtype=np.float32), 0.0, 1.0)[..., None]
        base = np.asarray(photo.crop((x0, y0, x1, y1)), dtype=np.float32)
        blend = base + w * (np.asarray(face, dtype=np.float32) - base)
        blend = np.where(w > 0, np.clip(np.rint(blend), 0, 255), base).astype(np.uint8)
        out = photo.copy()
        out.paste(Image.fromarray(blend, "RGB"), (int(x0), int(y0)))
        return out


def align_face(photo, index: int | None = None, size: int = 256, padding: str = "reflect",
               upsample: int | None = None) -> AlignedFace:
    """FFHQ-aligned ``size`` crop of the largest face (or face ``index`` of ``find_faces`` order)."""
    img = load_photo(photo)
    faces = _detect(img, upsample)
    if not faces:
        raise NoFaceError(
            f"No face found in the photo ({img.width}x{img.height}). Use a photo with a clearly visible, "
            "roughly frontal face at least ~80 pixels across, or crop closer to the face.")
    i = 0 if index is None else index
    if not -len(faces) <= i < len(faces):
        raise IndexError(f"face index {index} out of range: {len(faces)} face(s) found")
    face = faces[i]
    quad = ffhq_quad(face.landmarks)
    crop = warp_quad(img, quad, size, padding)
    return AlignedFace(image=crop, quad=quad, landmarks=face.landmarks, face=face, photo=img, size=size,
                       index=i % len(faces), count=len(faces))
