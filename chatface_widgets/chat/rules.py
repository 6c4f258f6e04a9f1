"""RuleInterpreter: offline slot filling (attribute, strength, steps) from chat text, no model needed.

Built from an EditContract (``RuleInterpreter(contract)``; a list of names still works): the
strength range, each attribute's recommended strength, the step levels and the step check are the
contract's. Strength rules (values are in the attribute's own direction, clamped to the range):

* Unsaid strength → the attribute's recommended strength (its mapper card; else 0.5). Adverbs
  (values for a 0.5 recommendation, scaled by recommended / 0.5 otherwise): slightly / a little /
  a bit / a touch / subtle → 0.25; somewhat / moderately → 0.4; quite → 0.6; very / a lot / much /
  big / strong / heavy / deep → 0.8; extremely / maximum / full / fully / completely → 1.0. "very"
  before a small adverb gives 0.15, before a strong one 1.0.
* Numbers, read one way, and an explicit number wins over adverbs: a plain number is a strength
  on the contract's scale as written ("smile 0.7" → 0.7, "smile 2" → 2, "smile -3" → -3); a
  percentage is divided by 100 ("70%", "70 percent" → 0.7, "1,000%" → 10); a fraction is its
  value ("1/2", "½" → 0.5); a multiplier scales the current value, or the recommended strength
  when the slider is at zero ("2x", "x2": 0.3 → 0.6). Anything outside [-1, 1] is clamped and the
  reply says so ("you asked for 2 ...; strengths run from -1 to 1, so I used 1"). A number next
  to "steps" is a step count instead, checked by the contract's StepPolicy (an invalid count snaps
  to the nearest valid one and the reply says so; below 2 changes nothing and says why).
* "more" / "stronger" / "bigger": current + 0.25 (+ 0.5 with "a lot", "much"); an absent attribute
  starts at 0.5 (or at the adverb's strength: "much more smile" → 0.8).
* "less" / "weaker" / "smaller": current − 0.25 (− 0.5 with "much"), stopping at 0 when current is
  positive; an absent or negative attribute goes further negative ("less smile" on a neutral face → −0.25).
* "too much" / "too strong" / "overdone": halve the current value (−0.25 when it is 0).
* Removal (remove, no, without, get rid of, don't want, take off, not, clean-shaven): 0.0 when the
  current value is positive (undo our own edit); otherwise the opposite direction, −0.5 (−adverb),
  because the photo itself must have it ("remove the glasses" on an unedited photo → eyeglasses −0.5,
  "no smile" on a neutral face → smile −0.5, a serious look). "remove a bit of" acts as "less".
* "reset the smile" / "undo the glasses" → exactly 0.
* Comparatives ("older", "younger", "bigger nose") grow from the current value:
  max(default, current + 0.25). Antonyms flip the sign when the model only has the other side:
  "older" → young −0.5, "woman" → male −0.5, "frown" → smile −0.5, "thin" → chubby −0.5.
* A bare follow-up ("more", "a bit more", "stronger", "less", "too much", "remove it") changes the
  last attribute this interpreter edited, continuing in the direction of its current value
  ("make him frown", then "more" → smile −0.75). Without one it asks back.
* Steps: None keeps the count; the levels are ``contract.steps.levels()`` (fast = the model's
  default, better ≈ 2.5x it, best = 50): "clear" / "sharper" → better (best if already there);
  "high quality" / "best" → best; "fast" / "quick" / "draft" → fast; "use 30 steps" → 30 if valid.

Structure (issue 20): a leading "No." / "Hmm, no," answers the previous turn and is dropped; a
negation with "enough" later in its sentence asks for more ("she doesn't smile enough"); a
determiner + person noun names who is in the photo ("the lady", "my wife", "the old man") and is
not an edit; an adjective on a scene noun ("the sky gray", "blur the background") is not an edit;
ages may be numbers, number words, decades or life stages ("around seventy", "in her sixties",
"a retiree", "add twenty years"); a concept the model lacks uses the nearest available attribute
(``V.NEAREST``: moustache → beard) and the reply says so; with both "young" and "old" sliders one
moves (a live antonym slider is lowered before the other is raised); closings ("all good now,
nothing else") edit nothing.

Only names from ``attributes`` ever appear in ``plan.edits``; a known attribute the model lacks
("give her a hat" without a hat mapper) gets a reply that lists what is available.
"""

from __future__ import annotations

import logging
import math
import numbers
import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Mapping, Sequence

from chatface_widgets.chat import vocabulary as V
from chatface_widgets.chat.base import contract_and_names
from chatface_widgets.chat.plan import Plan, snap_steps
from chatface_widgets.foundation.contract import (DEFAULT_STRENGTH, STRENGTH_MAX, STRENGTH_MIN, EditContract,
                                       normalize_name, quantize)

log = logging.getLogger(__name__)

STEP = 0.25  # the size of one relative change
BIG_STEP = 0.5  # "a lot more"
BOUNDARY_PUNCT = frozenset({".", ",", ";", "!", "?", "&", "+"})
SOFT_BOUNDARIES = frozenset({",", "and", "or", "nor", "&", "+", "plus"})  # lists share their cue
BOUNDARY_WORDS = frozenset({"and", "but", "then", "also", "plus", "while", "or", "nor", "however",
                            "though", "although", "additionally", "afterwards"})
SENTENCE_END = frozenset({".", "!", "?", ";"})
WIDE_FILLERS = V.INTENT_FILLERS | V.STOPWORDS | V.STEP_FILLERS


@dataclass
class _Mention:
    """A phrase that names a concept: tokens [start, end)."""

    start: int
    end: int
    concept: str
    phrase: str
    remove: bool = False  # "clean shaven": removal of the concept
    comparative: bool = False  # "older", "bigger nose": grow from the current value


@dataclass
class _Word:
    """A cue, adverb, step word or number: tokens [start, end)."""

    start: int
    end: int
    kind: str  # "cue", "adv", "steps", "num"
    value: object
    phrase: str


@dataclass
class _Edit:
    """One resolved change, kept for the reply."""

    attr: str
    old: float
    new: float
    op: str
    note: str = ""  # e.g. "asked for 2.0; strengths run from -1 to 1"


@dataclass
class _Parsed:
    """Tokens of one message and what was found in them."""

    tokens: list[str]
    mentions: list[_Mention] = field(default_factory=list)
    words: list[_Word] = field(default_factory=list)
    used: set[int] = field(default_factory=set)
    dropped: list[str] = field(default_factory=list)  # person / scene words that are not edits


def _clamp(x: float) -> float:
    """The contract's strength: clamped to [STRENGTH_MIN, STRENGTH_MAX], rounded to its resolution."""
    return quantize(x)


class RuleInterpreter:
    """Offline interpreter: synonyms, adverbs, relative changes, removal, undo/reset and steps."""

    def __init__(self, contract: "EditContract | Sequence[str] | None" = None,
                 synonyms: Mapping[str, Sequence[str]] | None = None,
                 embedding: "object | bool | None" = None, default_strength: float | None = None,
                 *, attributes: Sequence[str] | None = None):
        self.contract, self.attributes = contract_and_names(contract, synonyms, attributes)
        self.default_strength = DEFAULT_STRENGTH if default_strength is None else float(default_strength)
        # "add X" means the attribute's recommended strength (its mapper card), else the default.
        self._recommended = {a: self.contract.recommended.get(normalize_name(a), self.default_strength)
                             for a in self.attributes}
        self.step_levels = self.contract.steps.levels()  # (fast, better, best) of the model
        self._step_note = ""  # what the last explicit step request needed said
        self._direct: dict[str, tuple[str, float]] = {}
        for attr in self.attributes:
            concept, sign = V.concept_of(attr)
            exact = V.normalise(attr) == V.normalise(concept)
            if concept not in self._direct or exact:
                self._direct[concept] = (attr, sign)
        self._index: dict[tuple[str, ...], tuple[str, str, bool]] = {}
        for concept in self._direct:
            self._add_phrase(concept, concept)
        for concept, phrases in V.CONCEPTS.items():
            for phrase in phrases:
                self._add_phrase(phrase, concept)
        for phrase, concept in V.REMOVAL_PHRASES.items():
            self._add_phrase(phrase, concept, remove=True)
        for phrase, concept in V.LIFE_STAGES.items():
            self._add_phrase(phrase, concept)
        for attr, extra in self.contract.synonyms.items():
            concept = self._concept_of_name(attr)
            for phrase in extra:
                self._add_phrase(phrase, concept, override=True)
        self._max_len = max((len(k) for k in self._index), default=1)
        self._loose = self._loose_pairs()
        self._lexicon = _lexicon()
        self._lexicon_words = {w for key in self._lexicon for w in key}
        self._typo_targets = {}
        for concept in self._direct:
            for phrase in (concept, *V.CONCEPTS.get(concept, ())[:3]):
                if " " not in phrase and len(phrase) >= 5:
                    self._typo_targets.setdefault(phrase, concept)
        self._lex_len = max(len(k) for k in self._lexicon)
        self._embedding = self._make_embedding(embedding)
        self._last: list[tuple[str, float]] = []  # (attribute, direction) of the last edits

    # --- construction -----------------------------------------------------------------------

    def _add_phrase(self, phrase: str, concept: str, remove: bool = False, override: bool = False):
        """Index one synonym phrase by its stemmed tokens (first concept wins unless override)."""
        key = V.phrase_key(phrase)
        if key and (override or key not in self._index):
            self._index[key] = (concept, " ".join(V.tokenize(phrase)), remove)

    def _loose_pairs(self) -> dict[str, dict[str, tuple[str, ...]]]:
        """(adjective stem → head-noun stem → phrase key) for two-word synonyms like "black hair"."""
        pairs: dict[str, dict[str, tuple[str, ...]]] = {}
        for key in self._index:
            if len(key) == 2 and key[1] in V.HEAD_NOUNS and key[0] not in V.HEAD_NOUNS:
                pairs.setdefault(key[0], {}).setdefault(key[1], key)
        return pairs

    def _concept_of_name(self, name: str) -> str:
        """The concept of a contract name (keyed the way the caller spelled the attribute)."""
        for attr in self.attributes:
            if normalize_name(attr) == name:
                return V.concept_of(attr)[0]
        return V.concept_of(name)[0]

    def _make_embedding(self, embedding):
        """An EmbeddingMatcher for this attribute list, when asked for (loaded lazily)."""
        if embedding is None or embedding is False:
            return None
        if embedding is True:
            from chatface_widgets.chat.embedding import EmbeddingMatcher

            return EmbeddingMatcher(self.attributes)
        return embedding

    def __repr__(self) -> str:
        return f"RuleInterpreter(attributes={self.attributes!r})"

    # --- public API -------------------------------------------------------------------------

    def parse(self, text: str, current: Mapping[str, float] | None = None,
              steps: int | None = None) -> Plan:
        """Turn one chat message into a Plan; never raises on odd input."""
        try:
            return self._parse(text, current, steps)
        except Exception:  # a chat box must not crash on any input
            log.exception("rule interpreter failed on a message")
            return Plan.none("Sorry, I could not read that. " + self.capabilities())

    def capabilities(self) -> str:
        """A one-line list of what this interpreter can change."""
        if not self.attributes:
            return "No attributes are loaded, so I cannot edit anything yet."
        return ("I can change: " + ", ".join(self.attributes) +
                ". Say e.g. 'add a little smile', 'remove the glasses', 'a bit more', 'undo', "
                "'reset' or 'sharper' for more decoding steps.")

    def remember(self, edits: Mapping[str, float], current: Mapping[str, float] | None = None):
        """Record edits made elsewhere (the LLM path, the sliders) as the target of follow-ups."""
        current = current or {}
        last = []
        for attr, new in edits.items():
            if attr in self.attributes:
                old = float(current.get(attr, 0.0))
                last.append((attr, _direction(old, new)))
        if last:
            self._last = last

    def match_attribute(self, phrase: str) -> tuple[str, float] | None:
        """(attribute, sign) the rules' matcher gives a free phrase ("mustache" → beard, +1), or None.

        The LLM path uses it to check a name the model wrote that is not in the list.
        """
        p = _Parsed(V.tokenize(str(phrase)[:200]))
        self._find_mentions(p)
        for m in p.mentions:
            target = self._target(m.concept) or self._nearest(m.concept)
            if target is not None:
                return target
        return None

    @property
    def last_edited(self) -> list[str]:
        """The attributes a bare "more" / "less" would change (the last edit's, in order)."""
        return [a for a, _ in self._last]

    def forget(self):
        """Drop the follow-up memory (after a reset)."""
        self._last = []

    # --- parsing ----------------------------------------------------------------------------

    def _parse(self, text: str, current: Mapping[str, float] | None, steps: int | None) -> Plan:
        """The parser proper (see the module docstring for the rules)."""
        current = {str(k): max(STRENGTH_MIN, min(STRENGTH_MAX, float(v)))
                   for k, v in (current or {}).items()
                   if isinstance(v, numbers.Real) and not math.isnan(float(v))}
        self._step_note = ""
        tokens = _strip_answer(V.tokenize(text if isinstance(text, str) else str(text)))
        words_only = [t for t in tokens if t not in V_PUNCT]
        if not words_only:
            return Plan.none("Tell me how to change the face. " + self.capabilities())
        if (_only(words_only, V.THANKS, V.GREETINGS) and not _only(words_only, V.GREETINGS)
                and not _intent(words_only)
                and not any(V.CUES.get(t) in (V.MORE, V.LESS, V.TOO_MUCH) for t in words_only)):
            return Plan.none("You're welcome! " + self.capabilities(), understood=True)  # a closing
        p = _Parsed(tokens)
        self._find_mentions(p)
        self._find_words(p)
        self._drop_cue_mentions(p)
        residual = self._residual(p)
        off_topic = self._off_topic(p)
        if not p.mentions and p.dropped:
            what = ", ".join(dict.fromkeys(p.dropped))
            return Plan.none(f"I can only edit the face itself, not {what}. " + self.capabilities())
        if not p.mentions:
            return self._no_mention(p, residual, off_topic, current, steps)
        if off_topic:
            return Plan.none("I can only edit the face. " + self.capabilities())
        return self._edit(p, current, steps)

    def _find_mentions(self, p: _Parsed):
        """Synonyms over stems: phrases first, then loose pairs ("hair … blond"), then single words."""
        stems = [V.stem(t) for t in p.tokens]
        n = len(stems)
        found = []
        for i in range(n):
            for length in range(min(self._max_len, n - i), 0, -1):
                hit = self._index.get(tuple(stems[i:i + length]))
                if hit:
                    found.append((length, i, hit))
                    break
        found.sort(key=lambda f: (-f[0], f[1]))
        self._take(p, [f for f in found if f[0] > 1])
        self._find_loose(p, stems)
        singles = [f for f in found if f[0] == 1
                   and not (f[1] + 1 < n and stems[f[1] + 1] in V.OTHER_NOUNS)]
        self._take(p, singles)
        self._find_ages(p)
        self._find_typos(p, stems)
        self._find_bare_parts(p, stems)
        self._drop_gender_nouns(p)
        self._drop_person_nouns(p, stems)
        self._drop_scene_words(p, stems)
        p.mentions.sort(key=lambda m: m.start)

    def _drop_person_nouns(self, p: _Parsed, stems: list[str]):
        """"the lady", "my wife", "the old man": a determiner + person noun names who, not an edit."""
        keep = []
        for m in p.mentions:
            last = p.tokens[m.end - 1]
            if last in V.PERSON_NOUNS and m.start > 0 and p.tokens[m.start - 1] in V.DETERMINERS:
                p.dropped.append(" ".join(p.tokens[m.start - 1:m.end]))
                continue
            keep.append(m)
        p.mentions = keep

    def _drop_scene_words(self, p: _Parsed, stems: list[str]):
        """"make the sky gray", "blur the background", "a glass of water": about the scene, not the face."""
        toks, keep = p.tokens, []
        personal = {"him", "her", "his", "he", "she", "hers", "them", "their", "face", "me", "my"}
        for m in p.mentions:
            nxt = [k for k in range(m.end, min(len(toks), m.end + 3)) if toks[k] not in V.DETERMINERS]
            after = stems[nxt[0]] if nxt else ""
            lo = max((k + 1 for k in range(m.start) if toks[k] in BOUNDARY_PUNCT), default=0)
            clause = range(lo, m.start)
            before = any(stems[k] in V.SCENE_NOUNS for k in clause)
            person = any(toks[k] in personal or stems[k] in V.HEAD_NOUNS or toks[k] in V.PERSON_NOUNS
                         for k in range(lo, len(toks)) if not m.start <= k < m.end)
            glass_of = toks[m.start] == "glass" and after == "of"
            if glass_of or (m.end - m.start == 1 and (after in V.SCENE_NOUNS or (before and not person))):
                noun = next((toks[k] for k in [*clause, *nxt] if stems[k] in V.SCENE_NOUNS), toks[m.start])
                p.dropped.append(f"the {noun}")
                continue
            keep.append(m)
        p.mentions = keep

    def _take(self, p: _Parsed, found):
        """Add non-overlapping matches as mentions, longest first."""
        for length, i, (concept, phrase, remove) in found:
            span = range(i, i + length)
            if any(k in p.used for k in span):
                continue
            comparative = any(t in V.COMPARATIVES for t in p.tokens[i:i + length])
            p.mentions.append(_Mention(i, i + length, concept, phrase, remove, comparative))
            p.used.update(span)

    def _find_ages(self, p: _Parsed):
        """"look like he's 70", "make her 20 years old", "in his 60s" → old / young with a strength."""
        toks = p.tokens
        for k, t in enumerate(toks):
            word = V.NUMBER_WORDS.get(t)
            if k in p.used or not (re.fullmatch(r"\d{1,3}", t) or word):
                continue
            age = word or int(t)
            decade = t.endswith("ies") or t == "teens"  # "in her sixties"
            before, after = toks[max(0, k - 2):k], toks[k + 1:k + 3]
            if any(m.concept in ("old", "young") for m in p.mentions):
                continue
            if after[:1] in (["years"], ["year"], ["yrs"]) and (
                    "add" in before or "plus" in before or "take" in toks[max(0, k - 3):k]
                    or "off" in toks[k + 1:k + 5]):  # "add twenty years", "take ten years off"
                concept = "young" if "take" in toks[max(0, k - 3):k] or "off" in toks[k + 1:k + 5] else "old"
                p.mentions.append(_Mention(k, k + 1, concept, t))
                p.used.add(k)
                p.used.update(j for j in range(max(0, k - 3), min(len(toks), k + 5))
                              if toks[j] in ("take", "off", "add", "plus", "years", "year", "yrs"))
                continue
            aged = (decade or after[:1] in (["years"], ["year"], ["yo"], ["yrs"], ["s"], ["again"])
                    or (before and before[-1] in ("s", "is", "aged", "age", "be", "like", "look",
                                                  "looks", "around", "about", "him", "her",
                                                  "them", "me", "turn", "turns", "at")))
            if not aged or not 3 <= age <= 110 or _is_steps_number(toks, k) or "by" in before:
                continue
            younger = "younger" in after or "younger" in toks[k + 1:k + 4]
            older = "older" in toks[k + 1:k + 4]
            if younger or older:
                continue  # "20 years younger": the comparative word carries it
            concept = "old" if age >= 40 else "young"
            strength = min(1.0, (age - 30) / 50) if age >= 40 else min(1.0, (35 - age) / 25)
            p.mentions.append(_Mention(k, k + 1, concept, t))
            p.words.append(_Word(k, k + 1, "adv", round(max(0.25, strength), 2), t))
            p.used.add(k)

    def _find_typos(self, p: _Parsed, stems: list[str]):
        """A free word one typo away from a main synonym ("smle" → smile)."""
        known = set(self._lexicon_words) | V.STOPWORDS | WIDE_FILLERS | V.OFF_TOPIC_WORDS
        for k, t in enumerate(p.tokens):
            if (k in p.used or len(t) < 4 or not t.isalpha() or t in known
                    or stems[k] in V.HEAD_NOUNS or stems[k] in V.OTHER_NOUNS):
                continue
            for word, concept in self._typo_targets.items():
                if word[0] == t[0] and _one_edit(t, word):
                    p.mentions.append(_Mention(k, k + 1, concept, word))
                    p.used.add(k)
                    break

    def _find_bare_parts(self, p: _Parsed, stems: list[str]):
        """"shrink his nose": a bare face part next to a size cue, when nothing else is named."""
        if p.mentions:
            return
        size_cues = {t for t, kind in V.CUES.items() if kind in (V.MORE, V.LESS, V.TOO_MUCH)}
        if not any(t in size_cues for t in p.tokens):
            return
        for k, s in enumerate(stems):
            if k not in p.used and s in V.HEAD_DEFAULTS:
                concept = V.HEAD_DEFAULTS[s]
                p.mentions.append(_Mention(k, k + 1, concept, p.tokens[k]))
                p.used.add(k)

    def _drop_gender_nouns(self, p: _Parsed):
        """"a bald guy": a gender noun right after another mention describes the person."""
        keep = []
        for m in p.mentions:
            if (m.end - m.start == 1 and p.tokens[m.start] in V.GENDER_NOUNS
                    and any(o.end == m.start for o in p.mentions if o is not m)):
                p.used.discard(m.start)
                continue
            keep.append(m)
        p.mentions = keep

    def _find_loose(self, p: _Parsed, stems: list[str]):
        """Pair a free adjective with the nearest noun in its sentence when that is a face part."""
        nouns = [i for i, s in enumerate(stems) if s in V.HEAD_NOUNS or s in V.OTHER_NOUNS]
        for i, s in enumerate(stems):
            if i in p.used or s not in self._loose:
                continue
            best = None
            for j in nouns:
                if j == i or abs(j - i) > 4 or self._crosses_sentence(p.tokens, i, j):
                    continue
                dist = (abs(j - i), 0 if j > i else 1)
                if best is None or dist < best[0]:
                    best = (dist, j)
            if best is None:
                continue
            key = self._loose[s].get(stems[best[1]])
            if key is None:
                continue
            concept, phrase, remove = self._index[key]
            comparative = p.tokens[i] in V.COMPARATIVES
            p.mentions.append(_Mention(i, i + 1, concept, phrase, remove, comparative))
            p.used.add(i)

    @staticmethod
    def _crosses_sentence(tokens: list[str], i: int, j: int) -> bool:
        """Whether a sentence end lies between positions i and j."""
        lo, hi = min(i, j), max(i, j)
        return any(tokens[k] in SENTENCE_END for k in range(lo, hi))

    def _find_words(self, p: _Parsed):
        """Cues, adverbs, step words and numbers on the tokens no mention used."""
        toks, n, i = p.tokens, len(p.tokens), 0
        while i < n:
            if i in p.used:
                i += 1
                continue
            num = _number(toks[i])
            if num is not None:
                p.words.append(_Word(i, i + 1, "num", num, toks[i]))
                i += 1
                continue
            for length in range(min(self._lex_len, n - i), 0, -1):
                if any(k in p.used for k in range(i, i + length)):
                    continue
                key = tuple(toks[i:i + length])
                entries = self._lexicon.get(key)
                if entries:
                    phrase = " ".join(key)
                    for kind, value in entries:
                        if kind == "cue" and phrase == "too":
                            value = self._too(toks, i)
                            if value is None:
                                continue
                        p.words.append(_Word(i, i + length, kind, value, phrase))
                    i += length
                    break
            else:
                i += 1
        p.words.sort(key=lambda w: w.start)
        self._negate_set_cues(p)

    @staticmethod
    def _too(toks: list[str], i: int):
        """"too" + weak word → more; + also-word or nothing → ignored; else too much."""
        nxt = toks[i + 1] if i + 1 < len(toks) else None
        if nxt is None or nxt in V.TOO_ALSO_WORDS or nxt in V_PUNCT:
            return None
        return V.MORE if nxt in V.TOO_WEAK_WORDS else V.TOO_MUCH

    @staticmethod
    def _negate_set_cues(p: _Parsed):
        """"don't add glasses": a set cue right after a negation becomes removal.

        "she doesn't smile enough", "not blue enough": a negation with "enough" later in its
        sentence is a complaint that asks for more, and its scope ends there.
        """
        cues = [w for w in p.words if w.kind == "cue"]
        toks = p.tokens
        for w in cues:
            if w.phrase in V.NEGATIONS:
                end = next((k for k in range(w.end, len(toks)) if toks[k] in SENTENCE_END), len(toks))
                if "enough" in toks[w.end:end]:
                    w.value = V.MORE
                    for o in cues:  # "doesn't look old enough": the set cue keeps its meaning
                        if o is not w and w.end <= o.start < end and o.value == V.REMOVE:
                            o.value = V.SET
        for a, b in zip(cues, cues[1:]):
            if a.phrase in V.NEGATIONS and a.value == V.REMOVE and b.value == V.SET and b.start - a.end <= 2:
                b.value = V.REMOVE

    def _drop_cue_mentions(self, p: _Parsed):
        """A one-word mention that is also a cue ("thinner") yields to another mention nearby."""
        if len(p.mentions) < 2:
            return
        keep = []
        for m in p.mentions:
            word = p.tokens[m.start]
            if (m.end - m.start == 1 and word in V.CUES
                    and any(o is not m and not self._split(p.tokens, o, m) for o in p.mentions)):
                p.used.discard(m.start)
                p.words.append(_Word(m.start, m.end, "cue", V.CUES[word], word))
                continue
            keep.append(m)
        p.mentions = keep
        p.words.sort(key=lambda w: w.start)

    @staticmethod
    def _split(tokens: list[str], a, b) -> bool:
        """Whether a clause boundary separates two spans."""
        lo, hi = (a, b) if a.start < b.start else (b, a)
        return any(tokens[k] in BOUNDARY_PUNCT or tokens[k] in BOUNDARY_WORDS
                   for k in range(lo.end, hi.start))

    def _residual(self, p: _Parsed) -> list[str]:
        """Content words that are neither mentions, cues, adverbs, step words nor fillers."""
        covered = set(p.used)
        for w in p.words:
            covered.update(range(w.start, w.end))
        return [t for k, t in enumerate(p.tokens) if k not in covered and t not in V_PUNCT
                and t not in WIDE_FILLERS and t not in V.REFERENCE_WORDS]

    def _off_topic(self, p: _Parsed) -> bool:
        """A question or request about something else (no edit verb)."""
        toks = [t for t in p.tokens if t not in V_PUNCT]
        free = [t for k, t in enumerate(p.tokens) if k not in p.used]
        has_verb = any(t in V.QUESTION_OVERRIDE_VERBS for t in toks)
        if any(t in V.HARD_OFF_TOPIC for t in free):
            return True
        if any(t in V.OFF_TOPIC_WORDS for t in free) and not (has_verb and p.mentions):
            return True
        starts = any(tuple(toks[:len(q)]) == q for q in V.QUESTION_STARTS)
        return starts and not has_verb

    # --- messages without an attribute -------------------------------------------------------

    def _no_mention(self, p: _Parsed, residual: list[str], off_topic: bool,
                    current: dict[str, float], steps: int | None) -> Plan:
        """Undo/redo/reset, follow-ups, steps, greetings, help, or a helpful refusal."""
        toks = [t for t in p.tokens if t not in V_PUNCT]
        intent = _intent(toks)
        if intent:
            return self._intent_plan(intent)
        if _only(toks, V.HELP_PHRASES, V.GREETINGS):
            return Plan.none(self.capabilities(), understood=True)
        if off_topic:
            return Plan.none("I can only edit the face. " + self.capabilities())
        cues = [w for w in p.words if w.kind == "cue" and w.value not in (V.SET, V.KEEP)]
        new_steps = self._steps(p, steps)
        chatter = [t for t in residual if t not in V.DISCOURSE]
        if cues and not chatter:
            return self._follow_up(p, cues, current, new_steps)
        if _only(toks, V.GREETINGS):
            return Plan.none("Hi! " + self.capabilities(), understood=True)
        if _only(toks, V.THANKS, V.GREETINGS):
            return Plan.none("You're welcome! " + self.capabilities(), understood=True)
        if self._step_note and new_steps is None and not residual:
            return Plan.none(self._step_note, understood=True)
        if new_steps is not None and not residual:
            if self._step_note:
                return Plan(steps=new_steps, action="edit", reply=self._step_note)
            return Plan(steps=new_steps, action="edit",
                        reply=_steps_reply(new_steps, steps, self.step_levels[0]))
        if self._embedding is not None and residual:
            hit = self._embed(p, residual)
            if isinstance(hit, Plan):
                return hit
            if hit is not None:
                return self._edit(p, current, steps)
        if residual:
            what = " ".join(residual[:4])
            return Plan.none(f"Sorry, I can't change “{what}”. " + self.capabilities())
        return Plan.none("I'm not sure what to change. " + self.capabilities())

    def _intent_plan(self, intent: str) -> Plan:
        """Undo, redo or reset."""
        if intent == "reset":
            self.forget()
            return Plan(action="reset", reply="Back to the original photo: all edits cleared.")
        if intent == "undo":
            return Plan(action="undo", reply="Undid the last change.")
        return Plan(action="redo", reply="Redid the change.")

    def _follow_up(self, p: _Parsed, cues: list[_Word], current: dict[str, float],
                   new_steps: int | None) -> Plan:
        """A bare "more" / "less" / "too much" / "remove it": change the last edited attribute."""
        target = self._last[-1] if self._last else None
        if target is None or target[0] not in self.attributes:
            live = [(a, v) for a, v in current.items() if a in self.attributes and v != 0.0]
            if len(live) != 1:
                state = ", ".join(f"{a} {v:+.2f}" for a, v in live) or "nothing yet"
                return Plan.none(f"Which attribute do you mean? Currently: {state}. "
                                 + self.capabilities())
            target = (live[0][0], 1.0 if live[0][1] > 0 else -1.0)
        attr, last_dir = target
        old = float(current.get(attr, 0.0))
        d = (1.0 if old > 0 else -1.0) if old != 0.0 else (last_dir or 1.0)
        op = cues[-1].value
        size = _combine([w.value for w in p.words if w.kind == "adv"])
        step = BIG_STEP if size is not None and size >= V.STRONG else STEP
        if op == V.MORE:
            new = old + d * step
        elif op == V.LESS:
            new = max(0.0, old - step) if old > 0 else min(0.0, old + step) if old < 0 else -d * STEP
        elif op == V.TOO_MUCH:
            new = old / 2 if old != 0.0 else -d * STEP
        elif op == V.ZERO:
            new = 0.0
        else:  # removal
            new = 0.0 if old * d > 0 else -d * self._recommended.get(attr, DEFAULT_STRENGTH)
        e = _Edit(attr, old, _clamp(new), op)
        return self._finish([e], [], new_steps, None)

    def _embed(self, p: _Parsed, residual: list[str]):
        """Ask the embedding matcher for the nearest attribute; add it as a mention or ask back."""
        phrase = " ".join(residual)
        try:
            attr, score, sure = self._embedding.match(phrase)
        except Exception as err:  # a missing or broken model must not break the chat
            log.warning("embedding matcher unavailable: %s", type(err).__name__)
            return None
        if attr is None:
            return None
        if not sure:
            return Plan.none(f"Did you mean “{attr}”? Say e.g. 'add {attr}'. " + self.capabilities())
        idx = next(k for k, t in enumerate(p.tokens) if t == residual[0])
        p.mentions.append(_Mention(idx, idx + 1, V.concept_of(attr)[0], attr))
        p.used.add(idx)
        return attr

    # --- messages with attributes ------------------------------------------------------------

    def _edit(self, p: _Parsed, current: dict[str, float], steps: int | None) -> Plan:
        """Resolve every mention to an attribute change, then build the reply."""
        segments = self._segments(p)
        ops = self._assign_ops(p, segments)
        strengths = self._assign_strengths(p, segments)
        edits: dict[str, _Edit] = {}
        missing: list[str] = []
        new_steps = self._steps(p, steps)
        removed = {m.concept for m in p.mentions if m.remove}
        kept: list[str] = []
        instead: list[str] = []
        for m in p.mentions:
            target = self._target(m.concept)
            if target is None:
                target = self._nearest(m.concept)
                if target is not None:
                    note = f"{m.concept[:1].upper() + m.concept[1:]} isn't available; used {target[0]} instead."
                    if note not in instead:
                        instead.append(note)
            else:
                target = self._antonym_slider(m.concept, target, current)
            op = ops[id(m)]
            if op == V.SET and m.concept in removed:
                op = V.REMOVE
            if op == V.KEEP:
                if target is not None and target[0] not in kept:
                    kept.append(target[0])
                continue
            if target is None:
                if m.concept == "blurry" and op in (V.REMOVE, V.LESS, V.ZERO):
                    new_steps = new_steps or self._level_up(steps)
                elif m.concept not in missing:
                    missing.append(m.concept)
                continue
            attr, sign = target
            old = float(current.get(attr, 0.0))
            c = max(-1.0, min(1.0, old / sign))
            new_c, op = self._apply_op(m, op, strengths.get(id(m)), c, self._recommended[attr])
            edits.pop(attr, None)
            said = strengths.get(id(m))
            note = _range_note(new_c * sign, said[2]) if isinstance(said, tuple) else ""
            edits[attr] = _Edit(attr, old, _clamp(new_c * sign), op, note)
        for attr in kept:
            edits.pop(attr, None)
        if not edits and new_steps is None and kept and not missing:
            return Plan.none(f"OK, keeping the {', '.join(kept)} as they are.", understood=True)
        return self._finish(list(edits.values()), missing, new_steps, steps, instead)

    def _nearest(self, concept: str) -> tuple[str, float] | None:
        """(attribute, sign) of the nearest available attribute (V.NEAREST), or None."""
        for other, sign in V.NEAREST.get(concept, ()):
            target = self._target(other)
            if target is not None:
                return target[0], sign * target[1]
        return None

    def _antonym_slider(self, concept: str, target: tuple[str, float],
                        current: Mapping[str, float]) -> tuple[str, float]:
        """With both "young" and "old" sliders, "younger" lowers a live "old" instead of adding "young".

        One slider moves, never both; the one already in use wins when the asked one is at zero.
        """
        if current.get(target[0], 0.0) != 0.0:
            return target
        for other, sign in V.FALLBACKS.get(concept, ()):
            if sign < 0 and other in self._direct:
                attr, s2 = self._direct[other]
                if attr != target[0] and current.get(attr, 0.0) * s2 > 0:
                    return attr, sign * s2
        return target

    def _apply_op(self, m: _Mention, op: str, strength, c: float,
                  recommended: float = DEFAULT_STRENGTH) -> tuple[float, str]:
        """The new value in the concept's own direction (unclamped; the caller clamps and notes).

        An unsaid strength is the attribute's recommended one; adverbs scale from it ("a bit" is
        half of it when the recommendation is the default 0.5). Numbers are taken as said.
        """
        explicit = isinstance(strength, tuple)  # ("num", value) or ("mult", factor)
        s = strength[1] if explicit else strength
        if explicit and strength[0] == "mult":  # "smile 2x": a multiple of the current value
            base = c if c != 0 else recommended
            return base * s, op
        if explicit and op == V.MORE:
            return c + abs(s), op  # "10% more"
        if explicit and op == V.LESS:
            return c - abs(s), op
        if explicit and op == V.SET:
            return s, op
        if m.remove and op == V.SET:
            op = V.REMOVE
        if op == V.REMOVE and s is not None and s <= V.SMALL:
            op = V.LESS
        step = BIG_STEP if s is not None and s >= V.STRONG else STEP
        if s is not None and recommended != DEFAULT_STRENGTH:
            s = min(STRENGTH_MAX, s * recommended / DEFAULT_STRENGTH)
        if op == V.SET:
            base = s if s is not None else recommended
            return (max(base, c + step), op) if m.comparative else (base, op)
        if op == V.MORE:
            return (s if s is not None else recommended) if c == 0 else c + step, op
        if op == V.LESS:
            return (max(0.0, c - step) if c > 0 else c - step), op
        if op == V.TOO_MUCH:
            return (c / 2 if c != 0 else -STEP), op
        if op == V.ZERO:
            return 0.0, op
        return (0.0 if c > 0 else min(c, -(s if s is not None else recommended))), op

    def _target(self, concept: str) -> tuple[str, float] | None:
        """(attribute, sign) that expresses a concept in this model, or None."""
        if concept in self._direct:
            return self._direct[concept]
        for other, sign in V.FALLBACKS.get(concept, ()):
            if other in self._direct:
                attr, s2 = self._direct[other]
                return attr, sign * s2
        return None

    def _segments(self, p: _Parsed) -> list[tuple[int, int, str]]:
        """Clauses as (start, end, boundary-before) split at punctuation and conjunctions."""
        inside = set()
        for m in p.mentions:
            inside.update(range(m.start, m.end))
        for w in p.words:
            inside.update(range(w.start + 1, w.end))
        segs, start, before, run = [], 0, "", []
        for k, t in enumerate(p.tokens):
            if k not in inside and (t in BOUNDARY_PUNCT or t in BOUNDARY_WORDS):
                if k > start:
                    segs.append((start, k, before))
                    run = []
                run.append(t)
                hard = [x for x in run if x not in SOFT_BOUNDARIES]
                before = hard[-1] if hard else t
                start = k + 1
        if start < len(p.tokens):
            segs.append((start, len(p.tokens), before))
        return segs

    def _assign_ops(self, p: _Parsed, segments) -> dict[int, str]:
        """Each mention's operation: nearest cue before it, else a postfix cue after it, else inherited."""
        ops: dict[int, str] = {}
        how: dict[int, str] = {}  # "prefix", "postfix", "set", "none"
        seg_of = []
        for s, e, before in segments:
            ms = [m for m in p.mentions if s <= m.start < e]
            cues = [w for w in p.words if w.kind == "cue" and s <= w.start < e]
            seg_of.append((ms, cues, before))
            for m in ms:
                prev = [c for c in cues if c.end <= m.start and c.phrase not in V.POSTFIX_ONLY]
                if prev and prev[-1].value != V.SET:
                    ops[id(m)], how[id(m)] = prev[-1].value, "prefix"
                    continue
                later = [c for c in cues if c.start >= m.end
                         and not any(o.start >= m.end and o.end <= c.start for o in ms)
                         and (c.phrase in V.POSTFIX_CUES or (c.phrase in V.POSTFIX_FINAL
                                                             and not any(o.start >= c.end for o in ms)))]
                if later:
                    ops[id(m)], how[id(m)] = later[0].value, "postfix"
                else:
                    ops[id(m)], how[id(m)] = V.SET, ("set" if prev or cues else "none")
        # "the glasses are distracting, take them off": a clause with only a cue acts on the last one.
        for k in range(1, len(seg_of)):
            ms, cues, _ = seg_of[k]
            pms = seg_of[k - 1][0]
            strong = [c for c in cues if c.value not in (V.SET, V.KEEP)]
            s, e, _ = segments[k]
            qualifier = (all(c.phrase in V.NEGATIONS for c in strong)
                         and any(w.kind == "adv" and s <= w.start < e for w in p.words))
            if (not ms and strong and pms and not qualifier
                    and all(how[id(m)] in ("set", "none") for m in pms)):
                for m in pms:
                    ops[id(m)], how[id(m)] = strong[0].value, "postfix"
        # "remove the glasses and beard": a clause with no cue continues the list's operation.
        for k in range(1, len(seg_of)):
            ms, cues, before = seg_of[k]
            pms = seg_of[k - 1][0]
            if ms and pms and not cues and before in SOFT_BOUNDARIES:
                has_adv = any(w.kind in ("adv", "num") and segments[k][0] <= w.start < segments[k][1]
                              for w in p.words)
                prev_op = ops[id(pms[-1])]
                if prev_op != V.SET and not has_adv:
                    for m in ms:
                        ops[id(m)] = prev_op
        # "make the smile and the beard stronger": a list shares a trailing postfix cue.
        for k in range(len(seg_of) - 2, -1, -1):
            ms, cues, _ = seg_of[k]
            nms, ncues, nbefore = seg_of[k + 1]
            if (ms and nms and nbefore in SOFT_BOUNDARIES
                    and all(how[id(m)] in ("set", "none") for m in ms)
                    and all(c.value != V.SET for c in ncues)
                    and how[id(nms[0])] == "postfix"
                    and not any(c.value != V.SET for c in cues)):
                for m in ms:
                    ops[id(m)] = ops[id(nms[0])]
                    how[id(m)] = "postfix"
        self._swaps(p, segments, ops)
        return ops

    @staticmethod
    def _swaps(p: _Parsed, segments, ops: dict[int, str]):
        """"swap the black hair for blond", "from brown to gray", "blond instead of black"."""
        toks = p.tokens
        for s, e, _ in segments:
            ms = [m for m in p.mentions if s <= m.start < e]
            for a, b in zip(ms, ms[1:]):
                between = toks[a.end:b.start]
                before = toks[s:a.start]
                verbs = [k for k, t in enumerate(before) if t in V.SWAP_LINKS]
                links = V.SWAP_LINKS[before[verbs[-1]]] if verbs else ()
                free = verbs and not any(t in links for t in before[verbs[-1] + 1:])
                if free and any(t in links for t in between):
                    if ops[id(a)] == V.SET:
                        ops[id(a)] = V.REMOVE
                elif any(tuple(between[i:i + len(q)]) == q for q in V.INSTEAD
                         for i in range(len(between))):
                    if ops[id(b)] == V.SET:
                        ops[id(b)] = V.REMOVE

    def _assign_strengths(self, p: _Parsed, segments) -> dict[int, object]:
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
                w.kind == "cue" and w.phrase in V.NEGATIONS and s <= w.start < e for w in p.words)
            if negated:  # "a smile, but not a huge one"
                advs = [_Word(w.start, w.end, "adv", V.SMALL, w.phrase) for w in advs
                        if w.kind == "adv"]
            groups: dict[int, list[_Word]] = {}
            for w in advs:
                if w.kind == "num" and _is_steps_number(p.tokens, w.start):
                    continue
                m = min(ms, key=lambda m: _distance(w, m))
                groups.setdefault(id(m), []).append(w)
            for m in ms:
                ws = groups.get(id(m), [])
                nums = [w for w in ws if w.kind == "num"]
                if nums:
                    out[id(m)] = (*nums[-1].value, nums[-1].phrase)  # ("num" | "mult", x, said)
                elif ws:
                    out[id(m)] = _combine([w.value for w in ws])
            last_mention = ms[-1] if ms else last_mention
        return out

    # --- steps --------------------------------------------------------------------------------

    def _steps(self, p: _Parsed, steps: int | None) -> int | None:
        """Decoding steps asked for: an explicit count, or a quality / speed word."""
        toks = p.tokens
        self._step_note = ""
        for w in p.words:
            if w.kind == "num" and _is_steps_number(toks, w.start):
                return self._explicit_steps(w.phrase)
        levels = [w.value for w in p.words if w.kind == "steps"]
        if not levels:
            return None
        if "min" in levels and "max" not in levels:
            return self.step_levels[0]
        if "max" in levels:
            return self.step_levels[-1]
        return self._level_up(steps)

    def _explicit_steps(self, phrase: str) -> int | None:
        """A step count the user named, checked by the contract's StepPolicy.

        An invalid count snaps to the nearest valid one within the policy's bound, and the reply
        says so; a count below 2 changes nothing and the reply gives the policy's error.
        """
        policy = self.contract.steps
        try:
            asked = float(phrase.rstrip("%").replace("−", "-"))
        except ValueError:
            return None
        if not math.isfinite(asked) or asked < 2:
            try:
                policy.check(int(asked) if math.isfinite(asked) else -1)
            except ValueError as err:
                self._step_note = f"Steps unchanged: {err}."
            return None
        try:
            return policy.check(int(asked)) if asked.is_integer() else policy.check(asked)
        except ValueError:
            top = policy.maximum if policy.maximum is not None else 1000
            snapped = snap_steps(int(round(asked)), 2, top)
            if policy.maximum is not None and snapped > policy.maximum:
                snapped = max(c for c in policy.choices(policy.maximum))
            fast, better, best = self.step_levels
            self._step_note = (f"{phrase} steps is not a valid count here; using {snapped} "
                               f"(the usual choices are {fast}, {better} and {best}).")
            return snapped

    def _level_up(self, steps: int | None) -> int:
        """The next quality level above the current step count (the model's fast → better → best)."""
        cur = steps if steps is not None else self.step_levels[0]
        return next((lv for lv in self.step_levels if lv > cur), self.step_levels[-1])

    # --- reply --------------------------------------------------------------------------------

    def _finish(self, edits: list[_Edit], missing: list[str], new_steps: int | None,
                old_steps: int | None, instead: Sequence[str] = ()) -> Plan:
        """Build the Plan and its reply: what was done, what was not available, what was used instead."""
        parts = [_describe(e) + (f" ({e.note})" if e.note else "") for e in edits]
        parts.extend(instead)
        if new_steps is not None:
            parts.append(_steps_reply(new_steps, old_steps, self.step_levels[0]))
        if self._step_note:
            parts.append(self._step_note)
        if missing:
            names = ", ".join(missing)
            verb = "isn't" if len(missing) == 1 else "aren't"
            parts.append(f"{names[:1].upper() + names[1:]} {verb} available with this model. "
                         + (self.capabilities() if not edits else
                            "Available: " + ", ".join(self.attributes) + "."))
        if not edits and new_steps is None:
            return Plan.none(" ".join(parts) or self.capabilities())
        if edits:
            self._last = [(e.attr, _direction(e.old, e.new)) for e in edits]
        return Plan(edits={e.attr: e.new for e in edits}, steps=new_steps, reply=" ".join(parts),
                    action="edit", understood=True)


# --- helpers -------------------------------------------------------------------------------------

V_PUNCT = BOUNDARY_PUNCT


@lru_cache(maxsize=1)
def _lexicon() -> dict[tuple[str, ...], list[tuple[str, object]]]:
    """Cue, adverb and step phrases by token tuple (shared by all interpreters)."""
    lex: dict[tuple[str, ...], list[tuple[str, object]]] = {}
    for kind, table in (("cue", V.CUES), ("adv", V.ADVERBS), ("steps", V.STEP_WORDS)):
        for phrase, value in table.items():
            lex.setdefault(tuple(V.tokenize(phrase)), []).append((kind, value))
    return lex


def _number(token: str) -> tuple[str, float] | None:
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


def _range_note(value: float, said: str) -> str:
    """A word for the reply when a strength the user gave as a number was clamped to the range."""
    if STRENGTH_MIN <= value <= STRENGTH_MAX or not math.isfinite(value):
        return ""
    return (f"you asked for {said} = {value:g}; strengths run from {STRENGTH_MIN:g} to "
            f"{STRENGTH_MAX:g}, so I used {_clamp(value):g}")


def _is_steps_number(tokens: list[str], k: int) -> bool:
    """Whether the number at k counts decoding steps ("30 steps", "steps 30", "t 30")."""
    after = tokens[k + 1:k + 3]
    before = tokens[max(0, k - 2):k]
    names = {"step", "steps", "timesteps", "timestep", "iterations", "iteration", "ddim"}
    if after[:1] and after[0] in names or after[:2] in (["time", "steps"], ["denoising", "steps"]):
        return True
    return bool(before) and (before[-1] in names | {"t"}
                             or before[-2:] in (["steps", "to"], ["steps", "of"], ["step", "count"]))


def _one_edit(a: str, b: str) -> bool:
    """Whether a and b differ by one insertion, deletion, substitution or adjacent swap."""
    if a == b or abs(len(a) - len(b)) > 1:
        return False
    if len(a) == len(b):
        diff = [k for k in range(len(a)) if a[k] != b[k]]
        return len(diff) == 1 or (len(diff) == 2 and diff[1] == diff[0] + 1
                                  and a[diff[0]] == b[diff[1]] and a[diff[1]] == b[diff[0]])
    short, long_ = (a, b) if len(a) < len(b) else (b, a)
    k = next((k for k in range(len(short)) if short[k] != long_[k]), len(short))
    return short[k:] == long_[k + 1:]


def _combine(values: list) -> float | None:
    """Combine adverb strengths: small ones win, "very" sharpens them."""
    intens = [v for v in values if v == V.INTENSIFIER]
    real = [v for v in values if v != V.INTENSIFIER]
    small = [v for v in real if v <= V.SMALL]
    if small:
        return V.INTENSIFIED_SMALL if intens else min(small)
    if real:
        top = max(real)
        return V.INTENSIFIED_STRONG if intens and top >= V.STRONG else top
    return V.INTENSIFIER_ALONE if intens else None


def _distance(w: _Word, m: _Mention) -> tuple[int, int]:
    """Token distance from a word to a mention, a following mention winning ties."""
    if w.end <= m.start:
        return m.start - w.end, 0
    return max(0, w.start - m.end), 1


def _direction(old: float, new: float) -> float:
    """+1 or −1: the way an edit moved (the sign of the new value when it did not move)."""
    if new != old:
        return 1.0 if new > old else -1.0
    return 1.0 if new >= 0 else -1.0


_INTENTS: dict[tuple[str, ...], str] = {}
for _action, _phrases in (("redo", V.REDO_PHRASES), ("undo", V.UNDO_PHRASES),
                          ("reset", V.RESET_PHRASES)):
    for _p in _phrases:
        _INTENTS[tuple(V.tokenize(_p))] = _action


def _intent(toks: list[str]) -> str | None:
    """undo / redo / reset when the message is one of those phrases plus filler words."""
    best = None
    for i in range(len(toks)):
        for j in range(min(len(toks), i + 8), i, -1):
            action = _INTENTS.get(tuple(toks[i:j]))
            if action and (best is None or j - i > best[1] - best[0]):
                best = (i, j, action)
                break
    if best is None:
        return None
    i, j, action = best
    rest = [t for k, t in enumerate(toks) if not i <= k < j and t not in WIDE_FILLERS]
    if action == "undo" and toks[i:j] in (["no"], ["nope"], ["nah"], ["no", "no"]) and len(toks) > j - i:
        return None  # "no" only means undo on its own
    return None if rest else action


@lru_cache(maxsize=None)
def _phrase_set(*tables: tuple[str, ...]) -> frozenset[tuple[str, ...]]:
    """Token tuples of the phrases in some vocabulary tables."""
    return frozenset(tuple(V.tokenize(p)) for table in tables for p in table)


def _only(toks: list[str], *tables: tuple[str, ...]) -> bool:
    """Whether the message is made of phrases from these tables plus filler words."""
    phrases = _phrase_set(*tables)
    i, n, hit = 0, len(toks), False
    while i < n:
        for j in range(min(n, i + 6), i, -1):
            if tuple(toks[i:j]) in phrases:
                hit, i = True, j
                break
        else:
            if toks[i] not in WIDE_FILLERS:
                return False
            i += 1
    return hit


def _fmt(x: float) -> str:
    """A strength for a reply: 0.8, 0.25, -0.5, 1.0."""
    text = f"{x:.2f}"
    return text[:-1] if text.endswith("0") else text


def _describe(e: _Edit) -> str:
    """One short sentence about one edit."""
    v = _fmt(e.new)
    if e.op == V.ZERO or (e.new == 0.0 and e.old != 0.0):
        plain = e.op != V.ZERO and e.attr not in V.POSITIVE_LABELS
        return f"Removed the {e.attr}." if plain else f"Removed the {e.attr} edit."
    if e.op == V.REMOVE:
        return f"Removed the {e.attr} ({v})."
    if e.new == e.old and e.new != 0.0:
        edge = (" (the maximum)" if e.new >= STRENGTH_MAX else " (the minimum)" if e.new <= STRENGTH_MIN
                else "")
        return f"{e.attr[:1].upper() + e.attr[1:]} is already at {v}{edge}."
    if e.op in (V.MORE, V.LESS, V.TOO_MUCH) or (e.old != 0.0 and e.new != e.old):
        word = "More" if e.new > e.old else "Less"
        return f"{word} {e.attr}: {_fmt(e.old)} → {v}."
    if e.new == e.old:
        edge = (" (the maximum)" if e.new >= STRENGTH_MAX else " (the minimum)" if e.new <= STRENGTH_MIN
                else "")
        return f"{e.attr[:1].upper() + e.attr[1:]} is already at {v}{edge}."
    if e.new < 0:
        opposite = V.NEGATIVE_LABELS.get(e.attr)
        return f"Gave {opposite} ({e.attr} {v})." if opposite else f"Less {e.attr} ({v})."
    if e.attr in V.POSITIVE_LABELS:
        return f"Gave {V.POSITIVE_LABELS[e.attr]} ({e.attr} {v})."
    size = ("a subtle " if e.new <= 0.3 else "a light " if e.new <= 0.45 else
            "" if e.new <= 0.6 else "a strong " if e.new <= 0.9 else "maximum ")
    if e.attr in V.ARTICLE_A and size in ("", "a strong "):
        size = "a " if size == "" else "a big "
    elif e.attr not in V.ARTICLE_A and size.startswith("a "):
        size = size[2:]
    return f"Added {size}{e.attr} ({v})."


def _steps_reply(new: int, old: int | None, fast: int = 8) -> str:
    """A sentence about the decoding steps (``fast``: the model's default count)."""
    if new <= fast:
        return f"Using {new} steps (fast)."
    return f"Using {new} decoding steps for a clearer result."


_ANSWERS = frozenset({"no", "nope", "nah", "hmm", "hm", "hmmm", "well", "ok", "okay", "actually",
                      "wait", "oh", "ah", "um", "uh"})
_NO = frozenset({"no", "nope", "nah"})


def _strip_answer(toks: list[str]) -> list[str]:
    """Drop a leading "No." / "Hmm, no," that answers the previous turn ("No. Make her smile.").

    It only goes when punctuation closes it and a request follows; "no glasses" keeps its "no".
    """
    k, cut = 0, 0
    while k < len(toks) and (toks[k] in _ANSWERS or toks[k] in BOUNDARY_PUNCT):
        if toks[k] in BOUNDARY_PUNCT and any(t in _NO for t in toks[:k]):
            cut = k + 1
        k += 1
    rest = toks[cut:]
    return rest if cut and any(t not in BOUNDARY_PUNCT for t in rest) else toks
