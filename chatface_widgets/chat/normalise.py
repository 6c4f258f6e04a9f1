"""Normalise one chat message: control codes, numbers written in words or odd numerals, spelling."""

from __future__ import annotations

import re
import unicodedata


MAX_CHARS = 4000  # longer messages are read up to here (a chat message, not a document)
_CONTRACTIONS = (
    (re.compile(r"\b(can)['’]t\b"), r"\1 not"), (re.compile(r"\bwon['’]t\b"), "will not"),
    (re.compile(r"\bshan['’]t\b"), "shall not"), (re.compile(r"n['’]t\b"), " not"),
    (re.compile(r"\b(do|does|did|is|are|was|were|should|could|would|have|has)nt\b"), r"\1 not"),
    (re.compile(r"\bdont\b"), "do not"), (re.compile(r"\bcant\b"), "can not"),
    (re.compile(r"\bwont\b"), "will not"), (re.compile(r"\bw/o\b"), "without"),
    (re.compile(r"\bw/\s"), "with "),
)
_SPELLING = {"grey": "gray", "greyer": "grayer", "greying": "graying", "colour": "color",
             "moustache": "mustache", "moustaches": "mustaches", "eyeglass": "eyeglasses",
             "sun-glasses": "sunglasses", "blondish": "blond", "beardy": "bearded",
             "wanna": "want to", "gimme": "give me", "pls": "please", "plz": "please",
             "thru": "through", "abit": "a bit", "alittle": "a little", "alot": "a lot",
             "abt": "about", "smilier": "smiley", "smilling": "smiling", "smille": "smile",
             "glases": "glasses", "glassess": "glasses", "eyeglases": "eyeglasses",
             "beared": "bearded", "mustash": "mustache", "mustach": "mustache",
             "lipstik": "lipstick", "makup": "makeup", "blong": "blond", "curley": "curly",
             "wavey": "wavy", "olde": "old", "yonger": "younger", "younge": "young",
             "earings": "earrings", "earing": "earring", "necklase": "necklace",
             "eyebrow": "eyebrow", "eye brows": "eyebrows", "eye brow": "eyebrow",
             "cheek bones": "cheekbones"}
_TOKEN = re.compile(r"(?<![\w.])[-−]?\d+/\d+(?![\w.])|(?<![\w.])\d+(?:\.\d+)?x\b|"
                    r"(?<![\w.])[-−]?\d+(?:\.\d+)?%?|(?<![\w])\.\d+%?|[^\W_]+|[.,;!?&+]")
_NUMBER_WORDS = (  # numbers in chat, written one way before tokenising (see rules.py "Numbers")
    (re.compile(r"(?<=\d),(?=\d{3}\b)"), ""),  # 1,000 -> 1000
    (re.compile(r"(?<=\d)\s*(?:percent|per cent|pct)\b"), "%"),  # 80 percent -> 80%
    (re.compile(r"(?<=\d)\s*[x×](?=\s|$|[.,;!?])"), "x"),  # 2 x, 2× -> 2x
    (re.compile(r"(?<![\w.])[x×]\s*(\d+(?:\.\d+)?)\b"), r"\1x"),  # x2 -> 2x
)
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202f\ufeff]")


def normalise(text: str) -> str:
    """Lower-case, NFKC, control characters to spaces, contractions expanded, grey → gray."""
    text = unicodedata.normalize("NFKC", str(text)[:MAX_CHARS]).lower()
    text = _CONTROL.sub(" ", text).replace("’", "'").replace("‘", "'").replace("_", " ")
    text = text.replace("\u2044", "/")  # NFKC writes ½ as 1⁄2 (fraction slash)
    for pattern, repl in _NUMBER_WORDS:
        text = pattern.sub(repl, text)
    for pattern, repl in _CONTRACTIONS:
        text = pattern.sub(repl, text)
    text = re.sub(r"(^|[\s,;:])[-−](?=[^\W\d_])", r"\1 remove ", text)
    text = re.sub(r"(^|[\s,;:])\+(?=[^\W\d_])", r"\1 add ", text)
    text = re.sub(r"(?<=\w)-|-(?!\.?\d)", " ", text).replace("'", " ")
    for wrong, right in _SPELLING.items():
        if wrong in text:
            text = re.sub(rf"\b{re.escape(wrong)}\b", right, text)
    return re.sub(r"\s+", " ", text).strip()


def tokenize(text: str) -> list[str]:
    """Words, numbers and clause punctuation of normalised text."""
    return _TOKEN.findall(normalise(text))


def stem(word: str) -> str:
    """A light singular: drop a final "s" unless the word ends in ss, us or is (or is short)."""
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word
