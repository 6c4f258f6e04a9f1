"""The clauses stage: splitting, answers to the previous turn, and self-corrections."""

from chatface_widgets.chat.clauses import correction, segments, strip_answer
from chatface_widgets.chat.mentions import MentionFinder
from chatface_widgets.chat.normalise import tokenize
from chatface_widgets.chat.parsed import Parsed
from chatface_widgets.chat.strengths import find_words

TOY = ["smile", "eyeglasses", "red lipstick", "curly hair", "gray hair", "beard", "blue eyes",
       "pale skin"]
FINDER = MentionFinder(TOY, {})


def read(text: str) -> Parsed:
    p = Parsed(tokenize(text))
    FINDER.find(p)
    find_words(p)
    return p


def test_segments_split_at_punctuation_and_conjunctions():
    p = read("add glasses and a beard, then smile")
    spans = [" ".join(p.tokens[s:e]) for s, e, _ in segments(p)]
    assert spans == ["add glasses", "a beard", "smile"]


def test_a_leading_no_answers_the_previous_turn():
    assert strip_answer(tokenize("No. Make her smile.")) == ["make", "her", "smile", "."]
    assert strip_answer(tokenize("no glasses")) == ["no", "glasses"]


def test_self_corrections_keep_what_follows_the_marker():
    cases = {
        "add glasses, no wait, a beard": "add a beard",
        "smile... actually no, make it curly hair": "make it curly hair",
        "give her lipstick, sorry, I meant blue eyes": "give her blue eyes",
        "gray hair - scratch that - pale skin": "pale skin",
        "more beard, I mean less": "beard less",
        "a big smile, no, a small one": "a smile a small one",
        "remove the smile, err, I mean the beard": "remove the the beard",
        "add a smile and glasses, no wait, a beard": "add a smile and a beard",
    }
    for text, want in cases.items():
        assert " ".join(correction(read(text)) or []) == want, text


def test_no_correction_without_a_marker_between_two_requests():
    for text in ("add glasses, no beard", "no glasses", "actually, add a smile", "I mean it, smile"):
        assert correction(read(text)) is None, text
