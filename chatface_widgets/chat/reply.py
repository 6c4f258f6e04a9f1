"""Reply: the sentence a plan shows (what changed, what is not available, what was read instead)."""

from __future__ import annotations

import math
from typing import Sequence

from chatface_widgets.chat import vocabulary as V
from chatface_widgets.chat import words_en as E
from chatface_widgets.chat.parsed import Edit
from chatface_widgets.chat.plan import Plan
from chatface_widgets.chat.steps import steps_reply
from chatface_widgets.foundation.contract import STRENGTH_MAX, STRENGTH_MIN, quantize

QUOTE_CHARS = 60  # the most of the user's own text a reply quotes back (a 100 KB message is not echoed)


def clip(text: str, limit: int = QUOTE_CHARS) -> str:
    """The user's text as a reply may quote it: at most ``limit`` characters, "…" marking a cut."""
    text = str(text)
    return text if len(text) <= limit else text[:limit - 1].rstrip() + "…"


def capabilities(attributes: Sequence[str]) -> str:
    """A one-line list of what this interpreter can change."""
    if not attributes:
        return "No attributes are loaded, so I cannot edit anything yet."
    return ("I can change: " + ", ".join(attributes) +
            ". Say e.g. 'add a little smile', 'remove the glasses', 'a bit more', 'undo', "
            "'reset' or 'sharper' for more decoding steps.")


def finish(edits: list[Edit], missing: list[str], new_steps: int | None, old_steps: int | None,
           attributes: Sequence[str], fast: int, step_note: str = "",
           instead: Sequence[str] = (), understood: Sequence[str] = ()) -> Plan:
    """Build the Plan and its reply: what was done, what was not available, what was used instead."""
    parts = [f"(Read {', '.join(understood)}.)"] if understood and edits else []
    parts += [describe(e) + (f" ({e.note})" if e.note else "") for e in edits]
    parts.extend(instead)
    if new_steps is not None:
        parts.append(steps_reply(new_steps, old_steps, fast))
    if step_note:
        parts.append(step_note)
    if missing:
        names = ", ".join(missing)
        verb = "isn't" if len(missing) == 1 else "aren't"
        parts.append(f"{names[:1].upper() + names[1:]} {verb} available with this model. "
                     + (capabilities(attributes) if not edits else
                        "Available: " + ", ".join(attributes) + "."))
    if not edits and new_steps is None:
        return Plan.none(" ".join(parts) or capabilities(attributes))
    return Plan(edits={e.attr: e.new for e in edits}, steps=new_steps, reply=" ".join(parts),
                action="edit", understood=True)


def range_note(value: float, said: str) -> str:
    """A word for the reply when a strength the user gave as a number was clamped to the range."""
    if STRENGTH_MIN <= value <= STRENGTH_MAX or not math.isfinite(value):
        return ""
    return (f"you asked for {said} = {value:g}; strengths run from {STRENGTH_MIN:g} to "
            f"{STRENGTH_MAX:g}, so I used {quantize(value):g}")


def fmt(x: float) -> str:
    """A strength for a reply: 0.8, 0.25, -0.5, 1.0."""
    text = f"{x:.2f}"
    return text[:-1] if text.endswith("0") else text


def describe(e: Edit) -> str:
    """One short sentence about one edit."""
    v = fmt(e.new)
    if e.op == E.ZERO or (e.new == 0.0 and e.old != 0.0):
        plain = e.op != E.ZERO and e.attr not in V.POSITIVE_LABELS
        return f"Removed the {e.attr}." if plain else f"Removed the {e.attr} edit."
    if e.op == E.REMOVE:
        return f"Removed the {e.attr} ({v})."
    if e.new == e.old and e.new != 0.0:
        edge = (" (the maximum)" if e.new >= STRENGTH_MAX else " (the minimum)" if e.new <= STRENGTH_MIN
                else "")
        return f"{e.attr[:1].upper() + e.attr[1:]} is already at {v}{edge}."
    if e.op in (E.MORE, E.LESS, E.TOO_MUCH) or (e.old != 0.0 and e.new != e.old):
        word = "More" if e.new > e.old else "Less"
        return f"{word} {e.attr}: {fmt(e.old)} → {v}."
    if e.new == e.old:
        edge = (" (the maximum)" if e.new >= STRENGTH_MAX else " (the minimum)" if e.new <= STRENGTH_MIN
                else "")
        return f"{e.attr[:1].upper() + e.attr[1:]} is already at {v}{edge}."
    if e.new < 0:
        opposite = V.NEGATIVE_LABELS.get(e.attr)
        return f"Gave {opposite} ({e.attr} {v})." if opposite else f"Less {e.attr} ({v})."
    if e.attr in V.POSITIVE_LABELS:
        return f"Gave {V.POSITIVE_LABELS[e.attr]} ({e.attr} {v})."
    size = ("a subtle " if e.new <= 0.3 else "a light " if e.new <= 0.45 else
            "" if e.new <= 0.6 else "a strong " if e.new <= 0.9 else "maximum ")
    if e.attr in V.ARTICLE_A and size in ("", "a strong "):
        size = "a " if size == "" else "a big "
    elif e.attr not in V.ARTICLE_A and size.startswith("a "):
        size = size[2:]
    return f"Added {size}{e.attr} ({v})."
