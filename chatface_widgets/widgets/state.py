"""Thread-safe panel state: slider strengths, decode steps, SMS, local edits and their reach, the strip switch, undo/redo history.

Every change happens under one lock and bumps ``version``; listeners get an immutable
:class:`Snapshot` after the lock is released. Several strengths set by one call (a chat plan) are one
change, so they cause one render. Names, the strength range and resolution, and the valid step
counts come from the model's edit contract (chatface_widgets.foundation.contract): strengths are clamped and
rounded to the slider's precision, so a value echoed back by a slider never counts as a new change.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Callable, Iterable, Mapping, Optional

from chatface_widgets.foundation.settings import RenderSettings
from chatface_widgets.foundation.where import PaintedMask, check_parts
from chatface_widgets.foundation.contract import LOCAL_REACH, RESOLUTION, EditContract, StepPolicy, check_reach, quantize  # noqa: F401

HISTORY_LIMIT = 200  # undo entries kept
_SAME = object()  # "leave the painted mask as it is" (None clears it)


@dataclass(frozen=True)
class Snapshot:
    """One consistent view of the panel state (what a render and the widgets need)."""

    version: int  # bumped by every change
    strengths: Mapping[str, float]  # every attribute with a slider → its strength (0 included)
    active: tuple  # attributes that have a slider, in display order
    steps: int  # DDIM decode steps
    sms: bool  # ChatFace's stable manipulation strategy on/off
    local: bool  # local edits (engine's local="auto"): outside the edit's region, the photo's own pixels
    reach: float  # how far a local edit's region reaches (fraction of the image side)
    strip: bool  # also render the strength strip of the last-touched attribute
    touched: Optional[str]  # the attribute changed last (the strip shows it)
    can_undo: bool
    can_redo: bool
    keep: tuple = ()  # parts the edit leaves as they are (issue 30)
    only: tuple = ()  # parts the edit is limited to
    mask: Optional[PaintedMask] = None  # the painted "edit here" / "keep this" mask, as one allowed mask

    @property
    def edits(self) -> dict:
        """The non-zero strengths: what ``face.render`` needs."""
        return {k: v for k, v in self.strengths.items() if v != 0.0}

    @property
    def settings(self) -> RenderSettings:
        """The render settings this state shows (the local switch: on is "auto", off is "off"), as every door builds them."""
        return RenderSettings(edits=self.edits, steps=self.steps, sms=self.sms, local="auto" if self.local else "off",
                              reach=self.reach, keep=self.keep, only=self.only, mask=self.mask)

    @property
    def render_key(self) -> tuple:
        """Everything the rendered images depend on (equal keys give equal images)."""
        strip_for = self.touched if self.strip else None
        return (self.settings.key, strip_for)


@dataclass(frozen=True)
class _Entry:
    """One undo/redo record: the edit, steps, SMS and local settings to go back to."""

    edits: Mapping[str, float]
    steps: int
    sms: bool
    local: bool = True
    reach: float = LOCAL_REACH
    touched: Optional[str] = None
    keep: tuple = ()
    only: tuple = ()
    mask: Optional[PaintedMask] = None

    @property
    def key(self) -> tuple:
        """What a change compares (not ``touched``)."""
        return (dict(self.edits), self.steps, self.sms, self.local, self.reach, self.keep, self.only, self.mask)


@dataclass
class _Fields:
    """The mutable fields behind the lock."""

    strengths: dict
    active: list
    steps: int
    sms: bool
    strip: bool
    local: bool = True
    reach: float = LOCAL_REACH
    touched: Optional[str] = None
    keep: tuple = ()
    only: tuple = ()
    mask: Optional[PaintedMask] = None
    undo: list = field(default_factory=list)
    redo: list = field(default_factory=list)


class PanelState:
    """Strengths, steps, SMS and history of one panel; all methods may be called from any thread."""

    def __init__(self, contract: EditContract | Iterable[str], active: Optional[Iterable[str]] = None,
                 steps: Optional[int] = None, sms: bool = True, strip: bool = False, history_limit: int = HISTORY_LIMIT,
                 local: bool = True, reach: float = LOCAL_REACH):
        if not isinstance(contract, EditContract):  # a plain list of names: default steps, interactive bound
            contract = EditContract(tuple(contract), steps=StepPolicy(default=steps or 8).bounded())
        self.contract = contract
        self.attributes = contract.attributes
        steps = contract.steps.or_default(steps)
        self.history_limit = int(history_limit)
        self._lock = threading.RLock()
        self._version = 0
        self._listeners: list[Callable[[Snapshot], None]] = []
        chosen = [self.resolve(a) for a in (self.attributes[:4] if active is None else active)]
        chosen = list(dict.fromkeys(chosen))
        self._f = _Fields(strengths={a: 0.0 for a in chosen}, active=chosen, steps=int(steps), sms=bool(sms),
                          strip=bool(strip), local=bool(local), reach=check_reach(reach))

    # --- reading ----------------------------------------------------------------------------

    def resolve(self, name: str) -> str:
        """The attribute's canonical name (synonyms accepted); UnknownAttributeError listing the known ones."""
        return self.contract.resolve(name)

    def snapshot(self) -> Snapshot:
        """The current state as an immutable Snapshot."""
        with self._lock:
            f = self._f
            return Snapshot(version=self._version, strengths=MappingProxyType(dict(f.strengths)),
                            active=tuple(f.active), steps=f.steps, sms=f.sms, local=f.local, reach=f.reach,
                            strip=f.strip, touched=f.touched,
                            can_undo=bool(f.undo), can_redo=bool(f.redo), keep=f.keep, only=f.only, mask=f.mask)

    @property
    def version(self) -> int:
        return self._version

    # --- listening --------------------------------------------------------------------------

    def subscribe(self, listener: Callable[[Snapshot], None]) -> Callable[[], None]:
        """Call ``listener(snapshot)`` after every change; returns a function that unsubscribes."""
        with self._lock:
            self._listeners.append(listener)

        def unsubscribe():
            with self._lock:
                if listener in self._listeners:
                    self._listeners.remove(listener)

        return unsubscribe

    def _notify(self, snap: Snapshot) -> None:
        """Tell listeners, outside the lock, the snapshot taken under the lock by the change itself."""
        with self._lock:
            listeners = list(self._listeners)
        for listener in listeners:
            listener(snap)

    # --- changing ---------------------------------------------------------------------------

    def _entry(self) -> _Entry:
        f = self._f
        return _Entry({k: v for k, v in f.strengths.items() if v != 0.0}, f.steps, f.sms, f.local, f.reach, f.touched,
                      f.keep, f.only, f.mask)

    def _commit(self, before: _Entry) -> bool:
        """Bump the version if anything changed (pushing ``before`` to the undo stack); caller holds the lock."""
        after = self._entry()
        if after.key == before.key:
            return False
        self._f.undo.append(before)
        del self._f.undo[:-self.history_limit]
        self._f.redo.clear()
        self._version += 1
        return True

    def _set_locked(self, clean: Mapping[str, float], steps: Optional[int], sms: Optional[bool],
                    local: Optional[bool] = None, reach: Optional[float] = None, keep=None, only=None,
                    mask=_SAME) -> bool:
        """Write strengths/steps/SMS/local/reach/where as one recorded change; caller holds the lock."""
        f = self._f
        before = self._entry()
        for name, value in clean.items():
            if name not in f.active:
                f.active.append(name)
            if f.strengths.get(name, 0.0) != value:
                f.touched = name
            f.strengths[name] = value
        if steps is not None:
            f.steps = steps
        if sms is not None:
            f.sms = bool(sms)
        if local is not None:
            f.local = bool(local)
        if reach is not None:
            f.reach = reach
        if keep is not None:
            f.keep = keep
        if only is not None:
            f.only = only
        if mask is not _SAME:
            f.mask = mask
        return self._commit(before)

    def set_strength(self, name: str, value: float) -> bool:
        """Set one attribute's strength (adding its slider); True when the state changed."""
        return self.apply({name: value})

    def apply(self, edits: Optional[Mapping[str, float]] = None, steps: Optional[int] = None,
              sms: Optional[bool] = None, local: Optional[bool] = None, reach: Optional[float] = None,
              keep=None, only=None, mask=_SAME) -> bool:
        """Set several strengths (and optionally steps/SMS/local/reach, the parts kept or limited to, the painted
        mask) as ONE change: one history entry, one render."""
        clean = {self.resolve(k): quantize(v) for k, v in (edits or {}).items()}
        if steps is not None:
            steps = self.contract.steps.check(steps)
        if reach is not None:
            reach = round(check_reach(reach), 4)
        keep = None if keep is None else check_parts(keep, "keep")
        only = None if only is None else check_parts(only, "only")
        if mask is not _SAME and mask is not None and not isinstance(mask, PaintedMask):
            raise TypeError(f"mask must be a PaintedMask or None, got {type(mask).__name__}")
        with self._lock:
            changed = self._set_locked(clean, steps, sms, local, reach, keep, only, mask)
            snap = self.snapshot() if changed else None
        if changed:
            self._notify(snap)
        return changed

    def set_steps(self, steps: int) -> bool:
        """Change the decode step count (validated against the respacing)."""
        return self.apply(steps=steps)

    def set_sms(self, sms: bool) -> bool:
        """Switch SMS on or off."""
        return self.apply(sms=sms)

    def set_local(self, local: bool) -> bool:
        """Switch local edits on (outside the region, the photo's own pixels) or off."""
        return self.apply(local=local)

    def set_reach(self, reach: float) -> bool:
        """How far a local edit's region reaches (fraction of the image side, 0 … LOCAL_REACH_MAX)."""
        return self.apply(reach=reach)

    def set_where(self, keep=None, only=None, mask=_SAME) -> bool:
        """Where edits may act: parts kept, parts limited to, the painted mask (None clears it); undoable."""
        return self.apply(keep=keep, only=only, mask=mask)

    def set_strip(self, strip: bool) -> bool:
        """Show or hide the strength strip (a view option: not recorded in the history)."""
        with self._lock:
            if self._f.strip == bool(strip):
                return False
            self._f.strip = bool(strip)
            self._version += 1
            snap = self.snapshot()
        self._notify(snap)
        return True

    def add_attribute(self, name: str) -> bool:
        """Give an attribute a slider (strength 0); True when it was not shown yet."""
        name = self.resolve(name)
        with self._lock:
            if name in self._f.active:
                return False
            self._f.active.append(name)
            self._f.strengths[name] = 0.0
            self._version += 1
            snap = self.snapshot()
        self._notify(snap)
        return True

    def reset(self) -> bool:
        """All strengths back to 0 (sliders stay; steps and SMS stay); undoable."""
        with self._lock:
            changed = self._set_locked({k: 0.0 for k in self._f.strengths}, None, None)
            snap = self.snapshot() if changed else None
        if changed:
            self._notify(snap)
        return changed

    def _restore(self, entry: _Entry) -> None:
        """Put an undo/redo entry into the fields; caller holds the lock."""
        f = self._f
        for name in entry.edits:
            if name not in f.active:
                f.active.append(name)
        changed = [k for k in set(f.strengths) | set(entry.edits) if f.strengths.get(k, 0.0) != entry.edits.get(k, 0.0)]
        f.strengths = {k: float(entry.edits.get(k, 0.0)) for k in f.active}
        f.steps, f.sms, f.local, f.reach = entry.steps, entry.sms, entry.local, entry.reach
        f.keep, f.only, f.mask = entry.keep, entry.only, entry.mask
        if len(changed) == 1:
            f.touched = changed[0]
        self._version += 1

    def undo(self) -> bool:
        """Go back one change; False when there is nothing to undo."""
        with self._lock:
            if not self._f.undo:
                return False
            self._f.redo.append(self._entry())
            self._restore(self._f.undo.pop())
            snap = self.snapshot()
        self._notify(snap)
        return True

    def redo(self) -> bool:
        """Re-apply the change undone last; False when there is nothing to redo."""
        with self._lock:
            if not self._f.redo:
                return False
            self._f.undo.append(self._entry())
            self._restore(self._f.redo.pop())
            snap = self.snapshot()
        self._notify(snap)
        return True
