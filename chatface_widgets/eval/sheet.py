"""Contact sheet of an evaluation: rows = faces, columns = original, reconstruction and each edit."""

from __future__ import annotations

from pathlib import Path
from typing import Mapping, Sequence

from PIL import Image, ImageDraw, ImageFont

LABEL_HEIGHT = 16  # pixels of the column-label strip
GAP = 2  # pixels between cells
BACKGROUND = (255, 255, 255)
INK = (20, 20, 20)


def _fit(draw: ImageDraw.ImageDraw, text: str, font, width: int) -> str:
    """Shorten text with an ellipsis until it fits width pixels."""
    if draw.textlength(text, font=font) <= width:
        return text
    while text and draw.textlength(text + "…", font=font) > width:
        text = text[:-1]
    return text + "…"


def make_sheet(rows: Sequence[Mapping[str, Image.Image]], scale: int = 3, columns: Sequence[str] | None = None) -> Image.Image:
    """Grid image: one row per face dict (column name → PIL; a row may lack some), cells upscaled ``scale``× nearest, labelled."""
    if not rows:
        raise ValueError("make_sheet needs at least one row")
    columns = list(columns or dict.fromkeys(k for row in rows for k in row))  # every row's columns, first seen first
    w, h = next(iter(rows[0].values())).size
    cw, ch = w * scale, h * scale
    sheet = Image.new("RGB", (len(columns) * (cw + GAP) + GAP, LABEL_HEIGHT + len(rows) * (ch + GAP) + GAP), BACKGROUND)
    draw = ImageDraw.Draw(sheet)
    font = ImageFont.load_default()
    for c, name in enumerate(columns):
        x = GAP + c * (cw + GAP)
        draw.text((x + 2, 2), _fit(draw, name, font, cw - 4), fill=INK, font=font)
        for r, row in enumerate(rows):
            if name in row:
                cell = row[name].convert("RGB").resize((cw, ch), Image.NEAREST)
                sheet.paste(cell, (x, LABEL_HEIGHT + GAP + r * (ch + GAP)))
    return sheet


def save_sheet(rows: Sequence[Mapping[str, Image.Image]], path, scale: int = 3,
               columns: Sequence[str] | None = None) -> Path:
    """Write :func:`make_sheet` to a PNG file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    make_sheet(rows, scale, columns).save(path)
    return path
