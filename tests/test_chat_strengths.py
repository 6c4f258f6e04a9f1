"""The strengths stage: cues, adverbs and numbers anywhere in the clause."""

import pytest

from chatface_widgets.chat import RuleInterpreter
from chatface_widgets.chat.strengths import combine, number

TOY = ["smile", "eyeglasses", "red lipstick", "curly hair", "gray hair", "beard", "blue eyes",
       "pale skin"]


@pytest.fixture(scope="module")
def toy():
    return RuleInterpreter(TOY)


def test_numbers_read_one_way():
    assert number("0.7") == ("num", 0.7)
    assert number("70%") == ("num", 0.7)
    assert number("1/2") == ("num", 0.5)
    assert number("2x") == ("mult", 2.0)
    assert number("abc") is None


def test_small_adverbs_win_and_very_sharpens():
    assert combine([0.25, 0.8]) == 0.25
    assert combine([-1.0, 0.8]) == 1.0


@pytest.mark.parametrize("text, current, value", [
    ("curly hair, but subtle", {}, 0.25),
    ("subtle curly hair", {}, 0.25),
    ("add glasses but not too much", {}, 0.25),
    ("give him a beard, barely noticeable", {}, 0.25),
    ("gray hair to nil", {"gray hair": 0.6}, 0.0),
    ("the beard down to none", {"beard": 0.7}, 0.0),
    ("smile at twenty percent", {}, 0.2),
    ("glasses at 5e-1", {}, 0.5),
    ("make the lipstick half as strong", {"red lipstick": 0.8}, 0.4),
    ("beard to zero", {"beard": 0.5}, 0.0),
])
def test_modifiers_and_numbers_anywhere_in_the_clause(toy, text, current, value):
    attr = next(iter(toy.parse(text, current).edits))
    assert toy.parse(text, current).edits[attr] == value, text


def test_less_x_more_y(toy):
    assert toy.parse("less beard, more smile", {"beard": 0.6}).edits == {"beard": 0.35, "smile": 0.5}
