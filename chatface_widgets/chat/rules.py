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

The parse is a pipeline of small stages, one module each: ``normalise`` (text → tokens: escape
codes, numbers in words and odd numerals) → ``clauses`` (splitting, self-corrections) →
``mentions`` (the model's words, typos by edit distance, and each mention's scope) → ``strengths``
(cues, adverbs, numbers anywhere in the clause) → ``steps`` → ``memory`` (follow-ups, undo) →
``reply``. ``parsed.py`` holds what they hand on; ``vocabulary.py`` the model's words and
``words_en.py`` the English grammar words. This class builds the stages from the contract and runs
them in order.

Issue 29: a mention has a scope. *Excluded* ("don't add glasses", "forget the hat", "not the
necklace, the earrings") edits nothing, except that an own edit in that direction is taken back;
*stated as fact* ("she is 40", "he has a beard", "I like the glasses", "nice smile") edits nothing
unless a later clause asks for a change. "X, no wait, Y" / "I mean" / "scratch that" keep Y. The
other end of a slider the model lacks ("brown hair" after gray hair, "hazel eyes" after blue) takes
the live slider back to 0. A word one typo from an attribute word is read as it and the reply says
so ("(Read “smille” as “smile”.)"). Replies quote at most 60 characters of the user's text.

Only names from ``attributes`` ever appear in ``plan.edits``; a known attribute the model lacks
("give her a hat" without a hat mapper) gets a reply that lists what is available.
"""


from __future__ import annotations

import logging
import math
import numbers
from typing import Mapping, Sequence

from chatface_widgets.chat import vocabulary as V
from chatface_widgets.chat import words_en as E
from chatface_widgets.chat.base import contract_and_names
from chatface_widgets.chat import clauses
from chatface_widgets.chat.clauses import only, strip_answer
from chatface_widgets.chat import memory, where
from chatface_widgets.foundation.where import check_parts
from chatface_widgets.chat.memory import Memory
from chatface_widgets.chat.mentions import MentionFinder
from chatface_widgets.chat.normalise import tokenize
from chatface_widgets.chat.parsed import EXCLUDED, FACT, REQUESTED, Edit, Mention, Parsed, Word
from chatface_widgets.chat.plan import Plan
from chatface_widgets.chat.reply import capabilities, clip, finish, range_note
from chatface_widgets.chat.steps import level_up, steps_asked, steps_reply
from chatface_widgets.chat.strengths import apply_op, assign_ops, assign_strengths, find_words, lexicon
from chatface_widgets.foundation.contract import (DEFAULT_STRENGTH, STRENGTH_MAX, STRENGTH_MIN, EditContract,
                                       normalize_name, quantize)

log = logging.getLogger(__name__)


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
        self._mentions = MentionFinder(self.attributes, self.contract.synonyms)
        lexicon()  # the grammar phrases, built once here rather than in the first parse
        self._embedding = self._make_embedding(embedding)
        self._memory = Memory()

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
        return capabilities(self.attributes)

    def remember(self, edits: Mapping[str, float], current: Mapping[str, float] | None = None):
        """Record edits made elsewhere (the LLM path, the sliders) as the target of follow-ups."""
        self._memory.remember(edits, current, self.attributes)

    def match_attribute(self, phrase: str) -> tuple[str, float] | None:
        """(attribute, sign) the rules' matcher gives a free phrase ("mustache" → beard, +1), or None.

        The LLM path uses it to check a name the model wrote that is not in the list.
        """
        return self._mentions.match(phrase)

    @property
    def last_edited(self) -> list[str]:
        """The attributes a bare "more" / "less" would change (the last edit's, in order)."""
        return [a for a, _ in self._memory.last]

    def forget(self):
        """Drop the follow-up memory (after a reset)."""
        self._memory.forget()

    # --- the pipeline -----------------------------------------------------------------------

    def _parse(self, text: str, current: Mapping[str, float] | None, steps: int | None) -> Plan:
        """The parser proper (see the module docstring for the rules)."""
        current = {str(k): max(STRENGTH_MIN, min(STRENGTH_MAX, float(v)))
                   for k, v in (current or {}).items()
                   if isinstance(v, numbers.Real) and not math.isnan(float(v))}
        self._step_note = ""
        tokens = strip_answer(tokenize(text if isinstance(text, str) else str(text)))
        tokens, said = where.find(tokens, lambda word: self._mentions.match(word) is not None)  # the where stage: parts kept or limited to (issue 30)
        if said.unknown:
            return Plan.none(said.reply(), understood=True)
        if said and where.nothing_else(tokens):
            return Plan(reply=said.reply(), keep=said.keep, only=said.only, anywhere=said.anywhere)
        plan = self._parse_tokens(tokens, current, steps)
        if not said:
            return plan
        if plan.action == "none" or not plan.understood:
            return Plan(reply=said.reply(), keep=said.keep, only=said.only, anywhere=said.anywhere)
        reply = f"{plan.reply} {said.reply()}".strip()
        return plan.model_copy(update={"keep": list(check_parts(said.keep)), "only": list(check_parts(said.only)),
                                       "anywhere": said.anywhere, "reply": reply})

    def _parse_tokens(self, tokens: list[str], current: dict[str, float], steps: int | None) -> Plan:
        """The stages after the where stage, on what is left of the message."""
        words_only = [t for t in tokens if t not in E.BOUNDARY_PUNCT]
        if not words_only:
            return Plan.none("Tell me how to change the face. " + self.capabilities())
        if (only(words_only, E.THANKS, E.GREETINGS) and not only(words_only, E.GREETINGS)
                and not memory.intent(words_only)
                and not any(E.CUES.get(t) in (E.MORE, E.LESS, E.TOO_MUCH) for t in words_only)):
            return Plan.none("You're welcome! " + self.capabilities(), understood=True)  # a closing
        p = self._read(tokens)
        fixed = clauses.correction(p)
        if fixed is not None:  # "glasses, no wait, a beard": read again without the corrected part
            understood = p.understood
            p = self._read(fixed)
            p.understood[:0] = understood
        residual = self._residual(p)
        off_topic = self._off_topic(p)
        if not p.mentions and p.dropped:
            what = clip(", ".join(dict.fromkeys(p.dropped)))
            return Plan.none(f"I can only edit the face itself, not {what}. " + self.capabilities())
        if not p.mentions:
            return self._no_mention(p, residual, off_topic, current, steps)
        if off_topic:
            return Plan.none("I can only edit the face. " + self.capabilities())
        return self._edit(p, current, steps)

    def _read(self, tokens: list[str]) -> Parsed:
        """The mentions and grammar words of a token list (the mentions and strengths stages)."""
        p = Parsed(tokens)
        self._mentions.find(p)
        find_words(p)
        self._mentions.drop_cue_mentions(p)
        self._mentions.mark_facts(p)
        self._mentions.mark_compared(p)
        return p

    def _residual(self, p: Parsed) -> list[str]:
        """Content words that are neither mentions, cues, adverbs, step words nor fillers."""
        covered = set(p.used)
        for w in p.words:
            covered.update(range(w.start, w.end))
        return [t for k, t in enumerate(p.tokens) if k not in covered and t not in E.BOUNDARY_PUNCT
                and t not in E.WIDE_FILLERS and t not in E.REFERENCE_WORDS]

    def _off_topic(self, p: Parsed) -> bool:
        """A question or request about something else (no edit verb)."""
        toks = [t for t in p.tokens if t not in E.BOUNDARY_PUNCT]
        free = [t for k, t in enumerate(p.tokens) if k not in p.used]
        has_verb = any(t in E.QUESTION_OVERRIDE_VERBS for t in toks)
        if any(t in E.HARD_OFF_TOPIC for t in free):
            return True
        if any(t in E.OFF_TOPIC_WORDS for t in free) and not (has_verb and p.mentions):
            return True
        starts = any(tuple(toks[:len(q)]) == q for q in E.QUESTION_STARTS)
        return starts and not has_verb

    def _no_mention(self, p: Parsed, residual: list[str], off_topic: bool,
                    current: dict[str, float], steps: int | None) -> Plan:
        """Undo/redo/reset, follow-ups, steps, greetings, help, or a helpful refusal."""
        toks = [t for t in p.tokens if t not in E.BOUNDARY_PUNCT]
        intent = memory.intent(toks)
        if intent:
            return self._memory.intent_plan(intent)
        if only(toks, E.HELP_PHRASES, E.GREETINGS):
            return Plan.none(self.capabilities(), understood=True)
        if off_topic:
            return Plan.none("I can only edit the face. " + self.capabilities())
        cues = [w for w in p.words if w.kind == "cue" and w.value not in (E.SET, E.KEEP, E.EXCLUDE)]
        new_steps = self._steps(p, steps)
        chatter = [t for t in residual if t not in E.DISCOURSE]
        if cues and not chatter:
            return self._follow_up(p, cues, current, new_steps)
        if only(toks, E.GREETINGS):
            return Plan.none("Hi! " + self.capabilities(), understood=True)
        if only(toks, E.THANKS, E.GREETINGS):
            return Plan.none("You're welcome! " + self.capabilities(), understood=True)
        if self._step_note and new_steps is None and not residual:
            return Plan.none(self._step_note, understood=True)
        if new_steps is not None and not residual:
            if self._step_note:
                return Plan(steps=new_steps, action="edit", reply=self._step_note)
            return Plan(steps=new_steps, action="edit",
                        reply=steps_reply(new_steps, steps, self.step_levels[0]))
        if self._embedding is not None and residual:
            hit = self._embed(p, residual)
            if isinstance(hit, Plan):
                return hit
            if hit is not None:
                return self._edit(p, current, steps)
        if residual:
            what = clip(" ".join(clip(t, 30) for t in residual[:4]))
            return Plan.none(f"Sorry, I can't change “{what}”. " + self.capabilities())
        return Plan.none("I'm not sure what to change. " + self.capabilities())

    def _follow_up(self, p: Parsed, cues: list[Word], current: dict[str, float],
                   new_steps: int | None) -> Plan:
        """A bare "more" / "less" / "too much" / "remove it": the memory stage's edit, or its question."""
        edit = self._memory.follow_up(p, cues, current, self.attributes, self._recommended)
        if isinstance(edit, str):
            return Plan.none(edit + self.capabilities())
        return self._finish([edit], [], new_steps, None)

    def _embed(self, p: Parsed, residual: list[str]):
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
        p.mentions.append(Mention(idx, idx + 1, V.concept_of(attr)[0], attr))
        p.used.add(idx)
        return attr

    def _edit(self, p: Parsed, current: dict[str, float], steps: int | None) -> Plan:
        """Resolve every mention to an attribute change, then build the reply."""
        segments = clauses.segments(p)
        ops = assign_ops(p, segments)
        strengths = assign_strengths(p, segments)
        edits: dict[str, Edit] = {}
        missing: list[str] = []
        new_steps = self._steps(p, steps)
        removed = {m.concept for m in p.mentions if m.remove}
        kept: list[str] = []
        left_out: list[str] = []  # excluded attributes that were not edited
        instead: list[str] = []
        for m in p.mentions:
            target = self._mentions.target(m.concept)
            back = self._mentions.other_end(m.concept, current) if target is None else None
            if back is not None and m.scope == REQUESTED and ops[id(m)] not in (E.REMOVE, E.EXCLUDE, E.KEEP):
                attr = back  # "brown hair" after gray hair: the gray hair slider goes back to 0
                edits[attr] = Edit(attr, float(current[attr]), 0.0, E.ZERO)
                continue
            if target is None:
                target = self._mentions.nearest(m.concept)
                if target is not None:
                    note = f"{m.concept[:1].upper() + m.concept[1:]} isn't available; used {target[0]} instead."
                    if note not in instead:
                        instead.append(note)
            else:
                target = self._mentions.antonym_slider(m.concept, target, current)
            op = ops[id(m)]
            if op == E.EXCLUDE:
                m.scope = EXCLUDED
            elif m.scope == FACT and op not in (E.SET, E.KEEP):
                m.scope = REQUESTED  # "her smile is nice, but make it bigger": a later clause asks
            if m.scope != REQUESTED:  # excluded, compared or stated as fact: no edit of its own
                if m.scope == EXCLUDED and target is not None:
                    attr, sign = target
                    if float(current.get(attr, 0.0)) * sign > 0:  # take back our own edit
                        edits[attr] = Edit(attr, float(current[attr]), 0.0, E.ZERO)
                    elif attr not in left_out:
                        left_out.append(attr)
                continue
            if op == E.SET and m.concept in removed:
                op = E.REMOVE
            if op == E.KEEP:
                if target is not None and target[0] not in kept:
                    kept.append(target[0])
                continue
            if target is None:
                if m.concept == "blurry" and op in (E.REMOVE, E.LESS, E.ZERO):
                    new_steps = new_steps or level_up(steps, self.step_levels)
                elif m.concept not in missing:
                    missing.append(m.concept)
                continue
            attr, sign = target
            old = float(current.get(attr, 0.0))
            c = max(-1.0, min(1.0, old / sign))
            new_c, op = apply_op(m, op, strengths.get(id(m)), c, self._recommended[attr])
            edits.pop(attr, None)
            said = strengths.get(id(m))
            note = range_note(new_c * sign, said[2]) if isinstance(said, tuple) else ""
            edits[attr] = Edit(attr, old, quantize(new_c * sign), op, note)
        for attr in kept:
            edits.pop(attr, None)
        if not edits and new_steps is None and kept and not missing:
            return Plan.none(f"OK, keeping the {', '.join(kept)} as they are.", understood=True)
        if not edits and new_steps is None and not missing and left_out:
            return Plan.none(f"OK, no {', '.join(left_out)}; nothing changed.", understood=True)
        if not edits and new_steps is None and not missing:  # statements, comparisons
            return Plan.none("OK, nothing to change there. " + self.capabilities(), understood=True)
        return self._finish(list(edits.values()), missing, new_steps, steps, instead,
                            p.understood)

    def _steps(self, p: Parsed, steps: int | None) -> int | None:
        """Decoding steps asked for (the steps stage); its note goes into the reply."""
        count, self._step_note = steps_asked(p, steps, self.contract.steps, self.step_levels)
        return count

    def _finish(self, edits: list[Edit], missing: list[str], new_steps: int | None,
                old_steps: int | None, instead: Sequence[str] = (), understood: Sequence[str] = ()) -> Plan:
        """The reply stage's plan; its edits become the target of the next follow-up."""
        plan = finish(edits, missing, new_steps, old_steps, self.attributes, self.step_levels[0],
                      self._step_note, instead, understood)
        self._memory.record(edits if plan.edits else [])
        return plan
