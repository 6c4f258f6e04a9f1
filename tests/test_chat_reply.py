"""The reply stage: what changed, what is missing, and no long echo of the user's text."""

from chatface_widgets.chat import RuleInterpreter
from chatface_widgets.chat.parsed import Edit
from chatface_widgets.chat.reply import QUOTE_CHARS, capabilities, clip, describe, finish


def test_describe_one_edit():
    assert describe(Edit("smile", 0.0, 0.5, "set")) == "Added a smile (0.5)."
    assert describe(Edit("smile", 0.5, 0.0, "zero")) == "Removed the smile edit."


def test_finish_builds_the_plan():
    plan = finish([Edit("smile", 0.0, 0.25, "set")], ["hat"], None, None, ["smile"], 8,
                  understood=["“smille” as “smile”"])
    assert plan.edits == {"smile": 0.25}
    assert plan.reply.startswith("(Read “smille” as “smile”.)")
    assert "Hat isn't available" in plan.reply
    assert finish([], [], None, None, ["smile"], 8).action == "none"
    assert "smile" in capabilities(["smile"])


def test_a_huge_request_is_not_echoed():
    assert len(clip("x" * 100_000)) == QUOTE_CHARS
    rules = RuleInterpreter(["smile"])
    for text in ("z" * 100_000, "make the " + "q" * 100_000 + " bigger", "the wall " * 20_000):
        plan = rules.parse(text)
        assert len(plan.reply) < 400 and (plan.note is None or len(plan.note) < 400)
