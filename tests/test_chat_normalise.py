"""The normalise stage: escape codes, control characters, numbers in words and odd numerals."""

import pytest

from chatface_widgets.chat.normalise import MAX_CHARS, normalise, numbers_in_words, tokenize


@pytest.mark.parametrize("text, tokens", [
    ("gray hair to nil", ["gray", "hair", "to", "0"]),
    ("the beard down to none", ["the", "beard", "down", "to", "0"]),
    ("smile at twenty percent", ["smile", "at", "20%"]),
    ("bangs at seventy five per cent", ["bangs", "at", "75%"]),
    ("glasses at one hundred percent", ["glasses", "at", "100%"]),
    ("curls at point eight", ["curls", "at", ".8"]),
    ("blue eyes to zero point three", ["blue", "eyes", "to", "0.3"]),
    ("glasses at 5e-1", ["glasses", "at", "0.5"]),
    ("smile 1e-3", ["smile", "0.001"]),
    ("smile 0x10", ["smile", "16"]),
    ("pale skin: 0,6", ["pale", "skin", "0.6"]),
    ("beard three quarters", ["beard", "3/4"]),
    ("smile to a quarter", ["smile", "to", "1/4"]),
    ("make him look seventy", ["make", "him", "look", "70"]),
])
def test_numbers_are_digits(text, tokens):
    assert tokenize(text) == tokens


def test_words_that_are_not_numbers_stay():
    assert tokenize("a big smile, no, a small one") == ["a", "big", "smile", ",", "no", ",", "a",
                                                        "small", "one"]
    assert tokenize("in her sixties") == ["in", "her", "sixties"]
    assert numbers_in_words("1,000%") == "1,000%"  # thousands are the tokenizer's, not read as 1.0


def test_escape_codes_and_control_characters_go():
    assert tokenize("\x1b[31madd a smile\x1b[0m") == ["add", "a", "smile"]
    assert tokenize("\x1b[1msmile 0.3\x1b[0m") == ["smile", "0.3"]  # "1m" is not a strength
    assert tokenize("add\tglasses\x00\u200b") == ["add", "glasses"]
    assert tokenize("\x1b]0;title\x07smile") == ["smile"]


def test_huge_exponents_and_long_text_do_not_break():
    assert tokenize("smile 1e999") == ["smile", "1" + "0" * 300] or tokenize("smile 1e999")[0] == "smile"
    assert len(normalise("smile " * 100_000)) <= MAX_CHARS


def test_english_spelling_but_not_attribute_typos():
    assert normalise("Grey colour") == "gray color"
    assert normalise("smille") == "smille"  # typos are the mentions stage's, by edit distance
