"""Mentions: the attribute words of the model found in a message (synonyms, loose pairs, ages, typos)."""

from __future__ import annotations

import re
from bisect import bisect_left
from functools import lru_cache
from typing import Mapping, Sequence

from chatface_widgets.chat import vocabulary as V
from chatface_widgets.chat import words_en as E
from chatface_widgets.chat.clauses import crosses_sentence, split
from chatface_widgets.chat.normalise import normalise, stem, tokenize
from chatface_widgets.chat.parsed import COMPARED, FACT, REQUESTED, Mention, Parsed, Word
from chatface_widgets.chat.steps import is_steps_number
from chatface_widgets.foundation.contract import normalize_name


class MentionFinder:
    """The model's attribute words indexed for one attribute list, and the search over a message."""

    def __init__(self, attributes: Sequence[str], synonyms: Mapping[str, Sequence[str]]):
        self.attributes = list(attributes)
        self._direct: dict[str, tuple[str, float]] = {}
        for attr in self.attributes:
            concept, sign = V.concept_of(attr)
            exact = normalise(attr) == normalise(concept)
            if concept not in self._direct or exact:
                self._direct[concept] = (attr, sign)
        self._index: dict[tuple[str, ...], tuple[str, str, bool]] = {}
        self._spelled: set[str] = set()  # every word of every attribute phrase: the targets of typos
        for concept in self._direct:
            self._add_phrase(concept, concept)
        for concept, phrases in V.CONCEPTS.items():
            for phrase in phrases:
                self._add_phrase(phrase, concept)
        for phrase, concept in V.REMOVAL_PHRASES.items():
            self._add_phrase(phrase, concept, remove=True)
        for phrase, concept in V.LIFE_STAGES.items():
            self._add_phrase(phrase, concept)
        for attr, extra in synonyms.items():
            concept = self._concept_of_name(attr)
            for phrase in extra:
                self._add_phrase(phrase, concept, override=True)
        self._max_len = max((len(k) for k in self._index), default=1)
        self._loose = self._loose_pairs()
        english_words()  # built once here, not in the first parse
        self._near: dict[str, list[str]] = {}  # a word, or it less one letter → the words it came from
        for word in self._spelled:
            for key in (word, *deletions(word)):
                self._near.setdefault(key, []).append(word)

    def _add_phrase(self, phrase: str, concept: str, remove: bool = False, override: bool = False):
        """Index one synonym phrase by its stemmed tokens (first concept wins unless override)."""
        key = V.phrase_key(phrase)
        if key and (override or key not in self._index):
            self._index[key] = (concept, " ".join(tokenize(phrase)), remove)
        self._spelled.update(t for t in tokenize(phrase) if len(t) >= 4 and t.isalpha())

    def _loose_pairs(self) -> dict[str, dict[str, tuple[str, ...]]]:
        """(adjective stem → head-noun stem → phrase key) for two-word synonyms like "black hair"."""
        pairs: dict[str, dict[str, tuple[str, ...]]] = {}
        for key in self._index:
            if len(key) == 2 and key[1] in E.HEAD_NOUNS and key[0] not in E.HEAD_NOUNS:
                pairs.setdefault(key[0], {}).setdefault(key[1], key)
        return pairs

    def _concept_of_name(self, name: str) -> str:
        """The concept of a contract name (keyed the way the caller spelled the attribute)."""
        for attr in self.attributes:
            if normalize_name(attr) == name:
                return V.concept_of(attr)[0]
        return V.concept_of(name)[0]

    def find(self, p: Parsed):
        """Synonyms over stems: phrases first, then loose pairs ("hair … blond"), then single words."""
        self.correct_spelling(p)
        stems = [stem(t) for t in p.tokens]
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
                   and not (f[1] + 1 < n and stems[f[1] + 1] in E.OTHER_NOUNS)]
        self._take(p, singles)
        self._find_ages(p)
        self._find_bare_parts(p, stems)
        self._drop_gender_nouns(p)
        self._drop_person_nouns(p, stems)
        self._drop_scene_words(p, stems)
        p.mentions.sort(key=lambda m: m.start)

    def _drop_person_nouns(self, p: Parsed, stems: list[str]):
        """"the lady", "my wife", "the old man": a determiner + person noun names who, not an edit."""
        keep = []
        for m in p.mentions:
            last = p.tokens[m.end - 1]
            if last in E.PERSON_NOUNS and m.start > 0 and p.tokens[m.start - 1] in E.DETERMINERS:
                p.dropped.append(" ".join(p.tokens[m.start - 1:m.end]))
                continue
            keep.append(m)
        p.mentions = keep

    def _drop_scene_words(self, p: Parsed, stems: list[str]):
        """"make the sky gray", "blur the background", "a glass of water": about the scene, not the face."""
        toks, keep = p.tokens, []
        personal = {"him", "her", "his", "he", "she", "hers", "them", "their", "face", "me", "my"}
        n = len(toks)
        starts, lo = [], 0  # where the sentence part holding each token starts
        for k, t in enumerate(toks):
            starts.append(lo)
            if t in E.BOUNDARY_PUNCT:
                lo = k + 1
        people = [0] * (n + 1)  # people[k]: person words in toks[k:] (counted once, from the end)
        scenes = [0] * (n + 1)  # scenes[k]: scene nouns in toks[:k]
        for k in range(n - 1, -1, -1):
            hit = toks[k] in personal or stems[k] in E.HEAD_NOUNS or toks[k] in E.PERSON_NOUNS
            people[k] = people[k + 1] + hit
        for k in range(n):
            scenes[k + 1] = scenes[k] + (stems[k] in E.SCENE_NOUNS)
        for m in p.mentions:
            nxt = [k for k in range(m.end, min(n, m.end + 3)) if toks[k] not in E.DETERMINERS]
            after = stems[nxt[0]] if nxt else ""
            lo = starts[m.start]
            clause = range(lo, m.start)
            before = scenes[m.start] - scenes[lo] > 0
            person = people[lo] - (people[m.start] - people[m.end]) > 0
            glass_of = toks[m.start] == "glass" and after == "of"
            if glass_of or (m.end - m.start == 1 and (after in E.SCENE_NOUNS or (before and not person))):
                noun = next((toks[k] for k in [*clause, *nxt] if stems[k] in E.SCENE_NOUNS), toks[m.start])
                p.dropped.append(f"the {noun}")
                continue
            keep.append(m)
        p.mentions = keep

    def _take(self, p: Parsed, found):
        """Add non-overlapping matches as mentions, longest first."""
        for length, i, (concept, phrase, remove) in found:
            span = range(i, i + length)
            if any(k in p.used for k in span):
                continue
            comparative = any(t in E.COMPARATIVES for t in p.tokens[i:i + length])
            p.mentions.append(Mention(i, i + length, concept, phrase, remove, comparative))
            p.used.update(span)

    def _find_ages(self, p: Parsed):
        """"look like he's 70", "make her 20 years old", "in his 60s" → old / young with a strength."""
        toks = p.tokens
        for k, t in enumerate(toks):
            word = E.NUMBER_WORDS.get(t)
            if k in p.used or not (re.fullmatch(r"\d{1,3}", t) or word):
                continue
            age = word or int(t)
            decade = t.endswith("ies") or t == "teens"  # "in her sixties"
            before, after = toks[max(0, k - 2):k], toks[k + 1:k + 3]
            if any(m.concept in ("old", "young") and not split(toks, m, Mention(k, k + 1, "", ""))
                   for m in p.mentions):
                continue  # one age per clause ("he is 70 but make him look 40": two clauses)
            if after[:1] in (["years"], ["year"], ["yrs"]) and (
                    "add" in before or "plus" in before or "take" in toks[max(0, k - 3):k]
                    or "off" in toks[k + 1:k + 5]):  # "add twenty years", "take ten years off"
                concept = "young" if "take" in toks[max(0, k - 3):k] or "off" in toks[k + 1:k + 5] else "old"
                p.mentions.append(Mention(k, k + 1, concept, t))
                p.used.add(k)
                p.used.update(j for j in range(max(0, k - 3), min(len(toks), k + 5))
                              if toks[j] in ("take", "off", "add", "plus", "years", "year", "yrs"))
                continue
            aged = (decade or after[:1] in (["years"], ["year"], ["yo"], ["yrs"], ["s"], ["again"])
                    or (before and before[-1] in ("s", "is", "aged", "age", "be", "like", "look",
                                                  "looks", "around", "about", "him", "her",
                                                  "them", "me", "turn", "turns", "at")))
            if not aged or not 3 <= age <= 110 or is_steps_number(toks, k) or "by" in before:
                continue
            younger = "younger" in after or "younger" in toks[k + 1:k + 4]
            older = "older" in toks[k + 1:k + 4]
            if younger or older:
                continue  # "20 years younger": the comparative word carries it
            concept = "old" if age >= 40 else "young"
            strength = min(1.0, (age - 30) / 50) if age >= 40 else min(1.0, (35 - age) / 25)
            p.mentions.append(Mention(k, k + 1, concept, t))
            p.words.append(Word(k, k + 1, "adv", round(max(0.25, strength), 2), t))
            p.used.add(k)

    def correct_spelling(self, p: Parsed):
        """Read a word one typo away from one of the model's attribute words as that word.

        One letter inserted, deleted, doubled or swapped with its neighbour, or (in words of five
        letters or more) replaced; an English word (``words_en``) is never a typo. The first letter
        must agree unless it is the one swapped. ``p.understood`` records each reading for the reply.
        """
        known = english_words()
        for k, t in enumerate(p.tokens):
            if len(t) < 4 or not t.isalpha() or t in known or t in self._spelled:
                continue
            if stem(t) in self._spelled or stem(t) in E.HEAD_NOUNS or stem(t) in E.OTHER_NOUNS:
                continue
            best = self.nearest_word(t)
            if best is not None:
                p.tokens[k] = best
                p.understood.append(f"“{t[:30]}” as “{best}”")

    def nearest_word(self, word: str) -> str | None:
        """The model's attribute word one typo away from ``word`` (see correct_spelling), or None."""
        found = set()
        for key in (word, *deletions(word)):
            found.update(self._near.get(key, ()))
        hits = sorted(w for w in found if w != word and one_edit(word, w) and _plausible(word, w))
        if not hits:
            return None
        # a dropped letter is the likelier typo: "glases" is "glasses" before "glass"
        return min(hits, key=lambda w: (w[0] != word[0], len(w) < len(word), abs(len(w) - len(word)), w))

    def _find_bare_parts(self, p: Parsed, stems: list[str]):
        """"shrink his nose": a bare face part next to a size cue, when nothing else is named."""
        if p.mentions:
            return
        size_cues = {t for t, kind in E.CUES.items() if kind in (E.MORE, E.LESS, E.TOO_MUCH)}
        if not any(t in size_cues for t in p.tokens):
            return
        for k, s in enumerate(stems):
            if k not in p.used and s in V.HEAD_DEFAULTS:
                concept = V.HEAD_DEFAULTS[s]
                p.mentions.append(Mention(k, k + 1, concept, p.tokens[k]))
                p.used.add(k)

    def _drop_gender_nouns(self, p: Parsed):
        """"a bald guy": a gender noun right after another mention describes the person."""
        keep = []
        for m in p.mentions:
            if (m.end - m.start == 1 and p.tokens[m.start] in E.GENDER_NOUNS
                    and any(o.end == m.start for o in p.mentions if o is not m)):
                p.used.discard(m.start)
                continue
            keep.append(m)
        p.mentions = keep

    def _find_loose(self, p: Parsed, stems: list[str]):
        """Pair a free adjective with the nearest noun in its sentence when that is a face part."""
        nouns = [i for i, s in enumerate(stems) if s in E.HEAD_NOUNS or s in E.OTHER_NOUNS]
        for i, s in enumerate(stems):
            if i in p.used or s not in self._loose:
                continue
            best = None
            for j in nouns:
                if j == i or abs(j - i) > 4 or crosses_sentence(p.tokens, i, j):
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
            comparative = p.tokens[i] in E.COMPARATIVES
            p.mentions.append(Mention(i, i + 1, concept, phrase, remove, comparative))
            p.used.add(i)

    def drop_cue_mentions(self, p: Parsed):
        """A one-word mention that is also a cue ("thinner") yields to another mention nearby."""
        if len(p.mentions) < 2:
            return
        keep = []
        for m in p.mentions:
            word = p.tokens[m.start]
            if (m.end - m.start == 1 and word in E.CUES
                    and any(o is not m and not split(p.tokens, o, m) for o in p.mentions)):
                p.used.discard(m.start)
                p.words.append(Word(m.start, m.end, "cue", E.CUES[word], word))
                continue
            keep.append(m)
        p.mentions = keep
        p.words.sort(key=lambda w: w.start)

    def target(self, concept: str) -> tuple[str, float] | None:
        """(attribute, sign) that expresses a concept in this model, or None."""
        if concept in self._direct:
            return self._direct[concept]
        for other, sign in V.FALLBACKS.get(concept, ()):
            if other in self._direct:
                attr, s2 = self._direct[other]
                return attr, sign * s2
        return None

    def nearest(self, concept: str) -> tuple[str, float] | None:
        """(attribute, sign) of the nearest available attribute (V.NEAREST), or None."""
        for other, sign in V.NEAREST.get(concept, ()):
            target = self.target(other)
            if target is not None:
                return target[0], sign * target[1]
        return None

    def antonym_slider(self, concept: str, target: tuple[str, float],
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

    def mark_facts(self, p: Parsed):
        """Mentions in a clause that states a fact, not a request: scope FACT (no edit of their own).

        "she is 40", "he has a beard in real life", "her eyes are already blue", "I like the
        glasses", "nice smile", "the beard looks good": a subject with a stative verb, "already",
        or approval, in a clause with no request word, cue, adverb or number of its own.
        """
        toks = p.tokens
        bounds = [k for k, t in enumerate(toks) if t in E.BOUNDARY_PUNCT or t in E.BOUNDARY_WORDS]
        asking: dict[tuple[int, int], bool] = {}
        for m in p.mentions:
            at = bisect_left(bounds, m.start)
            lo = bounds[at - 1] + 1 if at else 0
            at = bisect_left(bounds, m.end)
            hi = bounds[at] if at < len(bounds) else len(toks)
            if (lo, hi) not in asking:  # a request word anywhere in the clause (once per clause)
                asking[lo, hi] = any(t in E.REQUEST_WORDS for t in toks[lo:hi])
            if asking[lo, hi]:
                continue
            words = [w for w in p.words[bisect_left(p.words, lo, key=_start):] if w.start < hi]
            if _stated(toks, lo, hi, m, words):
                m.scope = FACT

    def mark_compared(self, p: Parsed):
        """A mention used as a yardstick is COMPARED, not edited: "grayer than his beard", "as big as
        the glasses"; only when another mention in the message is the one being changed."""
        toks = p.tokens
        for m in p.mentions:
            k = m.start - 1
            while k >= 0 and (toks[k] in E.DETERMINERS or toks[k] in E.POSSESSIVES):
                k -= 1
            if k < 0 or toks[k] not in ("than", "as", "like"):
                continue
            lo = max((j + 1 for j in range(k) if toks[j] in E.BOUNDARY_PUNCT), default=0)
            yardstick = toks[k] == "than" or (toks[k] == "as" and "as" in toks[lo:k - 1] and toks[k - 1] != "well") or (
                toks[k] == "like" and k > 0 and toks[k - 1] in ("just", "exactly"))
            if yardstick and any(o.start < m.start and o.scope == REQUESTED for o in p.mentions):
                m.scope = COMPARED

    def other_end(self, concept: str, current: Mapping[str, float]) -> str | None:
        """The live slider a concept is the other end of ("brown hair" → gray hair when it is up), or None."""
        for slider in V.OTHER_END.get(concept, ()):
            target = self.target(slider)
            if target is not None and float(current.get(target[0], 0.0)) * target[1] > 0:
                return target[0]
        return None

    def match(self, phrase: str) -> tuple[str, float] | None:
        """(attribute, sign) a free phrase names ("mustache" → beard, +1), or None."""
        p = Parsed(tokenize(str(phrase)[:200]))
        self.find(p)
        for m in p.mentions:
            target = self.target(m.concept) or self.nearest(m.concept)
            if target is not None:
                return target
        return None


def one_edit(a: str, b: str) -> bool:
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


def deletions(word: str) -> set[str]:
    """The word with any one letter deleted (the symmetric-delete index of one-typo neighbours)."""
    return {word[:k] + word[k + 1:] for k in range(len(word))}


def _plausible(typed: str, word: str) -> bool:
    """Whether a one-edit pair is a likely typo: the first letter kept (or swapped with the second),
    a short word its last one, and a replaced letter only in words of five letters or more."""
    if typed[0] != word[0] and not (typed[:2] == word[1::-1]):
        return False
    if len(typed) <= 4 and len(typed) != len(word) and typed[-1] != word[-1]:
        return False  # "mach" is not "macho": a short word keeps its last letter too
    return len(typed) != len(word) or len(typed) >= 5 or sorted(typed) == sorted(word)


@lru_cache(maxsize=1)
def english_words() -> frozenset[str]:
    """Every word of the English grammar tables: these are never read as typos of an attribute."""
    words: set[str] = set(E.COMMON_WORDS)
    for name in dir(E):
        table = getattr(E, name)
        if not name.isupper() or isinstance(table, (str, int, float)):
            continue
        items = table.keys() if isinstance(table, dict) else table
        for item in items:
            for part in (item if isinstance(item, tuple) else (item,)):
                if isinstance(part, str):
                    words.update(part.split())
    return frozenset(words)


def _stated(toks: list[str], lo: int, hi: int, m: Mention, words: list[Word]) -> bool:
    """Whether the clause toks[lo:hi] around mention m states a fact (see MentionFinder.mark_facts)."""
    pre, post = toks[lo:m.start], toks[m.end:hi]
    if m.comparative or any(t in E.REQUEST_WORDS for t in pre[-12:] + post[:12]):
        return False
    for w in words:
        if lo <= w.start < hi and not m.start <= w.start < m.end:
            if w.kind in ("num", "steps") or (w.kind == "adv" and w.value != E.INTENSIFIER):
                return False
            if w.kind == "cue" and w.phrase not in E.STATIVE_CUES:
                return False
    if "already" in pre or "already" in post:
        return True
    if post[:1] and post[0] in ("looks", "look", "is", "are", "seems") and set(post[1:3]) & E.APPROVAL:
        return True  # "the beard looks good"
    if pre and pre[-1] in E.APPROVAL and all(t in E.APPROVAL or t in E.DETERMINERS for t in pre):
        return True  # "nice smile"
    for j in range(len(pre) - 1):
        verb = pre[j + 1]
        subject = pre[j] in E.SUBJECTS or (j > 0 and pre[j - 1] in E.POSSESSIVES)
        if not subject or verb not in E.STATIVE_VERBS:
            continue
        if verb == "s" and pre[j] not in ("he", "she", "it", "that"):
            continue
        if verb in E.LIKING_VERBS and not any(t in E.DETERMINERS for t in pre[j + 2:]):
            continue  # "I like blue eyes" may be a wish; "I like the glasses" is about these
        return True
    return False


def _start(w: Word) -> int:
    """A word's first token (the sort key of ``Parsed.words``)."""
    return w.start
