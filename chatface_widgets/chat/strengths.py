"""Strengths: cue, adverb and number words, and each mention's operation and strength in its clause."""

from __future__ import annotations

import math
import re
from functools import lru_cache

from chatface_widgets.chat import words_en as E
from chatface_widgets.chat.normalise import tokenize
from chatface_widgets.chat.parsed import Mention, Parsed, Word
from chatface_widgets.chat.steps import is_steps_number
from chatface_widgets.foundation.contract import DEFAULT_STRENGTH, STRENGTH_MAX

STEP = 0.25  # the size of one relative change
_ARTICLES = E.DETERMINERS | {"a", "an", "any", "some"}  # between "not" and what it leaves out
BIG_STEP = 0.5  # "a lot more"


@lru_cache(maxsize=1)
def lexicon() -> dict[tuple[str, ...], list[tuple[str, object]]]:
    """Cue, adverb and step phrases by token tuple (shared by all interpreters)."""
    lex: dict[tuple[str, ...], list[tuple[str, object]]] = {}
    for kind, table in (("cue", E.CUES), ("adv", E.ADVERBS), ("steps", E.STEP_WORDS)):
        for phrase, value in table.items():
            lex.setdefault(tuple(tokenize(phrase)), []).append((kind, value))
    return lex


def number(token: str) -> tuple[str, float] | None:
    """A strength written as a number, read one way (see "Numbers" in the module docstring).

    ``("num", x)``: a strength on the contract's scale, unclamped (the caller clamps and says so):
    plain numbers as written (0.7, -0.3, 1.5, 2), percentages divided by 100 (70%, 1000%),
    fractions as their value (1/2, ½). ``("mult", f)``: a multiplier (2x, 0.5x).
    """
    token = token.replace("−", "-")
    m = re.fullmatch(r"(-?)(\d+)/(\d+)", token)
    if m:
        den = int(m.group(3))
        return None if den == 0 else ("num", (-1 if m.group(1) else 1) * int(m.group(2)) / den)
    m = re.fullmatch(r"(\d+(?:\.\d+)?|\.\d+)x", token)
    if m:
        return "mult", float(m.group(1))
    if not re.fullmatch(r"-?(\d+(\.\d+)?|\.\d+)%?", token):
        return None
    value = float(token.rstrip("%"))
    if not math.isfinite(value):
        return None
    return "num", value / 100 if token.endswith("%") else value


def find_words(p: Parsed):
    """Cues, adverbs, step words and numbers on the tokens no mention used."""
    toks, n, i = p.tokens, len(p.tokens), 0
    while i < n:
        if i in p.used:
            i += 1
            continue
        num = number(toks[i])
        if num is not None and num[0] == "num" and i > 0 and toks[i - 1] in E.ABSOLUTE_BEFORE:
            num = ("abs", num[1])  # "down to 0", "at 20%": the value itself, whatever the cue
        if num is not None:
            p.words.append(Word(i, i + 1, "num", num, toks[i]))
            i += 1
            continue
        for length in range(min(_lex_len(), n - i), 0, -1):
            if any(k in p.used for k in range(i, i + length)):
                continue
            key = tuple(toks[i:i + length])
            entries = lexicon().get(key)
            if entries:
                phrase = " ".join(key)
                for kind, value in entries:
                    if kind == "cue" and phrase == "too":
                        value = too(toks, i)
                        if value is None:
                            continue
                    p.words.append(Word(i, i + length, kind, value, phrase))
                i += length
                break
        else:
            i += 1
    p.words.sort(key=lambda w: w.start)
    negate_set_cues(p)


@lru_cache(maxsize=1)
def _lex_len() -> int:
    """The longest grammar phrase, in tokens."""
    return max(len(k) for k in lexicon())


def too(toks: list[str], i: int):
    """"too" + weak word → more; + also-word or nothing → ignored; else too much."""
    nxt = toks[i + 1] if i + 1 < len(toks) else None
    if nxt is None or nxt in E.TOO_ALSO_WORDS or nxt in E.BOUNDARY_PUNCT:
        return None
    return E.MORE if nxt in E.TOO_WEAK_WORDS else E.TOO_MUCH


def negate_set_cues(p: Parsed):
    """"don't make him bald": a set cue right after a negation becomes removal; "don't add glasses"
    (a verb that adds) excludes the attribute instead.

    "she doesn't smile enough", "not blue enough": a negation with "enough" later in its
    sentence is a complaint that asks for more, and its scope ends there.
    """
    cues = [w for w in p.words if w.kind == "cue"]
    toks = p.tokens
    for w in cues:
        if w.phrase in E.NEGATIONS:
            end = next((k for k in range(w.end, len(toks)) if toks[k] in E.SENTENCE_END), len(toks))
            if "enough" in toks[w.end:end]:
                w.value = E.MORE
                for o in cues:  # "doesn't look old enough": the set cue keeps its meaning
                    if o is not w and w.end <= o.start < end and o.value == E.REMOVE:
                        o.value = E.SET
    for a, b in zip(cues, cues[1:]):
        if a.phrase in E.NEGATIONS and a.value == E.REMOVE and b.value == E.SET and b.start - a.end <= 2:
            b.value = E.EXCLUDE if b.phrase in E.ADD_VERBS else E.REMOVE


def assign_ops(p: Parsed, segments) -> dict[int, str]:
    """Each mention's operation: nearest cue before it, else a postfix cue after it, else inherited."""
    ops: dict[int, str] = {}
    how: dict[int, str] = {}  # "prefix", "postfix", "set", "none"
    seg_of = []
    for s, e, before in segments:
        ms = [m for m in p.mentions if s <= m.start < e]
        cues = [w for w in p.words if w.kind == "cue" and s <= w.start < e]
        seg_of.append((ms, cues, before))
        for m in ms:
            prev = [c for c in cues if c.end <= m.start and c.phrase not in E.POSTFIX_ONLY]
            if prev and prev[-1].value != E.SET:
                ops[id(m)], how[id(m)] = prev[-1].value, "prefix"
                continue
            later = [c for c in cues if c.start >= m.end
                     and not any(o.start >= m.end and o.end <= c.start for o in ms)
                     and (c.phrase in E.POSTFIX_CUES or (c.phrase in E.POSTFIX_FINAL
                                                         and not any(o.start >= c.end for o in ms)))]
            if later:
                ops[id(m)], how[id(m)] = later[0].value, "postfix"
            else:
                ops[id(m)], how[id(m)] = E.SET, ("set" if prev or cues else "none")
    # "the glasses are distracting, take them off": a clause with only a cue acts on the last one.
    for k in range(1, len(seg_of)):
        ms, cues, _ = seg_of[k]
        pms = seg_of[k - 1][0]
        strong = [c for c in cues if c.value not in (E.SET, E.KEEP)]
        s, e, _ = segments[k]
        qualifier = (all(c.phrase in E.NEGATIONS for c in strong)
                     and any(w.kind == "adv" and s <= w.start < e for w in p.words))
        if (not ms and strong and pms and not qualifier
                and all(how[id(m)] in ("set", "none") for m in pms)):
            for m in pms:
                ops[id(m)], how[id(m)] = strong[0].value, "postfix"
    # "remove the glasses and beard": a clause with no cue continues the list's operation.
    for k in range(1, len(seg_of)):
        ms, cues, before = seg_of[k]
        pms = seg_of[k - 1][0]
        if ms and pms and not cues and before in E.SOFT_BOUNDARIES:
            has_adv = any(w.kind in ("adv", "num") and segments[k][0] <= w.start < segments[k][1]
                          for w in p.words)
            prev_op = ops[id(pms[-1])]
            if prev_op not in (E.SET, E.EXCLUDE) and not has_adv:
                for m in ms:
                    ops[id(m)] = prev_op
    # "make the smile and the beard stronger": a list shares a trailing postfix cue.
    for k in range(len(seg_of) - 2, -1, -1):
        ms, cues, _ = seg_of[k]
        nms, ncues, nbefore = seg_of[k + 1]
        if (ms and nms and nbefore in E.SOFT_BOUNDARIES
                and all(how[id(m)] in ("set", "none") for m in ms)
                and all(c.value != E.SET for c in ncues)
                and how[id(nms[0])] == "postfix"
                and not any(c.value != E.SET for c in cues)):
            for m in ms:
                ops[id(m)] = ops[id(nms[0])]
                how[id(m)] = "postfix"
    # "not the necklace, the earrings", "not curly, straight": a bare "not" names what is left out.
    for k in range(len(seg_of) - 1):
        ms, cues, _ = seg_of[k]
        nms, ncues, nbefore = seg_of[k + 1]
        if (ms and nms and not ncues and nbefore in (",", ";", "but") and len(cues) == 1
                and cues[0].phrase == "not" and cues[0].end <= ms[0].start
                and all(t in _ARTICLES for t in p.tokens[cues[0].end:ms[0].start])):
            for m in ms:
                ops[id(m)] = E.EXCLUDE
            for m in nms:  # the list rule above gave them the "not"
                ops[id(m)] = E.SET
    swaps(p, segments, ops)
    return ops


def swaps(p: Parsed, segments, ops: dict[int, str]):
    """"swap the black hair for blond", "from brown to gray", "blond instead of black"."""
    toks = p.tokens
    for s, e, _ in segments:
        ms = [m for m in p.mentions if s <= m.start < e]
        for a, b in zip(ms, ms[1:]):
            between = toks[a.end:b.start]
            before = toks[s:a.start]
            verbs = [k for k, t in enumerate(before) if t in E.SWAP_LINKS]
            links = E.SWAP_LINKS[before[verbs[-1]]] if verbs else ()
            free = verbs and not any(t in links for t in before[verbs[-1] + 1:])
            if free and any(t in links for t in between):
                if ops[id(a)] == E.SET:
                    ops[id(a)] = E.REMOVE
            elif any(tuple(between[i:i + len(q)]) == q for q in E.INSTEAD
                     for i in range(len(between))):
                if ops[id(b)] == E.SET:
                    ops[id(b)] = E.REMOVE


def assign_strengths(p: Parsed, segments) -> dict[int, object]:
    """Each mention's strength: an explicit number, or its adverbs combined."""
    out: dict[int, object] = {}
    last_mention = None
    for s, e, _ in segments:
        ms = [m for m in p.mentions if s <= m.start < e]
        advs = [w for w in p.words if w.kind in ("adv", "num") and s <= w.start < e]
        if not ms:
            if last_mention is not None and advs:
                ms = [last_mention]
            else:
                continue
        negated = not any(s <= m.start < e for m in p.mentions) and any(
            w.kind == "cue" and w.phrase in E.NEGATIONS and s <= w.start < e for w in p.words)
        if negated:  # "a smile, but not a huge one"
            advs = [Word(w.start, w.end, "adv", E.SMALL, w.phrase) for w in advs
                    if w.kind == "adv"]
        groups: dict[int, list[Word]] = {}
        for w in advs:
            if w.kind == "num" and is_steps_number(p.tokens, w.start):
                continue
            m = min(ms, key=lambda m: distance(w, m))
            groups.setdefault(id(m), []).append(w)
        for m in ms:
            ws = groups.get(id(m), [])
            nums = [w for w in ws if w.kind == "num"]
            if nums:
                out[id(m)] = (*nums[-1].value, nums[-1].phrase)  # ("num" | "abs" | "mult", x, said)
            elif ws:
                out[id(m)] = combine([w.value for w in ws])
        last_mention = ms[-1] if ms else last_mention
    return out


def apply_op(m: Mention, op: str, strength, c: float,
             recommended: float = DEFAULT_STRENGTH) -> tuple[float, str]:
    """The new value in the concept's own direction (unclamped; the caller clamps and notes).

    An unsaid strength is the attribute's recommended one; adverbs scale from it ("a bit" is
    half of it when the recommendation is the default 0.5). Numbers are taken as said.
    """
    explicit = isinstance(strength, tuple)  # ("num", value) or ("mult", factor)
    s = strength[1] if explicit else strength
    if explicit and strength[0] == "abs":  # "the beard down to 0.2": the value, not a step
        return s, (E.SET if op in (E.MORE, E.LESS, E.TOO_MUCH, E.REMOVE) else op)
    if explicit and strength[0] == "mult":  # "smile 2x": a multiple of the current value
        base = c if c != 0 else recommended
        return base * s, op
    if explicit and op == E.MORE:
        return c + abs(s), op  # "10% more"
    if explicit and op == E.LESS:
        return c - abs(s), op
    if explicit and op == E.SET:
        return s, op
    if m.remove and op == E.SET:
        op = E.REMOVE
    if op == E.REMOVE and s is not None and s <= E.SMALL:
        op = E.LESS
    step = BIG_STEP if s is not None and s >= E.STRONG else STEP
    if s is not None and recommended != DEFAULT_STRENGTH:
        s = min(STRENGTH_MAX, s * recommended / DEFAULT_STRENGTH)
    if op == E.SET:
        base = s if s is not None else recommended
        return (max(base, c + step), op) if m.comparative else (base, op)
    if op == E.MORE:
        return (s if s is not None else recommended) if c == 0 else c + step, op
    if op == E.LESS:
        return (max(0.0, c - step) if c > 0 else c - step), op
    if op == E.TOO_MUCH:
        return (c / 2 if c != 0 else -STEP), op
    if op == E.ZERO:
        return 0.0, op
    return (0.0 if c > 0 else min(c, -(s if s is not None else recommended))), op


def combine(values: list) -> float | None:
    """Combine adverb strengths: small ones win, "very" sharpens them."""
    intens = [v for v in values if v == E.INTENSIFIER]
    real = [v for v in values if v != E.INTENSIFIER]
    small = [v for v in real if v <= E.SMALL]
    if small:
        return E.INTENSIFIED_SMALL if intens else min(small)
    if real:
        top = max(real)
        return E.INTENSIFIED_STRONG if intens and top >= E.STRONG else top
    return E.INTENSIFIER_ALONE if intens else None


def distance(w: Word, m: Mention) -> tuple[int, int]:
    """Token distance from a word to a mention, a following mention winning ties."""
    if w.end <= m.start:
        return m.start - w.end, 0
    return max(0, w.start - m.end), 1
