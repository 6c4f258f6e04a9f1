"""Score the RuleInterpreter on the labelled chat requests in tests/data/chat_requests.jsonl.

Run ``python tests/test_chat_labelled.py`` for the report (accuracy and every miss).
A case is exact when the set of (attribute, direction) pairs matches, where the direction is the
sign of new − current, and the steps / action match when the case names them. Unsupported cases
must come back with no edits, no steps and action "none".
"""

from __future__ import annotations

import json
from pathlib import Path

from chatface_widgets.models.latent_classifier import CHAT_NAMES as CELEBA_CHAT_NAMES
from chatface_widgets.toy import ATTRIBUTES as TOY_ATTRIBUTES
from chatface_widgets.chat import RuleInterpreter

DATA = Path(__file__).parent / "data" / "chat_requests.jsonl"
CELEBA = list(CELEBA_CHAT_NAMES)  # the 40 latent-classifier attributes in chat vocabulary
TOY = list(TOY_ATTRIBUTES)  # the built-in model's attributes
ATTRIBUTE_SETS = {"celeba": CELEBA, "toy": TOY}
SUPPORTED_MIN = 0.90  # exact-match accuracy on supported requests
UNSUPPORTED_MIN = 0.90  # share of unsupported requests left without edits


def load_cases(path: Path = DATA) -> list[dict]:
    """The labelled requests, one JSON object per line."""
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _interpreter(names) -> RuleInterpreter:
    """A RuleInterpreter for a named or listed attribute set, with no follow-up memory."""
    key = names if isinstance(names, str) else tuple(names)
    if key not in _CACHE:
        _CACHE[key] = RuleInterpreter(ATTRIBUTE_SETS[names] if isinstance(names, str) else names)
    interp = _CACHE[key]
    interp.forget()
    return interp


_CACHE: dict = {}


def run_case(case: dict) -> tuple[bool, dict]:
    """Parse one case (after its history) and say whether it matches the label."""
    interp = _interpreter(case.get("attributes", "celeba"))
    state = dict(case.get("current", {}))
    for earlier in case.get("history", []):
        state = interp.parse(earlier, state).apply(state)
    plan = interp.parse(case["text"], state)
    got = {a: "+" if v > state.get(a, 0.0) else "-"
           for a, v in plan.edits.items() if v != state.get(a, 0.0)}
    if not case.get("supported", True):
        ok = not plan.edits and plan.steps is None and plan.action == "none"
    else:
        ok = got == case["expected"]
        ok = ok and ("steps" not in case or plan.steps == case["steps"])
        ok = ok and ("action" not in case or plan.action == case["action"])
    return ok, {"got": got, "steps": plan.steps, "action": plan.action, "reply": plan.reply}


def score(cases: list[dict]) -> dict:
    """Accuracy on supported and unsupported cases, and the misses."""
    sup = [c for c in cases if c.get("supported", True)]
    uns = [c for c in cases if not c.get("supported", True)]
    misses = []
    hits = {"sup": 0, "uns": 0}
    for group, rows in (("sup", sup), ("uns", uns)):
        for case in rows:
            ok, info = run_case(case)
            hits[group] += ok
            if not ok:
                misses.append((case, info))
    return {"supported": hits["sup"] / max(1, len(sup)), "n_supported": len(sup),
            "unsupported": hits["uns"] / max(1, len(uns)), "n_unsupported": len(uns),
            "misses": misses}


def test_labelled_set_is_large_and_varied():
    """At least 300 requests, with multi-attribute, relative, removal and unsupported ones."""
    cases = load_cases()
    assert len(cases) >= 300
    assert sum(len(c["expected"]) > 1 for c in cases) >= 30
    assert sum(bool(c.get("history") or c.get("current")) for c in cases) >= 30
    assert sum("-" in c["expected"].values() for c in cases) >= 50
    assert sum(not c.get("supported", True) for c in cases) >= 50


def test_labelled_accuracy():
    """The rules reach the accuracy thresholds on the labelled set."""
    result = score(load_cases())
    report = (f"supported exact match {result['supported']:.1%} of {result['n_supported']}, "
              f"unsupported left without edits {result['unsupported']:.1%} of "
              f"{result['n_unsupported']}")
    print(report)
    assert result["supported"] >= SUPPORTED_MIN, report
    assert result["unsupported"] >= UNSUPPORTED_MIN, report


if __name__ == "__main__":
    res = score(load_cases())
    for case, info in res["misses"]:
        print(f"MISS {case['text']!r}: want {case['expected']} {case.get('steps', '')}"
              f"{case.get('action', '')} got {info['got']} steps={info['steps']} "
              f"action={info['action']} | {info['reply'][:70]}")
    print(f"supported exact match: {res['supported']:.1%} of {res['n_supported']}")
    print(f"unsupported left without edits: {res['unsupported']:.1%} of {res['n_unsupported']}")
