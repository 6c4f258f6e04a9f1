"""What the stages hand on: one message's tokens, the mentions and grammar words found in them, the edits."""

from __future__ import annotations

from dataclasses import dataclass, field

# A mention's scope: what the message does with the attribute it names.
REQUESTED = "requested"  # "add glasses": an edit
EXCLUDED = "excluded"  # "don't add glasses", "forget the hat": named only to leave it out
COMPARED = "compared"  # "as blue as the sky": a yardstick, not an edit of its own
FACT = "fact"  # "she is 40", "he has a beard": a statement, not a request


@dataclass
class Mention:
    """A phrase that names a concept: tokens [start, end)."""

    start: int
    end: int
    concept: str
    phrase: str
    remove: bool = False  # "clean shaven": removal of the concept
    comparative: bool = False  # "older", "bigger nose": grow from the current value
    scope: str = REQUESTED  # REQUESTED, EXCLUDED, COMPARED or FACT


@dataclass
class Word:
    """A cue, adverb, step word or number: tokens [start, end)."""

    start: int
    end: int
    kind: str  # "cue", "adv", "steps", "num"
    value: object
    phrase: str


@dataclass
class Edit:
    """One resolved change, kept for the reply."""

    attr: str
    old: float
    new: float
    op: str
    note: str = ""  # e.g. "asked for 2.0; strengths run from -1 to 1"


@dataclass
class Parsed:
    """Tokens of one message and what was found in them."""

    tokens: list[str]
    mentions: list[Mention] = field(default_factory=list)
    words: list[Word] = field(default_factory=list)
    used: set[int] = field(default_factory=set)
    dropped: list[str] = field(default_factory=list)  # person / scene words that are not edits
    understood: list[str] = field(default_factory=list)  # near misses read as a word ("smille → smile")
