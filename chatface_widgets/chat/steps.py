"""Steps: the decoding step count a message asks for (a number next to "steps", or a quality word)."""

from __future__ import annotations

import math

from chatface_widgets.chat.parsed import Parsed

STEP_NAMES = frozenset({"step", "steps", "timesteps", "timestep", "iterations", "iteration", "ddim"})


def is_steps_number(tokens: list[str], k: int) -> bool:
    """Whether the number at k counts decoding steps ("30 steps", "steps 30", "t 30")."""
    after = tokens[k + 1:k + 3]
    before = tokens[max(0, k - 2):k]
    if after[:1] and after[0] in STEP_NAMES or after[:2] in (["time", "steps"], ["denoising", "steps"]):
        return True
    return bool(before) and (before[-1] in STEP_NAMES | {"t"}
                             or before[-2:] in (["steps", "to"], ["steps", "of"], ["step", "count"]))


def steps_asked(p: Parsed, steps: int | None, policy, levels: tuple[int, int, int]
                ) -> tuple[int | None, str]:
    """(steps asked for, a note for the reply): an explicit count, or a quality / speed word."""
    toks = p.tokens
    for w in p.words:
        if w.kind == "num" and is_steps_number(toks, w.start):
            return explicit_steps(w.phrase, policy, levels)
    asked = [w.value for w in p.words if w.kind == "steps"]
    if not asked:
        return None, ""
    if "min" in asked and "max" not in asked:
        return levels[0], ""
    if "max" in asked:
        return levels[-1], ""
    return level_up(steps, levels), ""


def explicit_steps(phrase: str, policy, levels: tuple[int, int, int]) -> tuple[int | None, str]:
    """(count, note): a step count the user named, checked by the contract's StepPolicy.

    An invalid count snaps to the nearest valid one within the policy's bound, and the reply
    says so; a count below 2 changes nothing and the reply gives the policy's error.
    """
    try:
        asked = float(phrase.rstrip("%").replace("−", "-"))
    except ValueError:
        return None, ""
    if not math.isfinite(asked) or asked < 2:
        try:
            policy.check(int(asked) if math.isfinite(asked) else -1)
        except ValueError as err:
            return None, f"Steps unchanged: {err}."
        return None, ""
    try:
        return (policy.check(int(asked)) if asked.is_integer() else policy.check(asked)), ""
    except ValueError:
        snapped = policy.snap(asked)
        fast, better, best = levels
        note = (f"{phrase} steps is not a valid count here; using {snapped} "
                f"(the usual choices are {fast}, {better} and {best}).")
        return snapped, note


def level_up(steps: int | None, levels: tuple[int, int, int]) -> int:
    """The next quality level above the current step count (the model's fast → better → best)."""
    cur = steps if steps is not None else levels[0]
    return next((lv for lv in levels if lv > cur), levels[-1])


def steps_reply(new: int, old: int | None, fast: int = 8) -> str:
    """A sentence about the decoding steps (``fast``: the model's default count)."""
    if new <= fast:
        return f"Using {new} steps (fast)."
    return f"Using {new} decoding steps for a clearer result."
