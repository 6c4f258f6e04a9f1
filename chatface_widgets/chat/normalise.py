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
# English spelling variants and chat shorthand (attribute misspellings are found by edit distance
# against the model's own words, in mentions.py, not listed here).
_SPELLING = {"grey": "gray", "greyer": "grayer", "greying": "graying", "colour": "color",
             "moustache": "mustache", "moustaches": "mustaches", "eyeglass": "eyeglasses",
             "sun-glasses": "sunglasses", "blondish": "blond", "beardy": "bearded",
             "wanna": "want to", "gimme": "give me", "pls": "please", "plz": "please",
             "thru": "through", "abit": "a bit", "alittle": "a little", "alot": "a lot",
             "abt": "about", "smilier": "smiley", "eye brows": "eyebrows", "eye brow": "eyebrow",
             "cheek bones": "cheekbones", "percentage": "percent"}
_TOKEN = re.compile(r"(?<![\w.])[-−]?\d+/\d+(?![\w.])|(?<![\w.])\d+(?:\.\d+)?x\b|"
                    r"(?<![\w.])[-−]?\d+(?:\.\d+)?%?|(?<![\w])\.\d+%?|[^\W_]+|[.,;!?&+]")
_NUMBER_WORDS = (  # numbers in chat, written one way before tokenising (see rules.py "Numbers")
    (re.compile(r"(?<=\d),(?=\d{3}\b)"), ""),  # 1,000 -> 1000
    (re.compile(r"(?<=\d)\s*(?:percent|per cent|pct)\b"), "%"),  # 80 percent -> 80%
    (re.compile(r"(?<=\d)\s*[x×](?=\s|$|[.,;!?])"), "x"),  # 2 x, 2× -> 2x
    (re.compile(r"(?<![\w.])[x×]\s*(\d+(?:\.\d+)?)\b"), r"\1x"),  # x2 -> 2x
)
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202f\ufeff]")
# Terminal escape sequences (ANSI colours "\x1b[31m", cursor moves, OSC titles): dropped whole, so
# their digits never read as a strength.
_ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b[@-Z\\-_]|\x9b[0-9;?]*[@-~]")

# Numbers written in words, read as digits before tokenising ("twenty percent" → 20%).
_UNITS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
          "nine": 9}
_TEENS = {"ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15,
          "sixteen": 16, "seventeen": 17, "eighteen": 18, "nineteen": 19}
_TENS = {"twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70,
         "eighty": 80, "ninety": 90}
_NOTHING = ("zero", "nil", "nought", "naught", "nada", "zilch")
_W = "|".join
_NUM_WORD = re.compile(
    rf"\b(?:(?P<hun>(?:a|one) hundred)|(?P<tens>{_W(_TENS)})(?:[ -](?P<unit>{_W(_UNITS)}))?"
    rf"|(?P<teen>{_W(_TEENS)})|(?P<single>{_W(u for u in _UNITS if u != 'one')}))\b")
_ONE_PERCENT = re.compile(r"\bone(?=\s*(?:%|percent|per cent)\b)")
_POINT = re.compile(rf"\b(?:({_W(_NOTHING)}|\d+)\s+)?point\s+((?:{_W(_UNITS)}|{_W(_NOTHING)}|\d)"
                    rf"(?:\s+(?:{_W(_UNITS)}|{_W(_NOTHING)}|\d))*)\b")
_NOTHING_WORD = re.compile(rf"\b(?:{_W(_NOTHING)})\b")
_NONE_VALUE = re.compile(r"\b(to|at|down to|up to)\s+none\b")
_FRACTIONS = ((re.compile(r"\bthree quarters\b"), "3/4"), (re.compile(r"\b(?:a|one) quarter\b"), "1/4"),
              (re.compile(r"\b(to|at)\s+(?:a\s+)?half\b"), r"\1 1/2"), (re.compile(r"\b(to|at)\s+quarter\b"), r"\1 1/4"),
              (re.compile(r"\b(?:a|one) third\b"), "1/3"), (re.compile(r"\btwo thirds\b"), "2/3"))
_SCIENTIFIC = re.compile(r"(?<![\w.])(\d+(?:\.\d+)?|\.\d+)e([-+−]?\d{1,3})\b")
_HEX = re.compile(r"(?<![\w.])0x([0-9a-f]+)\b")
_DECIMAL_COMMA = re.compile(r"(?<![\d,.])(\d),(\d{1,2})(?![\d,])")


def _digit(word: str) -> str:
    """One spoken digit as a digit ("five" → 5, "zero" / "nil" → 0)."""
    return "0" if word in _NOTHING else str(_UNITS.get(word, word))


def _number_word(m: re.Match) -> str:
    """A number written in words as digits ("seventy five" → 75, "a hundred" → 100)."""
    if m.group("hun"):
        return "100"
    if m.group("tens"):
        return str(_TENS[m.group("tens")] + (_UNITS[m.group("unit")] if m.group("unit") else 0))
    if m.group("teen"):
        return str(_TEENS[m.group("teen")])
    return str(_UNITS[m.group("single")])


def _scientific(m: re.Match) -> str:
    """5e-1 → 0.5, 1e-3 → 0.001 (a float written plainly; huge exponents stay huge)."""
    exponent = int(m.group(2).replace("−", "-"))
    value = float(m.group(1)) * 10.0 ** max(-300, min(300, exponent))
    return f"{value:.6f}".rstrip("0").rstrip(".") if abs(value) < 1e6 else f"{value:.0f}"


def numbers_in_words(text: str) -> str:
    """Numbers written in words or odd numerals as plain digits, one way (see rules.py "Numbers").

    "twenty percent" → 20%, "seventy five" → 75, "point eight" → .8, "zero point three" → 0.3,
    "nil" / "nought" / "zero" → 0, "down to none" → down to 0, "three quarters" → 3/4, "to half" → to
    1/2, 5e-1 → 0.5, 0x10 → 16, "0,6" → 0.6. "one" alone stays a word ("a small one").
    """
    text = _SCIENTIFIC.sub(_scientific, text)
    text = _HEX.sub(lambda m: str(int(m.group(1), 16)), text)
    text = _DECIMAL_COMMA.sub(r"\1.\2", text)
    text = _POINT.sub(lambda m: (_digit(m.group(1)) if m.group(1) else "") + "."
                      + "".join(_digit(d) for d in m.group(2).split()), text)
    for pattern, repl in _FRACTIONS:
        text = pattern.sub(repl, text)
    text = _NONE_VALUE.sub(r"\1 0", text)
    text = _NOTHING_WORD.sub("0", text)
    text = _ONE_PERCENT.sub("1", text)
    return _NUM_WORD.sub(_number_word, text)


def normalise(text: str) -> str:
    """Lower-case, NFKC, escape codes and control characters to spaces, numbers as digits, contractions
    expanded, grey → gray (the text is read up to MAX_CHARS)."""
    text = _ANSI.sub(" ", str(text)[:MAX_CHARS])
    text = unicodedata.normalize("NFKC", text).lower()
    text = _CONTROL.sub(" ", text).replace("’", "'").replace("‘", "'").replace("_", " ")
    text = text.replace("\u2044", "/")  # NFKC writes ½ as 1⁄2 (fraction slash)
    text = numbers_in_words(text)
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
