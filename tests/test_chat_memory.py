"""The memory stage: follow-ups act on the last edit; undo / redo / reset."""

from chatface_widgets.chat import RuleInterpreter
from chatface_widgets.chat.memory import Memory, direction, intent
from chatface_widgets.chat.parsed import Edit


def test_record_and_forget():
    memory = Memory()
    memory.record([Edit("smile", 0.0, 0.5, "set")])
    assert memory.last == [("smile", 1.0)]
    memory.forget()
    assert memory.last == []


def test_direction_and_intents():
    assert direction(0.5, 0.2) == -1.0 and direction(0.0, 0.0) == 1.0
    assert intent(["undo", "that"]) == "undo"
    assert intent(["start", "over", "please"]) == "reset"
    assert intent(["no", "glasses"]) is None


def test_a_bare_follow_up_changes_the_last_edit():
    rules = RuleInterpreter(["smile", "beard"])
    state = rules.parse("make him frown").apply({})
    assert rules.parse("more", state).edits == {"smile": -0.75}
    assert rules.parse("skip it", {}).edits == {}  # an exclusion is no follow-up
    assert rules.last_edited == ["smile"]
