"""The settings of one render, as one value: every door builds it, passes it whole, and the engine renders it.

    settings = RenderSettings(edits={"smile": 0.5}, steps=10, local="on")
    settings = settings.resolved(engine.contract.bounded())   # canonical names, the model's steps, checked
    face.render(settings)                                     # the engine: one render path
    RenderSettings.from_dict(recipe["settings"]) == settings  # a recipe stores it whole

The Python API, ``chatface edit`` and ``chatface batch``, the panel, recipes (``cf.apply``) and the
evaluation all build this value, so one setting means the same everywhere and a new setting is
added here once. Pure Python (no torch), so the chat layer and the panel state can use it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields, replace
from types import MappingProxyType
from typing import Any, Mapping, Optional

from chatface_widgets.foundation.contract import LOCAL_REACH, EditContract, check_reach, check_strength
from chatface_widgets.foundation.where import PaintedMask, UnknownPartError, check_parts

LOCAL_MODES = ("auto", "on", "off")  # on: always local; off: always global; auto: local unless the region is most of the image
_LOCAL_WORDS = {True: "on", False: "off", "auto": "auto", "on": "on", "off": "off"}


class SettingsError(ValueError):
    """A render setting of the wrong type or out of range; the message names the field and what it takes."""


def local_mode(value) -> str:
    """``value`` as one of LOCAL_MODES (True is "on", False is "off"); SettingsError otherwise."""
    try:
        return _LOCAL_WORDS[value]
    except (KeyError, TypeError):
        raise SettingsError(f"local must be one of {', '.join(LOCAL_MODES)} (or true/false), got {value!r}") from None


def _check_steps_type(value) -> Optional[int]:
    """A step count must be a whole number (or None: the model's default); its validity is the step policy's."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        if isinstance(value, float) and value.is_integer():
            return int(value)
        raise SettingsError(f"steps must be a whole number of DDIM steps, got {value!r}")
    return int(value)


def _check_face(value) -> Optional[int]:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise SettingsError(f"face must be a whole number from 0 (the largest face), got {value!r}")
    return int(value)


@dataclass(frozen=True)
class RenderSettings:
    """What one render is: the edit and how to decode it (frozen; compare with ==, store with to_dict)."""

    edits: Mapping[str, float] = field(default_factory=dict)  # attribute -> strength in [-1, 1] (zeros dropped)
    steps: Optional[int] = None  # DDIM steps for inversion and decoding; None: the model's default
    sms: bool = True  # ChatFace's Stable Manipulation Strategy (Eq. 13); False: z_edit at every step
    local: str = "auto"  # "on": keep the photo outside the edit's region; "off": global; "auto": local unless
    #                      the region covers most of the image (engine.AUTO_MAX_AREA)
    reach: float = LOCAL_REACH  # how far a local region reaches past where the edit acts (fraction of the side)
    face: Optional[int] = None  # which face of a photo (0 = the largest); None: the largest
    keep: tuple = ()  # part names the edit must leave as they are (foundation.where.PART_NAMES)
    only: tuple = ()  # part names the edit is limited to (empty: no limit)
    mask: Optional[PaintedMask] = None  # where the edit may act, painted or given in code (1 edit, 0 keep);
    #                                     belongs to one photo: not in to_dict, so recipes do not carry it

    def __post_init__(self):
        if not isinstance(self.edits, Mapping):
            raise SettingsError(f"edits must be a mapping of attribute name to strength, got {type(self.edits).__name__}")
        edits = {}
        for name, value in self.edits.items():
            if not isinstance(name, str):
                raise SettingsError(f"attribute names must be text, got {name!r}")
            try:
                value = check_strength(name, value)
            except ValueError as exc:
                raise SettingsError(str(exc)) from None
            if value != 0.0:
                edits[name] = value + 0.0  # no -0.0
        if not isinstance(self.sms, bool):
            raise SettingsError(f"sms must be true or false, got {self.sms!r}")
        if isinstance(self.reach, bool):
            raise SettingsError(f"reach must be a number, got {self.reach!r}")
        try:
            reach = check_reach(self.reach)
        except ValueError as exc:
            raise SettingsError(str(exc)) from None
        object.__setattr__(self, "edits", MappingProxyType(dict(sorted(edits.items()))))
        object.__setattr__(self, "steps", _check_steps_type(self.steps))
        object.__setattr__(self, "local", local_mode(self.local))
        object.__setattr__(self, "reach", reach)
        object.__setattr__(self, "face", _check_face(self.face))
        try:
            object.__setattr__(self, "keep", check_parts(self.keep, "keep"))
            object.__setattr__(self, "only", check_parts(self.only, "only"))
        except UnknownPartError as exc:
            raise SettingsError(str(exc)) from None
        if self.mask is not None and not isinstance(self.mask, PaintedMask):
            raise SettingsError(f"mask must be a PaintedMask (engine.masks.as_mask makes one), got {type(self.mask).__name__}")

    @property
    def constrained(self) -> bool:
        """Whether the user said where (parts kept, an edit limited to parts, or a mask): then the render is local."""
        return bool(self.keep or self.only or self.mask is not None)

    @property
    def where_key(self) -> tuple:
        """What the user's constraint is (part names and the mask's digest), hashable."""
        return (self.keep, self.only, None if self.mask is None else self.mask.digest)

    def __hash__(self):
        return hash(self.key)

    def __eq__(self, other):
        return isinstance(other, RenderSettings) and self.key == other.key

    @property
    def key(self) -> tuple:
        """Everything the pixels depend on, hashable (equal keys render equal images)."""
        return (tuple(self.edits.items()), self.steps, self.sms, self.local, self.reach, self.face, self.where_key)

    @property
    def decode_key(self) -> tuple:
        """What rows of one batch must share (they go through one decoding loop): steps, SMS, local mode, reach."""
        return (self.steps, self.sms, self.local, self.reach)

    def with_edits(self, edits: Mapping[str, float]) -> "RenderSettings":
        """The same settings with other strengths (a strength strip, a slider tick)."""
        return replace(self, edits=dict(edits))

    def updated(self, **changes) -> "RenderSettings":
        """A copy with some fields changed (each checked again)."""
        return replace(self, **changes)

    def resolved(self, contract: EditContract) -> "RenderSettings":
        """Canonical attribute names (synonyms merged, capped), and the step count checked against ``contract``'s
        policy (its default for None). Raises UnknownAttributeError or ValueError naming the fix."""
        merged = contract.merge(self.edits).strengths
        return replace(self, edits=dict(merged), steps=contract.steps.or_default(self.steps))

    # --- files --------------------------------------------------------------------------------

    def to_dict(self) -> dict:
        """JSON-ready fields (a recipe's ``settings``); :meth:`from_dict` gives back an equal value."""
        out = {"edits": dict(self.edits), "steps": self.steps, "sms": self.sms, "local": self.local,
               "reach": self.reach, "face": self.face}
        out.update({name: list(getattr(self, name)) for name in ("keep", "only") if getattr(self, name)})
        return out  # a painted mask belongs to one photo: not written (Recipe says so)

    @classmethod
    def from_dict(cls, data: Any, where: str = "settings") -> "RenderSettings":
        """Settings from their JSON fields, each checked for its type (nothing coerced quietly)."""
        if not isinstance(data, Mapping):
            raise SettingsError(f"{where} must be a JSON object, got {type(data).__name__}")
        known = {f.name for f in fields(cls)} - {"mask"}
        unknown = sorted(str(k) for k in data if k not in known)
        if unknown:
            raise SettingsError(f"{where} has unknown field(s) {', '.join(unknown)}; it takes {', '.join(sorted(known))}")
        edits = data.get("edits", {})
        if not isinstance(edits, Mapping):
            raise SettingsError(f"{where}: edits must be an object of attribute name to strength")
        for name, value in edits.items():
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(float(value)):
                raise SettingsError(f"{where}: the strength of {name!r} must be a number in [-1, 1], got {value!r}")
        steps = data.get("steps")
        if steps is not None and (isinstance(steps, bool) or not isinstance(steps, int)):
            raise SettingsError(f"{where}: steps must be a whole number, got {steps!r}")
        local = data.get("local", "auto")
        if local not in LOCAL_MODES:
            raise SettingsError(f"{where}: local must be one of {', '.join(LOCAL_MODES)}, got {local!r}")
        parts = {}
        for name in ("keep", "only"):
            value = data.get(name, [])
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise SettingsError(f"{where}: {name} must be a list of part names, got {value!r}")
            parts[name] = tuple(value)
        try:
            return cls(edits=dict(edits), steps=steps, sms=data.get("sms", True), local=local,
                       reach=data.get("reach", LOCAL_REACH), face=data.get("face"), **parts)
        except SettingsError as exc:
            raise SettingsError(f"{where}: {exc}") from None

    def describe(self) -> str:
        """One line for replies, status lines and batch logs."""
        edits = ", ".join(f"{k} {v:+.2f}" for k, v in self.edits.items()) or "no change"
        steps = "default steps" if self.steps is None else f"{self.steps} steps"
        local = {"auto": "local auto", "on": "local", "off": "global"}[self.local]
        reach = f", reach {self.reach:.2f}" if self.local != "off" and self.reach != LOCAL_REACH else ""
        face = f" · face {self.face + 1}" if self.face is not None else ""
        return f"{edits} · {steps} · SMS {'on' if self.sms else 'off'} · {local}{reach}{face}{self.describe_where()}"

    def describe_where(self) -> str:
        """The user's constraint as a phrase (" · keep beard · only hair · painted mask"), or ""."""
        out = ""
        if self.keep:
            out += f" · keep {', '.join(self.keep)}"
        if self.only:
            out += f" · only {', '.join(self.only)}"
        if self.mask is not None:
            out += " · painted mask"
        return out


def settings_of(edits=None, steps: Optional[int] = None, sms: bool = True, local="auto",
                reach: Optional[float] = None, face: Optional[int] = None, keep=(), only=(),
                mask: Optional[PaintedMask] = None) -> RenderSettings:
    """RenderSettings from the keyword form of the API (``face.render(edits, steps=…, local=…)``), or as given."""
    if isinstance(edits, RenderSettings):
        return edits
    return RenderSettings(edits=dict(edits or {}), steps=steps, sms=sms, local=local,
                          reach=LOCAL_REACH if reach is None else reach, face=face, keep=keep, only=only, mask=mask)
