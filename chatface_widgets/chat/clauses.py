"""Clauses: split a message at punctuation and conjunctions, and drop answers to the previous turn."""

from __future__ import annotations

from functools import lru_cache

from chatface_widgets.chat import words_en as E
from chatface_widgets.chat.normalise import tokenize
from chatface_widgets.chat.parsed import Parsed


def strip_answer(toks: list[str]) -> list[str]:
    """Drop a leading "No." / "Hmm, no," that answers the previous turn ("No. Make her smile.").

    It only goes when punctuation closes it and a request follows; "no glasses" keeps its "no".
    """
    k, cut = 0, 0
    while k < len(toks) and (toks[k] in E.ANSWERS or toks[k] in E.BOUNDARY_PUNCT):
        if toks[k] in E.BOUNDARY_PUNCT and any(t in E.NO_WORDS for t in toks[:k]):
            cut = k + 1
        k += 1
    rest = toks[cut:]
    return rest if cut and any(t not in E.BOUNDARY_PUNCT for t in rest) else toks


def segments(p: Parsed) -> list[tuple[int, int, str]]:
    """Clauses as (start, end, boundary-before) split at punctuation and conjunctions."""
    inside = set()
    for m in p.mentions:
        inside.update(range(m.start, m.end))
    for w in p.words:  # "but subtle", "but not too much": an adverb phrase keeps its "but"
        inside.update(range(w.start if w.kind == "adv" else w.start + 1, w.end))
    segs, start, before, run = [], 0, "", []
    for k, t in enumerate(p.tokens):
        if k not in inside and (t in E.BOUNDARY_PUNCT or t in E.BOUNDARY_WORDS):
            if k > start:
                segs.append((start, k, before))
                run = []
            run.append(t)
            hard = [x for x in run if x not in E.SOFT_BOUNDARIES]
            before = hard[-1] if hard else t
            start = k + 1
    if start < len(p.tokens):
        segs.append((start, len(p.tokens), before))
    return segs


def split(tokens: list[str], a, b) -> bool:
    """Whether a clause boundary separates two spans."""
    lo, hi = (a, b) if a.start < b.start else (b, a)
    return any(tokens[k] in E.BOUNDARY_PUNCT or tokens[k] in E.BOUNDARY_WORDS
               for k in range(lo.end, hi.start))


def crosses_sentence(tokens: list[str], i: int, j: int) -> bool:
    """Whether a sentence end lies between positions i and j."""
    lo, hi = min(i, j), max(i, j)
    return any(tokens[k] in E.SENTENCE_END for k in range(lo, hi))


@lru_cache(maxsize=None)
def phrase_set(*tables: tuple[str, ...]) -> frozenset[tuple[str, ...]]:
    """Token tuples of the phrases in some vocabulary tables."""
    return frozenset(tuple(tokenize(p)) for table in tables for p in table)


def only(toks: list[str], *tables: tuple[str, ...]) -> bool:
    """Whether the message is made of phrases from these tables plus filler words."""
    phrases = phrase_set(*tables)
    i, n, hit = 0, len(toks), False
    while i < n:
        for j in range(min(n, i + 6), i, -1):
            if tuple(toks[i:j]) in phrases:
                hit, i = True, j
                break
        else:
            if toks[i] not in E.WIDE_FILLERS:
                return False
            i += 1
    return hit


def correction(p: Parsed) -> list[str] | None:
    """The tokens with a self-correction applied ("add glasses, no wait, a beard" → add a beard), or None.

    The corrected clause is the one right before the marker. What follows the marker replaces it:
    whole when it has its own cue ("smile... actually no, make it curly hair"); after the clause's
    cue when it names only an attribute ("remove the smile, err, I mean the beard" → remove the
    beard); or, when it names none, as the clause's new cue or strength ("more beard, I mean less"
    → beard less; "a big smile, no, a small one" → a smile a small one).
    """
    toks = p.tokens
    at = _marker(toks)
    if at is None:
        return None
    k, length = at
    a_end = k
    while a_end > 0 and toks[a_end - 1] in E.CORRECTION_FILLERS:
        a_end -= 1
    b_start = k + length
    while b_start < len(toks) and toks[b_start] in E.CORRECTION_FILLERS and toks[b_start] != "no":
        b_start += 1
    a_start = max((j + 1 for j in range(a_end) if toks[j] in E.BOUNDARY_PUNCT or toks[j] in E.BOUNDARY_WORDS),
                  default=0)
    in_a = [m for m in p.mentions if a_start <= m.start < a_end]
    in_b = [m for m in p.mentions if m.start >= b_start]
    words_a = [w for w in p.words if a_start <= w.start < a_end]
    words_b = [w for w in p.words if w.start >= b_start]
    if not (in_a or words_a) or not (in_b or words_b):
        return None
    prefix, after = toks[:a_start], toks[b_start:]
    if in_b and any(w.kind == "cue" for w in words_b):
        return prefix + after
    if in_b:
        head = toks[a_start:in_a[0].start] if in_a else []
        return prefix + head + after
    said = {j for w in words_a for j in range(w.start, w.end)}
    return prefix + [t for j, t in enumerate(toks[a_start:a_end], a_start) if j not in said] + after


def _marker(toks: list[str]) -> tuple[int, int] | None:
    """(position, length) of the last correction marker that follows some content, or None."""
    found = None
    for k in range(1, len(toks)):
        for marker in E.CORRECTION_MARKERS:
            if tuple(toks[k:k + len(marker)]) != marker:
                continue
            end = k + len(marker)
            if len(marker) == 1:  # one word: between punctuation ("..., no, ...") or after it
                before = toks[k - 1] in E.BOUNDARY_PUNCT or (  # ", hmm no, ..."
                    k >= 2 and toks[k - 1] in E.CORRECTION_FILLERS and toks[k - 2] in E.BOUNDARY_PUNCT)
                after = end < len(toks) and toks[end] in E.BOUNDARY_PUNCT
                if not before or (marker == ("no",) and not after):
                    continue
            if end < len(toks):
                found = (k, len(marker))
            break
    return found
