"""The mentions stage: the model's words, typos by edit distance, and each mention's scope."""

import pytest

from chatface_widgets.chat import RuleInterpreter
from chatface_widgets.chat.mentions import MentionFinder, english_words
from chatface_widgets.chat.normalise import tokenize
from chatface_widgets.chat.parsed import EXCLUDED, FACT, REQUESTED, Parsed
from chatface_widgets.chat.strengths import find_words
from chatface_widgets.models.latent_classifier import CHAT_NAMES

TOY = ["smile", "eyeglasses", "red lipstick", "curly hair", "gray hair", "beard", "blue eyes",
       "pale skin"]
CELEBA = list(CHAT_NAMES)


@pytest.fixture(scope="module")
def toy():
    return RuleInterpreter(TOY)


@pytest.fixture(scope="module")
def celeba():
    return RuleInterpreter(CELEBA)


def scopes(finder: MentionFinder, text: str) -> dict[str, str]:
    p = Parsed(tokenize(text))
    finder.find(p)
    find_words(p)
    finder.mark_facts(p)
    return {m.concept: m.scope for m in p.mentions}


@pytest.mark.parametrize("typed, word", [
    ("smille", "smile"), ("smle", "smile"), ("gary", "gray"), ("bleu", "blue"), ("plae", "pale"),
    ("curlly", "curly"), ("glassess", "glasses"), ("glsases", "glasses"), ("lipstik", "lipstick"),
    ("baerd", "beard"),
])
def test_typos_by_edit_distance_against_the_models_words(typed, word):
    assert MentionFinder(TOY, {}).nearest_word(typed) == word


def test_every_attribute_word_is_a_target_not_a_list(celeba):
    finder = MentionFinder(CELEBA, {})
    assert finder.nearest_word("sidburns") == "sideburns"
    assert finder.nearest_word("eybrows") == "eyebrows"
    assert finder.nearest_word("neckalce") == "necklace"  # two neighbours swapped: one edit
    assert finder.nearest_word("nacklece") is None  # two edits
    assert celeba.parse("add earings").edits == {"earrings": 0.5}


def test_english_words_are_never_typos(toy):
    assert "order" in english_words() and "make" in english_words()
    finder = MentionFinder(TOY, {})
    for word in ("order", "board", "make", "mach", "more"):
        assert finder.nearest_word(word) is None or word in english_words(), word
    assert toy.parse("in order to").edits == {}


def test_a_near_miss_says_what_it_understood(toy):
    plan = toy.parse("smille please")
    assert plan.edits == {"smile": 0.5}
    assert "“smille” as “smile”" in plan.reply


def test_statements_of_fact_are_not_requests():
    finder = MentionFinder(CELEBA, {})
    assert scopes(finder, "she is 40") == {"old": FACT}
    assert scopes(finder, "he has a beard in real life") == {"beard": FACT}
    assert scopes(finder, "I like the glasses") == {"eyeglasses": FACT}
    assert scopes(finder, "nice smile") == {"smile": FACT}
    assert scopes(finder, "make her look like she is 70") == {"old": REQUESTED}
    assert scopes(finder, "he is going bald") == {"bald": REQUESTED}
    assert scopes(finder, "I would like glasses") == {"eyeglasses": REQUESTED}


def test_facts_and_requests_in_one_message(celeba):
    assert celeba.parse("she's 30 in this photo, make her smile").edits == {"smile": 0.5}
    assert celeba.parse("she is 40").edits == {}
    assert celeba.parse("he's 25 and wants to look older").edits == {"young": -0.5}


def test_excluded_mentions_are_not_edited(toy, celeba):
    plan = toy.parse("don't add glasses")
    assert plan.edits == {} and plan.action == "none" and plan.understood
    assert toy.parse("don't add glasses", {"eyeglasses": 0.5}).edits == {"eyeglasses": 0.0}
    assert celeba.parse("forget the hat, only a smile").edits == {"smile": 0.5}
    assert celeba.parse("not the necklace, the earrings").edits == {"earrings": 0.5}
    assert toy.parse("don't make him smile").edits == {"smile": -0.5}  # "make" is no add verb


def test_excluded_scope_is_recorded():
    finder = MentionFinder(TOY, {})
    assert scopes(finder, "add glasses") == {"eyeglasses": REQUESTED}
    assert EXCLUDED != REQUESTED


def test_the_other_end_of_a_slider(toy):
    assert toy.parse("give him his brown hair back", {"gray hair": 0.7}).edits == {"gray hair": 0.0}
    assert toy.parse("hazel eyes", {"blue eyes": 0.6}).edits == {"blue eyes": 0.0}
    assert toy.parse("hazel eyes").edits == {}  # nothing to take back: not available


def test_a_yardstick_is_compared_not_edited(toy):
    assert toy.parse("make the smile as big as the beard", {"beard": 0.6}).edits == {"smile": 0.8}
    assert toy.parse("more smile than beard").edits == {"smile": 0.5}
    assert toy.parse("add a smile as well as glasses").edits == {"smile": 0.5, "eyeglasses": 0.5}
