"""The where stage (issue 30): constraints on where an edit may act, said in words.

    "gray hair but keep the beard"      → keep beard      "only the hair", "hair only"  → only hair
    "don't touch her mouth"             → keep mouth      "leave the background alone"  → keep background
    "you can edit anywhere again"       → no constraint   "keep her nose"               → asks, listing the parts

Runs on the tokens before the mentions stage and takes out the words it used, so the rest of the
message is read as before ("gray hair but" → gray hair). Part names are foundation.where.PART_NAMES.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from chatface_widgets.foundation.where import PART_NAMES, known_parts_text

PART_WORDS = {
    "background": "background", "backdrop": "background", "bg": "background", "scenery": "background", "wall": "background",
    "skin": "skin", "complexion": "skin",
    "hair": "hair", "hairstyle": "hair", "haircut": "hair", "hairdo": "hair", "fringe": "hair", "bangs": "hair",
    "eyes": "eyes", "eye": "eyes", "irises": "eyes", "iris": "eyes", "pupils": "eyes",
    "mouth": "mouth", "lips": "mouth", "lip": "mouth", "teeth": "mouth",
    "glasses": "glasses", "spectacles": "glasses", "eyeglasses": "glasses", "specs": "glasses", "frames": "glasses",
    "clothes": "clothes", "clothing": "clothes", "shirt": "clothes", "outfit": "clothes", "collar": "clothes",
    "jacket": "clothes", "top": "clothes", "dress": "clothes",
    "beard": "beard", "moustache": "beard", "mustache": "beard", "stubble": "beard", "goatee": "beard",
    ("facial", "hair"): "beard",
}
UNKNOWN_PARTS = ("nose", "ears", "ear", "forehead", "cheeks", "cheek", "chin", "neck", "eyebrows", "eyebrow", "brows",
                 "jaw", "nostrils", "shoulders", "hat", "earrings", "necklace", "tattoo", "freckles", "hands")
DETERMINERS = ("the", "her", "his", "their", "my", "its", "this", "that", "your", "both")
KEEP_CUES = (("do", "not", "touch"), ("do", "not", "change"), ("do", "not", "edit"), ("without", "touching"),
             ("without", "changing"), ("except", "for"), ("but", "not"), ("keep",), ("leave",), ("preserve",),
             ("protect",), ("spare",), ("except",), ("not",))
ONLY_CUES = (("only", "change"), ("only", "edit"), ("only", "touch"), ("only", "on"), ("only", "to"), ("just", "on"),
             ("just", "change"), ("limit", "it", "to"), ("limit", "to"), ("limited", "to"), ("restrict", "to"),
             ("only",), ("just",))
KEEP_TAILS = (("as", "it", "is"), ("as", "they", "are"), ("as", "is"), ("the", "same"), ("alone",), ("untouched",),
              ("unchanged",), ("intact",), ("out",))
ONLY_TAILS = (("only",),)
ANYWHERE = (("anywhere",), ("everywhere",), ("no", "limits"), ("whole", "face"), ("whole", "photo"),
            ("remove", "the", "limits"), ("drop", "the", "limits"))
JOINERS = ("and", ",", "or", "&", "nor")
FILLERS = frozenset(("you", "can", "may", "edit", "change", "touch", "again", "now", "please", "ok", "okay", "it", "the",
                     "all", "parts", "part", "and", "but", "so", "then", "go", "ahead", "be", "free", "to", "feel", "is",
                     "fine", "i", "want", "let", "lets", "let's", "us", ",", ".", "!", "?", ";"))


@dataclass
class Where:
    """What the message says about where: parts to keep, parts to limit to, everything again, an unknown part."""

    keep: list = field(default_factory=list)
    only: list = field(default_factory=list)
    anywhere: bool = False
    unknown: list = field(default_factory=list)  # part-like words no part map knows ("nose")

    def __bool__(self):
        return bool(self.keep or self.only or self.anywhere or self.unknown)

    def reply(self) -> str:
        """The sentence that tells the user what changed about where edits act."""
        if self.unknown:
            return (f"I can't tell where the {', '.join(self.unknown)} is on this face. The parts I know: "
                    f"{known_parts_text(PART_NAMES)}.")
        out = []
        if self.anywhere and not (self.keep or self.only):
            out.append("Edits may change any part again.")
        if self.only:
            out.append(f"Only the {_and(self.only)} will change.")
        if self.keep:
            out.append(f"Keeping the {_and(self.keep)} as {'it is' if len(self.keep) == 1 else 'they are'}.")
        return " ".join(out)


def _and(names: list) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def _match(tokens: list, k: int, phrases) -> int:
    """Length of the first phrase of ``phrases`` at tokens[k:], else 0."""
    for phrase in phrases:
        if tuple(tokens[k:k + len(phrase)]) == phrase:
            return len(phrase)
    return 0


def _part_at(tokens: list, k: int, attribute=lambda word: False):
    """(part name or "?word" for an unknown part, tokens used) at tokens[k:], else (None, 0).

    ``attribute(word)``: whether the model edits something by that name (then "necklace" is an attribute, not a part).
    """
    if tuple(tokens[k:k + 2]) in PART_WORDS:
        return PART_WORDS[tuple(tokens[k:k + 2])], 2
    word = tokens[k] if k < len(tokens) else None
    if word in PART_WORDS:
        return PART_WORDS[word], 1
    if word in UNKNOWN_PARTS and not attribute(word):
        return "?" + word, 1
    return None, 0


def _parts_list(tokens: list, k: int, attribute=lambda word: False):
    """Parts named from tokens[k:] ("the hair and her eyes"): (names, index after them); a list needs a part first."""
    names = []
    j = k
    while True:
        d = 1 if j < len(tokens) and tokens[j] in DETERMINERS else 0
        part, n = _part_at(tokens, j + d, attribute)
        if part is None:
            return names, j
        names.append(part)
        j += d + n
        after = j + 1 + (tokens[j + 1] in DETERMINERS if j + 1 < len(tokens) else 0)
        if j < len(tokens) and tokens[j] in JOINERS and _part_at(tokens, after, attribute)[0]:
            j += 1
            continue
        return names, j


def find(tokens: list, attribute=lambda word: False) -> tuple[list, Where]:
    """(the tokens without the constraint phrases, what they say); ``attribute``: see :func:`_part_at`."""
    where = Where()
    rest = []
    k = 0
    while k < len(tokens):
        n = _match(tokens, k, ANYWHERE)
        if n:
            where.anywhere = True
            k += n
            continue
        kind, n = ("keep", _match(tokens, k, KEEP_CUES))
        if not n:
            kind, n = ("only", _match(tokens, k, ONLY_CUES))
        if n and kind == "only" and n == 1 and _names_an_attribute(tokens, k + 1, attribute):
            n = 0  # a bare "just"/"only" before something the model edits asks for it ("just the mustache")
        if n:
            names, end = _parts_list(tokens, k + n, attribute)
            if names:
                kind = "only" if kind == "keep" and _match(tokens, end, ONLY_TAILS) else kind
                end += _match(tokens, end, KEEP_TAILS if kind == "keep" else ONLY_TAILS)
                _add(where, kind, names)
                k = end
                continue
        names, end = _parts_list(tokens, k, attribute)
        if names and (_match(tokens, end, ONLY_TAILS) or _match(tokens, end, KEEP_TAILS[-5:-1])):
            kind = "only" if _match(tokens, end, ONLY_TAILS) else "keep"
            end += _match(tokens, end, ONLY_TAILS if kind == "only" else KEEP_TAILS)
            _add(where, kind, names)
            if rest and rest[-1] in ("the", "her", "his", "their", "my", "your"):
                rest.pop()
            k = end
            continue
        rest.append(tokens[k])
        k += 1
    return rest, where


def _names_an_attribute(tokens: list, k: int, attribute) -> bool:
    """Whether tokens[k:] (after a determiner) start with a word the model edits as an attribute."""
    k += 1 if k < len(tokens) and tokens[k] in DETERMINERS else 0
    return k < len(tokens) and bool(attribute(tokens[k]) or attribute(" ".join(tokens[k:k + 2])))


def _add(where: Where, kind: str, names: list) -> None:
    """Record parts (an unknown one as unknown) under ``kind``."""
    for name in names:
        if name.startswith("?"):
            if name[1:] not in where.unknown:
                where.unknown.append(name[1:])
            continue
        target = where.keep if kind == "keep" else where.only
        if name not in target:
            target.append(name)


def nothing_else(tokens: list) -> bool:
    """Whether what is left after the where stage asks nothing more ("you can edit … again")."""
    return all(t in FILLERS for t in tokens)
