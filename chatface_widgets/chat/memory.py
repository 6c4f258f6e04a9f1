"""Memory: what a follow-up ("more", "less", "too much", "remove it") changes, and undo / redo / reset."""

from __future__ import annotations

from typing import Mapping, Sequence

from chatface_widgets.chat import words_en as E
from chatface_widgets.chat.normalise import tokenize
from chatface_widgets.chat.parsed import Edit, Parsed, Word
from chatface_widgets.chat.plan import Plan
from chatface_widgets.chat.strengths import BIG_STEP, STEP, combine
from chatface_widgets.foundation.contract import DEFAULT_STRENGTH, quantize


class Memory:
    """The last edits of one conversation: (attribute, direction) pairs a bare follow-up acts on."""

    def __init__(self):
        self.last: list[tuple[str, float]] = []  # (attribute, direction) of the last edits

    def remember(self, edits: Mapping[str, float], current: Mapping[str, float] | None,
                 attributes: Sequence[str]):
        """Record edits made elsewhere (the LLM path, the sliders) as the target of follow-ups."""
        current = current or {}
        last = []
        for attr, new in edits.items():
            if attr in attributes:
                old = float(current.get(attr, 0.0))
                last.append((attr, direction(old, new)))
        if last:
            self.last = last

    def record(self, edits: Sequence[Edit]):
        """Keep the edits a plan made as the target of the next follow-up."""
        if edits:
            self.last = [(e.attr, direction(e.old, e.new)) for e in edits]

    def forget(self):
        """Drop the follow-up memory (after a reset)."""
        self.last = []

    def follow_up(self, p: Parsed, cues: list[Word], current: Mapping[str, float],
                  attributes: Sequence[str], recommended: Mapping[str, float]) -> Edit | str:
        """A bare "more" / "less" / "too much" / "remove it": change the last edited attribute.

        The edit, or a question back (a str) when no attribute is in play.
        """
        target = self.last[-1] if self.last else None
        if target is None or target[0] not in attributes:
            live = [(a, v) for a, v in current.items() if a in attributes and v != 0.0]
            if len(live) != 1:
                state = ", ".join(f"{a} {v:+.2f}" for a, v in live) or "nothing yet"
                return f"Which attribute do you mean? Currently: {state}. "
            target = (live[0][0], 1.0 if live[0][1] > 0 else -1.0)
        attr, last_dir = target
        old = float(current.get(attr, 0.0))
        d = (1.0 if old > 0 else -1.0) if old != 0.0 else (last_dir or 1.0)
        op = cues[-1].value
        size = combine([w.value for w in p.words if w.kind == "adv"])
        step = BIG_STEP if size is not None and size >= E.STRONG else STEP
        if op == E.MORE:
            new = old + d * step
        elif op == E.LESS:
            new = max(0.0, old - step) if old > 0 else min(0.0, old + step) if old < 0 else -d * STEP
        elif op == E.TOO_MUCH:
            new = old / 2 if old != 0.0 else -d * STEP
        elif op == E.ZERO:
            new = 0.0
        else:  # removal
            new = 0.0 if old * d > 0 else -d * recommended.get(attr, DEFAULT_STRENGTH)
        return Edit(attr, old, quantize(new), op)

    def intent_plan(self, intent: str) -> Plan:
        """Undo, redo or reset."""
        if intent == "reset":
            self.forget()
            return Plan(action="reset", reply="Back to the original photo: all edits cleared.")
        if intent == "undo":
            return Plan(action="undo", reply="Undid the last change.")
        return Plan(action="redo", reply="Redid the change.")


def direction(old: float, new: float) -> float:
    """+1 or −1: the way an edit moved (the sign of the new value when it did not move)."""
    if new != old:
        return 1.0 if new > old else -1.0
    return 1.0 if new >= 0 else -1.0


_INTENTS: dict[tuple[str, ...], str] = {}
for _action, _phrases in (("redo", E.REDO_PHRASES), ("undo", E.UNDO_PHRASES),
                          ("reset", E.RESET_PHRASES)):
    for _p in _phrases:
        _INTENTS[tuple(tokenize(_p))] = _action


def intent(toks: list[str]) -> str | None:
    """undo / redo / reset when the message is one of those phrases plus filler words."""
    best = None
    for i in range(len(toks)):
        for j in range(min(len(toks), i + 8), i, -1):
            action = _INTENTS.get(tuple(toks[i:j]))
            if action and (best is None or j - i > best[1] - best[0]):
                best = (i, j, action)
                break
    if best is None:
        return None
    i, j, action = best
    rest = [t for k, t in enumerate(toks) if not i <= k < j and t not in E.WIDE_FILLERS]
    if action == "undo" and toks[i:j] in (["no"], ["nope"], ["nah"], ["no", "no"]) and len(toks) > j - i:
        return None  # "no" only means undo on its own
    return None if rest else action
