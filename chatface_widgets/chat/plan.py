"""The edit plan an interpreter returns for one chat message (validated with pydantic v2).

Its limits are the edit contract's: strengths in [STRENGTH_MIN, STRENGTH_MAX], step counts the
respacing accepts (``contract.check_steps``). A model's own bound (``StepPolicy.maximum``) is
checked by the interpreter that knows the model, not here.
"""

from __future__ import annotations

from typing import Literal, Mapping

from pydantic import BaseModel, ConfigDict, Field, field_validator

from chatface_widgets.foundation.contract import check_strength
from chatface_widgets.foundation.steps import check_steps
from chatface_widgets.foundation.where import check_parts

Action = Literal["edit", "undo", "redo", "reset", "none"]


class Plan(BaseModel):
    """Attribute strengths to set, decoding steps, and a short reply for the user."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    edits: dict[str, float] = Field(default_factory=dict)  # attribute -> new strength in the contract's range
    steps: int | None = None  # None keeps the current step count; else a valid DiffAE count
    reply: str = ""  # what the chat shows
    action: Action = "edit"  # undo/redo/reset are handled by the panel's history
    understood: bool = True  # False: not understood or not supported (then edits is empty)
    note: str | None = None  # e.g. "LLM unavailable, used offline rules"
    keep: list[str] = Field(default_factory=list)  # parts to leave as they are, added to those kept (issue 30)
    only: list[str] = Field(default_factory=list)  # parts to limit the edit to (replaces an earlier limit)
    anywhere: bool = False  # drop every constraint (kept parts, limit, painted mask): "edit anywhere again"

    @field_validator("keep", "only")
    @classmethod
    def _check_parts(cls, parts: list[str]) -> list[str]:
        """Part names the renderer's part maps know (foundation.where.PART_NAMES)."""
        return list(check_parts(parts))

    @field_validator("edits")
    @classmethod
    def _check_edits(cls, edits: dict[str, float]) -> dict[str, float]:
        """Every strength is a finite number in [STRENGTH_MIN, STRENGTH_MAX] (the contract's check)."""
        for name, value in edits.items():
            if not name or not isinstance(name, str):
                raise ValueError("attribute names must be non-empty strings")
            check_strength(name, value)
        return edits

    @field_validator("steps")
    @classmethod
    def _check_steps(cls, steps: int | None) -> int | None:
        """A set step count must be one the DiffAE respacing accepts (0 is an error, not "default")."""
        return None if steps is None else check_steps(steps)

    @classmethod
    def none(cls, reply: str, *, understood: bool = False, note: str | None = None) -> "Plan":
        """A plan that changes nothing (not understood, unsupported, greeting or help)."""
        return cls(reply=reply, action="none", understood=understood, note=note)

    def apply(self, current: Mapping[str, float] | None = None) -> dict[str, float]:
        """The new full state: ``current`` updated with the edits, zeros dropped (reset → empty)."""
        if self.action == "reset":
            return {}
        state = {k: float(v) for k, v in (current or {}).items()}
        state.update(self.edits)
        return {k: v for k, v in state.items() if v != 0.0}

    @property
    def says_where(self) -> bool:
        """Whether the plan changes where edits may act."""
        return bool(self.keep or self.only or self.anywhere)

    def where(self, keep=(), only=()) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """The new (kept parts, parts limited to) from the current ones: kept parts add up, a limit replaces."""
        if self.action == "reset" or self.anywhere:
            keep, only = (), ()
        new_only = tuple(sorted(self.only)) if self.only else tuple(only)
        new_keep = tuple(sorted((set(keep) | set(self.keep)) - set(self.only)))
        return new_keep, new_only
