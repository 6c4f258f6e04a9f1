"""Field-by-field checks of a model's JSON card: types and bounds, before any memory is allocated."""

from __future__ import annotations

import math
from typing import Mapping

PREDICTIONS = ("eps", "v")
DTYPES = ("float32", "float16", "bfloat16")
# Whole-number settings and their sane ranges (official FFHQ256: 128 channels, 512-d z, 256 px).
WHOLE = {"in_channels": (1, 16), "out_channels": (1, 16), "model_channels": (1, 1024), "num_res_blocks": (0, 16),
         "embed_channels": (1, 8192), "z_channels": (1, 8192), "enc_num_res_blocks": (0, 16),
         "num_heads": (1, 64), "image_size": (8, 2048), "default_steps": (1, 1000)}
# Lists of whole numbers: (length range, value range).
LISTS = {"channel_mult": ((1, 10), (1, 16)), "enc_channel_mult": ((1, 10), (1, 16)),
         "attn_levels": ((0, 10), (0, 9)), "enc_attn_levels": ((0, 10), (0, 9))}
TEXT = ("kind", "converted_from", "official", "source", "note")


def _whole(value, low: int, high: int) -> bool:
    """A JSON whole number (not a boolean) within [low, high]."""
    return isinstance(value, int) and not isinstance(value, bool) and low <= value <= high


def field_problem(name: str, value) -> str | None:
    """What is wrong with one card field, in words, or None when it is fine (unknown names are not judged)."""
    if name in WHOLE:
        low, high = WHOLE[name]
        return None if _whole(value, low, high) else f"must be a whole number from {low} to {high}"
    if name in LISTS:
        (short, long), (low, high) = LISTS[name]
        ok = isinstance(value, (list, tuple)) and short <= len(value) <= long and all(_whole(v, low, high) for v in value)
        return None if ok else f"must be a list of {short} to {long} whole numbers from {low} to {high}"
    if name == "dropout":
        ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) and 0 <= value < 1
        return None if ok else "must be a number from 0 to below 1"
    if name == "prediction":
        return None if value in PREDICTIONS else f"must be one of {', '.join(map(repr, PREDICTIONS))}"
    if name == "dtype":
        return None if value in DTYPES else f"must be one of {', '.join(map(repr, DTYPES))}"
    if name == "chroma_sigma":  # px; diffusion.chroma.LARGEST_SIGMA
        ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) and 0 <= value <= 3
        return None if ok else "must be a number from 0 to 3 (pixels)"
    if name == "align":
        return None if isinstance(value, bool) else "must be true or false"
    if name == "training":
        return None if isinstance(value, dict) else "must be a JSON object"
    if name in TEXT:
        return None if isinstance(value, str) else "must be a string"
    return None


def _shown(value) -> str:
    """A short rendering of a bad value for the message."""
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def card_problems(card: Mapping) -> list[str]:
    """Every bad field of a card (top level, and inside its "config" object), each as 'field X must ..., got Y'."""
    found = []
    scopes = [("", card)]
    if isinstance(card.get("config"), dict):
        scopes.append(("config.", card["config"]))
    for prefix, fields in scopes:
        for name, value in fields.items():
            problem = field_problem(name, value)
            if problem is not None:
                found.append(f'field "{prefix}{name}" {problem}, got {_shown(value)}')
    return found
