"""Flat-colour head-and-shoulders renderer for the toy face world (numpy + PIL only)."""

from __future__ import annotations

import colorsys
import dataclasses
import math
from typing import Sequence

import numpy as np
from PIL import Image, ImageDraw

from chatface_widgets.toy.params import ATTRIBUTES, PARTS, FaceParams, make_caption, sample_params

SUPERSAMPLE = 4  # internal resolution factor; the image is box-filtered down by this much

_P = {name: i for i, name in enumerate(PARTS)}

# Colours (RGB floats). Skin runs light -> dark; attribute targets are what a value of 1 reaches.
_SKIN = ((241, 206, 178), (230, 186, 152), (210, 154, 114), (172, 116, 80), (126, 83, 56), (90, 60, 43))
_PALE = (253, 241, 236)
_HAIR = {
    "dark": ((26, 22, 22), (58, 44, 38)),
    "brown": ((88, 54, 32), (132, 88, 52)),
    "blond": ((200, 160, 92), (232, 202, 134)),
    "red": ((150, 56, 28), (196, 92, 46)),
}
_GRAY = (214, 214, 218)
_IRIS = ((50, 32, 22), (104, 66, 36), (118, 102, 58))
_BLUE = (38, 118, 238)
_LIPSTICK = (204, 16, 40)
_SCLERA = (250, 250, 248)
_INK = (34, 26, 26)
_FRAME = (22, 22, 28)
_LENS = (176, 206, 236)
_TEETH = (252, 252, 246)
_MOUTH_IN = (96, 28, 34)


def _mix(a, b, t: float) -> tuple[float, float, float]:
    """Linear blend of two colours, t = 0 gives a."""
    return (a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t, a[2] + (b[2] - a[2]) * t)


def _ramp(colors, t: float) -> tuple[float, float, float]:
    """Piecewise-linear colour ramp over t in [0, 1]."""
    x = min(max(t, 0.0), 1.0) * (len(colors) - 1)
    i = min(int(x), len(colors) - 2)
    return _mix(colors[i], colors[i + 1], x - i)


def _hsv(h: float, s: float, v: float) -> tuple[float, float, float]:
    """HSV in [0, 1] to an RGB colour in 0..255."""
    r, g, b = colorsys.hsv_to_rgb(h % 1.0, s, v)
    return (255 * r, 255 * g, 255 * b)


def _rgb(c) -> tuple[int, int, int]:
    """Round a float colour to PIL's integer RGB."""
    return (int(c[0] + 0.5), int(c[1] + 0.5), int(c[2] + 0.5))


def _luma(c) -> float:
    """Perceived brightness in 0..255."""
    return 0.299 * c[0] + 0.587 * c[1] + 0.114 * c[2]


def _contrasting(c, ground, gap: float = 55.0) -> tuple[float, float, float]:
    """Darken (or, on very dark ground, lighten) c until its brightness differs from ground by gap."""
    lc, lg = _luma(c), _luma(ground)
    if abs(lc - lg) >= gap:
        return tuple(c)
    target = lg - gap if lg - gap > 20 else lg + gap
    if target < lc:
        return _mix(c, (0, 0, 0), 1.0 - target / max(lc, 1e-6))
    return _mix(c, (255, 255, 255), (target - lc) / max(255.0 - lc, 1e-6))


def _smoothstep(lo: float, hi: float, x: float) -> float:
    """Hermite ramp from 0 at lo to 1 at hi."""
    t = min(max((x - lo) / (hi - lo), 0.0), 1.0)
    return t * t * (3 - 2 * t)


@dataclasses.dataclass(frozen=True)
class ToyFace:
    """A rendered toy face with its ground truth."""

    image: Image.Image  # RGB, size x size
    mask: np.ndarray  # uint8 (size, size), ids index PARTS
    params: FaceParams
    caption: str


class _Canvas:
    """RGB (+ optional part mask) canvas addressed in head-local units."""

    def __init__(self, size: int, with_mask: bool, cx: float, cy: float, k: float):
        self.n = size * SUPERSAMPLE
        self.img = Image.new("RGB", (self.n, self.n))
        self.draw = ImageDraw.Draw(self.img)
        self.mask = Image.new("L", (self.n, self.n), 0) if with_mask else None
        self.mdraw = ImageDraw.Draw(self.mask) if with_mask else None
        self.ox, self.oy, self.k = cx * self.n, cy * self.n, k * self.n

    def xy(self, pts: np.ndarray) -> list[float]:
        """Head-local (n, 2) points to a flat pixel list."""
        return (pts * self.k + (self.ox, self.oy)).ravel().tolist()

    def box(self, x0: float, y0: float, x1: float, y1: float) -> list[float]:
        """Head-local box to pixels."""
        k, ox, oy = self.k, self.ox, self.oy
        return [ox + x0 * k, oy + y0 * k, ox + x1 * k, oy + y1 * k]

    def width(self, w: float) -> int:
        """Head-local line width to whole pixels (at least 1)."""
        return max(1, int(round(w * self.k)))

    def polygon(self, pts: np.ndarray, color, part: int | None) -> None:
        """Filled polygon."""
        xy = self.xy(pts)
        self.draw.polygon(xy, fill=_rgb(color))
        if self.mdraw is not None and part is not None:
            self.mdraw.polygon(xy, fill=part)

    def ellipse(self, x: float, y: float, rx: float, ry: float, color, part: int | None, width: float = 0) -> None:
        """Filled ellipse, or its outline when width > 0."""
        b = self.box(x - rx, y - ry, x + rx, y + ry)
        if width > 0:
            w = self.width(width)
            self.draw.ellipse(b, outline=_rgb(color), width=w)
            if self.mdraw is not None and part is not None:
                self.mdraw.ellipse(b, outline=part, width=w)
        else:
            self.draw.ellipse(b, fill=_rgb(color))
            if self.mdraw is not None and part is not None:
                self.mdraw.ellipse(b, fill=part)

    def line(self, pts: np.ndarray, color, part: int | None, width: float) -> None:
        """Polyline with rounded joints."""
        xy, w = self.xy(pts), self.width(width)
        self.draw.line(xy, fill=_rgb(color), width=w, joint="curve")
        if self.mdraw is not None and part is not None:
            self.mdraw.line(xy, fill=part, width=w, joint="curve")

    def arc(self, x: float, y: float, r: float, start: float, end: float, color, width: float) -> None:
        """Circular arc (texture only, never in the mask)."""
        self.draw.arc(self.box(x - r, y - r, x + r, y + r), start, end, fill=_rgb(color), width=self.width(width))


@dataclasses.dataclass
class _Look:
    """Colours and head-local geometry derived from FaceParams."""

    p: FaceParams
    style: str
    cx: float
    cy: float
    k: float
    hw: float  # head half width
    hh: float  # head half height
    skin: tuple
    hair: tuple
    eye_y: float
    ex: float  # eye centre offset from the midline
    ew: float  # eye half width
    eh: float  # eye half height


def _look(p: FaceParams) -> _Look:
    """Derive colours and geometry once per face."""
    i, a = p.identity, p.attributes
    hue, shade = p.hair_hue
    hair = _mix(*_HAIR[hue], shade)
    hair = _mix(hair, _GRAY, a["gray hair"] ** 0.8)
    skin = _mix(_ramp(_SKIN, i["skin_tone"]), _PALE, a["pale skin"])
    hw = 0.185 + 0.045 * i["face_width"]
    ew = 0.047 + 0.013 * i["eye_size"]
    return _Look(
        p=p,
        style=p.hair_style,
        cx=0.5 + 0.035 * i["head_x"],
        cy=0.455 + 0.02 * i["head_y"],
        k=1.0 + 0.15 * i["head_scale"],
        hw=hw,
        hh=0.25 + 0.04 * i["face_length"],
        skin=skin,
        hair=hair,
        eye_y=0.02,
        ex=hw * (0.42 + 0.1 * i["eye_spacing"]),
        ew=ew,
        eh=0.68 * ew,
    )


def _head_outline(lk: _Look, t: np.ndarray, sx: float = 1.0, sy: float = 1.0) -> np.ndarray:
    """Egg-shaped head outline at angles t (0 = crown, pi = chin, pi/2 = right side)."""
    c, s = np.cos(t), np.sin(t)
    taper = 1.0 - 0.17 * np.clip(-c, 0.0, 1.0) ** 1.5
    return np.stack([lk.hw * sx * s * taper, -lk.hh * sy * c], axis=1)


def _resample(pts: np.ndarray, step: float) -> np.ndarray:
    """Points spaced about `step` apart along a polyline."""
    d = np.hypot(*np.diff(pts, axis=0).T)
    cum = np.concatenate([[0.0], np.cumsum(d)])
    n = max(2, int(cum[-1] / step) + 1)
    s = np.linspace(0.0, cum[-1], n)
    return np.stack([np.interp(s, cum, pts[:, 0]), np.interp(s, cum, pts[:, 1])], axis=1)


def _curls(cv: _Canvas, lk: _Look, edge: np.ndarray, centre: tuple[float, float], rows: int = 1) -> None:
    """Scalloped outline and curl texture along a hair edge; grows with 'curly hair'."""
    c = lk.p.attributes["curly hair"]
    r = 0.034 * c
    if r * cv.k < 1.0:
        return
    pts = _resample(edge, 1.5 * r)
    for x, y in pts.tolist():
        cv.ellipse(x, y, r, r, lk.hair, _P["hair"])
    if c < 0.3:
        return
    ink = _mix(lk.hair, (0, 0, 0), 0.32 * min(1.0, (c - 0.3) / 0.4) + 0.05)
    inward = np.asarray(centre) - pts
    inward /= np.maximum(np.hypot(*inward.T), 1e-6)[:, None]
    for row in range(rows):
        q = pts + inward * r * (0.9 + 2.0 * row)
        for j, (x, y) in enumerate(q.tolist()):
            start = (j * 137 + row * 61) % 360
            cv.arc(x, y, 0.8 * r, start, start + 230, ink, 0.24 * r)


def _background(cv: _Canvas, lk: _Look) -> None:
    """Plain, gradient or diagonal-stripe backdrop."""
    h = lk.p.identity["background_hue"]
    pattern = lk.p.background_pattern
    base = _hsv(h, 0.26, 0.91)
    n = cv.n
    if pattern == "gradient":
        top, bottom = np.array(_hsv(h, 0.18, 0.96)), np.array(_hsv(h + 0.05, 0.42, 0.72))
        ramp = top + (bottom - top) * np.linspace(0.0, 1.0, n)[:, None]
        arr = np.empty((n, n, 3), np.uint8)
        arr[:] = (ramp + 0.5).astype(np.uint8)[:, None, :]
        cv.img.paste(Image.fromarray(arr))
        return
    cv.draw.rectangle([0, 0, n, n], fill=_rgb(base))
    if pattern == "stripes":
        alt = _rgb(_hsv(h, 0.32, 0.85))
        w = n / 10
        for j in range(-6, 12, 2):
            x0 = j * w
            cv.draw.polygon([x0, 0, x0 + w, 0, x0 + w + 0.6 * n, n, x0 + 0.6 * n, n], fill=alt)


def _clothes(cv: _Canvas, lk: _Look) -> None:
    """Shoulders with a round neckline."""
    i = lk.p.identity
    col = _hsv(i["clothing_hue"], 0.5, 0.42 + 0.38 * i["clothing_shade"])
    top = lk.hh + 0.065
    bottom = (1.02 - lk.cy) / lk.k
    xs = np.linspace(-0.7, 0.7, 15)
    ys = top + 0.2 * np.abs(xs / 0.5) ** 2.2
    pts = np.concatenate([np.stack([xs, ys], 1), [[0.7, bottom], [-0.7, bottom]]])
    cv.polygon(pts, col, _P["clothes"])
    # a darker collar band keeps the neckline readable on any skin tone
    cv.ellipse(0.0, top + 0.005, 0.115, 0.07, _mix(col, (0, 0, 0), 0.25), _P["clothes"])


def _hair_back(cv: _Canvas, lk: _Look) -> None:
    """Hair that sits behind the head: bob and long curtains, bun."""
    i = lk.p.identity
    vol = 0.02 + 0.045 * i["hair_length"]
    if lk.style == "bun":
        r = 0.05 + 0.02 * i["hair_length"]
        y = -lk.hh - 0.8 * vol - 0.35 * r
        cv.ellipse(0.0, y, r, r, lk.hair, _P["hair"])
        _curls(cv, lk, np.array([[-r, y], [-0.7 * r, y - 0.7 * r], [0, y - r], [0.7 * r, y - 0.7 * r], [r, y]]), (0.0, y))
        return
    if lk.style not in ("bob", "long"):
        return
    long = lk.style == "long"
    t = np.linspace(-math.pi / 2, math.pi / 2, 15)
    arc = _head_outline(lk, t, (lk.hw + vol) / lk.hw, (lk.hh + 1.4 * vol) / lk.hh)
    yb = lk.hh * ((1.45 + 1.0 * i["hair_length"]) if long else (0.45 + 0.35 * i["hair_length"]))
    xb = lk.hw + vol + (0.07 if long else 0.025)
    side_r = np.array([[lk.hw + vol + 0.005, 0.35 * yb], [xb, yb]])
    u = np.linspace(1.0, -1.0, 7)
    bottom = np.stack([xb * u, yb - 0.03 * (1 - u * u)], 1)
    side_l = side_r[::-1] * (-1, 1)
    pts = np.concatenate([arc, side_r, bottom, side_l])
    cv.polygon(pts, lk.hair, _P["hair"])
    edge = np.concatenate([side_l[::-1], arc, side_r, bottom])
    _curls(cv, lk, edge, (0.0, 0.3 * yb), rows=2)


def _neck_and_ears(cv: _Canvas, lk: _Look) -> None:
    """Neck column (shaded) and ears for styles that show them."""
    shade = _mix(lk.skin, (60, 30, 20), 0.14)
    nw = 0.062 + 0.03 * lk.p.identity["face_width"]
    top = lk.hh + 0.065
    pts = np.array([[-nw, 0.4 * lk.hh], [nw, 0.4 * lk.hh], [nw, top], [-nw, top]])
    cv.polygon(pts, shade, _P["skin"])
    cv.ellipse(0.0, top, nw, 0.045, shade, _P["skin"])
    if lk.style in ("short", "buzz", "bun"):
        inner = _mix(lk.skin, (120, 50, 40), 0.18)
        for sgn in (-1, 1):
            x = sgn * lk.hw * 0.97
            cv.ellipse(x, lk.eye_y + 0.035, 0.03, 0.055, lk.skin, _P["skin"])
            cv.ellipse(x + sgn * 0.006, lk.eye_y + 0.035, 0.014, 0.032, inner, _P["skin"])


def _head(cv: _Canvas, lk: _Look) -> None:
    """Face shape with soft cheek blush."""
    t = np.linspace(0.0, 2 * math.pi, 48, endpoint=False)
    cv.polygon(_head_outline(lk, t), lk.skin, _P["skin"])
    blush = _mix(lk.skin, (236, 110, 110), 0.14)
    for sgn in (-1, 1):
        cv.ellipse(sgn * (lk.ex + 0.012), lk.eye_y + 0.085, 0.04, 0.022, blush, None)


def _beard(cv: _Canvas, lk: _Look) -> None:
    """Full beard over jaw and chin; opacity grows with 'beard'."""
    v = lk.p.attributes["beard"]
    alpha = _smoothstep(0.15, 0.75, v)
    if alpha <= 0.0:
        return
    col = _mix(lk.skin, _contrasting(_mix(lk.hair, (0, 0, 0), 0.28), lk.skin), 0.95 * alpha)
    t = np.linspace(math.pi / 2 + 0.3, 3 * math.pi / 2 - 0.3, 17)
    outer = _head_outline(lk, t, 1.04, 1.04 + 0.08 * v)
    ny = 0.38 * lk.hh
    mw = 0.06
    inner = np.array(
        [
            [-lk.hw * 0.8, outer[-1, 1]],
            [-mw * 1.4, ny + 0.025],
            [-0.02, ny + 0.018],
            [0.02, ny + 0.018],
            [mw * 1.4, ny + 0.025],
            [lk.hw * 0.8, outer[0, 1]],
        ]
    )
    cv.polygon(np.concatenate([outer, inner]), col, _P["beard"] if v >= 0.4 else None)


def _nose(cv: _Canvas, lk: _Look) -> None:
    """Short bridge stroke and a rounded tip."""
    ny = 0.38 * lk.hh
    nw = 0.02 + 0.014 * lk.p.identity["nose_size"]
    ink = _mix(lk.skin, (90, 40, 30), 0.35)
    cv.line(np.array([[0.006, ny - 0.07], [0.014, ny - 0.01]]), ink, None, 0.008)
    cv.draw.arc(cv.box(-nw, ny - 0.03, nw, ny + 0.012), 20, 160, fill=_rgb(ink), width=cv.width(0.01))


def _mouth(cv: _Canvas, lk: _Look) -> None:
    """Lips from a flat line (smile 0) to an open smile with teeth (smile 1)."""
    a = lk.p.attributes
    s = a["smile"]
    my = 0.6 * lk.hh
    mw = 0.056 + 0.018 * lk.p.identity["mouth_width"] + 0.022 * s
    lift = 0.04 * s
    opening = 0.06 * _smoothstep(0.4, 1.0, s)
    lip = _mix(_mix(lk.skin, (176, 72, 72), 0.5), _LIPSTICK, a["red lipstick"])
    u = np.linspace(-1.0, 1.0, 11)
    x = mw * u
    bump = 1.0 - u * u
    centre = my - lift * u * u + 0.3 * lift
    top = centre - 0.15 * opening * bump
    bot = centre + opening * bump
    lt = 0.021 * bump**0.6
    outer = np.concatenate([np.stack([x, top - lt], 1), np.stack([x, bot + 1.15 * lt], 1)[::-1]])
    cv.polygon(outer, lip, _P["mouth"])
    seam = _mix(lip, (60, 10, 15), 0.55)
    if opening * cv.k > 1.5:
        hole = np.concatenate([np.stack([x, top], 1), np.stack([x, bot], 1)[::-1]])
        cv.polygon(hole, _MOUTH_IN, _P["mouth"])
        tx, ty, tb = x[1:-1], top[1:-1], 0.5 * opening * bump[1:-1]
        teeth = np.concatenate([np.stack([tx, ty], 1), np.stack([tx, ty + tb], 1)[::-1]])
        cv.polygon(teeth, _TEETH, _P["mouth"])
    else:
        cv.line(np.stack([x, centre], 1), seam, _P["mouth"], 0.007)


def _eyes(cv: _Canvas, lk: _Look) -> None:
    """Whites, iris (brown to blue), pupil, highlight and upper lid."""
    i, a = lk.p.identity, lk.p.attributes
    iris = _mix(_ramp(_IRIS, i["iris_shade"]), _BLUE, a["blue eyes"])
    y, ew, eh = lk.eye_y, lk.ew, lk.eh
    ir = 0.9 * eh
    for sgn in (-1, 1):
        x = sgn * lk.ex
        cv.ellipse(x, y, ew, eh, _SCLERA, _P["eyes"])
        cv.ellipse(x, y + 0.05 * eh, ir, ir, iris, _P["eyes"])
        cv.ellipse(x, y + 0.05 * eh, 0.45 * ir, 0.45 * ir, (16, 12, 12), _P["eyes"])
        cv.ellipse(x - 0.35 * ir, y - 0.3 * ir, 0.22 * ir, 0.22 * ir, (255, 255, 255), _P["eyes"])
        cv.draw.arc(cv.box(x - ew, y - eh, x + ew, y + eh), 190, 350, fill=_rgb(_INK), width=cv.width(0.011))


def _brows(cv: _Canvas, lk: _Look) -> None:
    """Eyebrows in a darkened hair colour."""
    i = lk.p.identity
    col = _mix(lk.hair, _INK, 0.35)
    y = lk.eye_y - lk.eh - 0.03
    tilt = (i["brow_tilt"] - 0.5) * 0.03
    half = lk.ew * 1.1
    for sgn in (-1, 1):
        x = sgn * lk.ex
        pts = np.array([[x - sgn * half, y + 0.004], [x, y - 0.006 + 0.5 * tilt], [x + sgn * half, y + 0.006 + tilt]])
        cv.line(pts, col, _P["hair"], 0.012 + 0.01 * i["brow_thickness"])


def _hair_front(cv: _Canvas, lk: _Look) -> None:
    """Hair cap over the crown down to the hairline; style sets the fringe."""
    i = lk.p.identity
    style = lk.style
    vol = 0.006 if style == "buzz" else 0.02 + 0.045 * i["hair_length"]
    ts = {"short": 1.72, "buzz": 1.66, "bun": 1.66, "bob": 2.05, "long": 2.05}[style]
    t = np.linspace(-ts, ts, 21)
    outer = _head_outline(lk, t, (lk.hw + vol) / lk.hw, (lk.hh + 1.4 * vol) / lk.hh)
    u = np.linspace(0.9, -0.9, 13)
    if style == "short":
        g = -0.56 + 0.24 * u * u + 0.06 * u
    elif style == "bob":
        g = -0.36 + 0.12 * u * u - 0.1 * i["hair_length"]
    elif style == "long":
        g = -0.64 + 0.34 * np.abs(u) ** 1.2
    else:
        g = -0.6 + 0.24 * u * u
    fringe = np.stack([lk.hw * u, lk.hh * g], 1)
    side_in = 0.9 if style in ("bob", "long") else 0.93
    right = [[lk.hw * side_in, outer[-1, 1]]]
    left = [[-lk.hw * side_in, outer[0, 1]]]
    pts = np.concatenate([outer, right, fringe, left])
    col = _mix(lk.skin, lk.hair, 0.55) if style == "buzz" else lk.hair
    cv.polygon(pts, col, _P["hair"])
    if style != "buzz":
        _curls(cv, lk, outer, (0.0, 0.0))
        _curls(cv, lk, fringe, (0.0, -lk.hh))


def _glasses(cv: _Canvas, lk: _Look, lens_only: bool) -> None:
    """Rims grow in thickness and opacity with 'eyeglasses'; lenses add a faint tint."""
    v = lk.p.attributes["eyeglasses"]
    if v < 0.15:
        return
    a = (v - 0.15) / 0.85
    lw = min(1.5 * lk.ew, lk.ex - 0.012)
    lh = max(1.8 * lk.eh, 0.046)
    y = lk.eye_y + 0.004
    if lens_only:
        tint = _mix(lk.skin, _LENS, 0.28 * a)
        for sgn in (-1, 1):
            cv.ellipse(sgn * lk.ex, y, lw, lh, tint, None)
        return
    col = _mix(lk.skin, _FRAME, 0.35 + 0.65 * a)
    part = _P["glasses"] if v >= 0.4 else None
    w = 0.007 + 0.014 * a
    for sgn in (-1, 1):
        x = sgn * lk.ex
        cv.ellipse(x, y, lw, lh, col, part, width=w)
        arm = np.array([[sgn * (lk.ex + lw - 0.3 * w), y - 0.35 * lh], [sgn * lk.hw * 1.01, y - 0.25 * lh]])
        cv.line(arm, col, part, 0.8 * w)
    bridge = np.array([[-(lk.ex - lw) - 0.5 * w, y - 0.2 * lh], [0.0, y - 0.3 * lh], [lk.ex - lw + 0.5 * w, y - 0.2 * lh]])
    cv.line(bridge, col, part, 0.8 * w)


def _paint(p: FaceParams, size: int, with_mask: bool) -> _Canvas:
    """Draw every layer back to front on a supersampled canvas."""
    lk = _look(p)
    cv = _Canvas(size, with_mask, lk.cx, lk.cy, lk.k)
    _background(cv, lk)
    _clothes(cv, lk)
    _hair_back(cv, lk)
    _neck_and_ears(cv, lk)
    _head(cv, lk)
    _beard(cv, lk)
    _nose(cv, lk)
    _mouth(cv, lk)
    _glasses(cv, lk, lens_only=True)
    _eyes(cv, lk)
    _brows(cv, lk)
    _hair_front(cv, lk)
    _glasses(cv, lk, lens_only=False)
    return cv


def render_face(p: FaceParams, size: int = 64) -> ToyFace:
    """Render one face with its part mask and caption."""
    if size < 8:
        raise ValueError(f"size must be at least 8, got {size}")
    cv = _paint(p, size, with_mask=True)
    image = cv.img.reduce(SUPERSAMPLE)
    return ToyFace(image=image, mask=_part_mask(cv, size), params=p, caption=make_caption(p))


def _part_mask(cv: _Canvas, size: int) -> np.ndarray:
    """The canvas's part ids downsampled (nearest) to size x size."""
    return np.asarray(cv.mask.resize((size, size), Image.NEAREST), dtype=np.uint8).copy()


def part_coverage(p: FaceParams, size: int = 64) -> np.ndarray:
    """How much of each pixel each part covers, (size, size, len(PARTS)) float32 summing to 1 per pixel.

    The image is box-filtered from a SUPERSAMPLE× canvas while :func:`render_face`'s mask keeps one
    canvas sample per pixel: a hair-edge pixel labelled "skin" may still be half hair, and a gray-hair
    edit rightly changes it. This counts every canvas sample (what the pixel's colour is made of).
    """
    cv = _paint(p, size, with_mask=True)
    ids = np.asarray(cv.mask, dtype=np.uint8).reshape(size, SUPERSAMPLE, size, SUPERSAMPLE)
    return np.stack([(ids == i).mean((1, 3)) for i in range(len(PARTS))], -1).astype(np.float32)


def render_batch(seeds: Sequence[int], size: int) -> tuple[np.ndarray, np.ndarray]:
    """Images uint8 (N, size, size, 3) and attribute values float32 (N, len(ATTRIBUTES)) for seeds."""
    images, labels, _ = _render_many(seeds, size, with_mask=False)
    return images, labels


def render_masked_batch(seeds: Sequence[int], size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """As :func:`render_batch`, plus part masks uint8 (N, size, size) whose ids index PARTS."""
    return _render_many(seeds, size, with_mask=True)


def _render_many(seeds: Sequence[int], size: int, with_mask: bool):
    """Render faces for seeds; masks is None unless with_mask."""
    seeds = list(seeds)
    images = np.empty((len(seeds), size, size, 3), np.uint8)
    labels = np.empty((len(seeds), len(ATTRIBUTES)), np.float32)
    masks = np.empty((len(seeds), size, size), np.uint8) if with_mask else None
    for j, seed in enumerate(seeds):
        p = sample_params(seed)
        cv = _paint(p, size, with_mask=with_mask)
        images[j] = np.asarray(cv.img.reduce(SUPERSAMPLE))
        if with_mask:
            masks[j] = _part_mask(cv, size)
        labels[j] = [p.attributes[name] for name in ATTRIBUTES]
    return images, labels, masks
