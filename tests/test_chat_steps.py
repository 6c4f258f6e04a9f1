"""The steps stage: step counts and quality words, checked by the contract's StepPolicy."""

from chatface_widgets.chat.steps import is_steps_number, level_up, steps_reply
from chatface_widgets.foundation.contract import EditContract

LEVELS = (8, 20, 50)


def test_a_number_next_to_steps_counts_steps():
    assert is_steps_number(["use", "30", "steps"], 1)
    assert is_steps_number(["steps", "to", "30"], 2)
    assert not is_steps_number(["smile", "0.5"], 1)


def test_levels_go_up_and_stop_at_the_best():
    assert level_up(None, LEVELS) == 20
    assert level_up(20, LEVELS) == 50
    assert level_up(50, LEVELS) == 50


def test_explicit_counts_are_checked_and_replied():
    from chatface_widgets.chat.steps import explicit_steps

    policy = EditContract(("smile",)).steps
    count, note = explicit_steps("30", policy, policy.levels())
    assert count is not None and (note == "" or "valid" in note)
    assert explicit_steps("1", policy, policy.levels())[0] is None
    assert "fast" in steps_reply(8, None, 8)
