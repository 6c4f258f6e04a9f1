"""The panel's logic without any widget: chat → plan → state → render, with signals the view binds to.

Views call the methods (``send``, ``set_strength``, ``undo`` …) from any thread and listen to the
signals; the controller never touches a widget. Renders run on one :class:`LatestWorker` (newest
state wins, cancelled between diffusion steps), chat messages on one :class:`QueueWorker`.
"""

from __future__ import annotations

import io
import itertools
import logging
import threading
import time
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, Callable, Optional, Sequence

from PIL import Image

from chatface_widgets.foundation.contract import INTERACTIVE_MAX_BATCH
from chatface_widgets.widgets.state import PanelState, Snapshot
from chatface_widgets.widgets.worker import LatestWorker, QueueWorker, Ticket

log = logging.getLogger(__name__)

STRIP_STRENGTHS = (-1.0, -0.5, 0.0, 0.5, 1.0)  # the strength strip: one batch of these
PREVIEW_EVERY = 0.1  # seconds between live previews of the predicted image


class Signal:
    """A list of callbacks called in order with the emitted arguments (on the emitting thread)."""

    def __init__(self, name: str):
        self.name = name
        self._callbacks: list[Callable[..., None]] = []

    def connect(self, callback: Callable[..., None]) -> Callable[..., None]:
        self._callbacks.append(callback)
        return callback

    def emit(self, *args: Any) -> None:
        for callback in list(self._callbacks):
            callback(*args)


@dataclass(frozen=True)
class RenderResult:
    """A finished render: the state it shows, the edited image and the optional strength strip."""

    snapshot: Snapshot
    image: Image.Image
    strip: tuple = ()  # PIL images for strip_strengths of strip_attribute (empty when off)
    strip_attribute: Optional[str] = None
    strip_strengths: tuple = ()
    seconds: float = 0.0
    region: Optional[Image.Image] = None  # the photo with the local edit's region marked (None: not local)


@dataclass(frozen=True)
class ChatEntry:
    """One line of the chat log."""

    role: str  # "user" | "assistant" | "error"
    text: str
    note: Optional[str] = None


@dataclass
class RenderStats:
    """Counters that show how much rendering the panel did (tests and the benchmark read them)."""

    submitted: int = 0
    started: int = 0
    completed: int = 0
    cancelled: int = 0
    failed: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def count(self, what: str) -> None:
        with self.lock:
            setattr(self, what, getattr(self, what) + 1)


def describe(snap: Snapshot) -> str:
    """A short text for the status line: the edit, steps, SMS and local edits."""
    plain = "no edit (the photo)" if snap.local else "no edit (reconstruction)"
    edits = ", ".join(f"{k} {v:+.2f}" for k, v in snap.edits.items()) or plain
    local = f"local, reach {snap.reach:.2f}" if snap.local else "local off"
    return f"{edits} · {snap.steps} steps · SMS {'on' if snap.sms else 'off'} · {local}{snap.settings.describe_where()}"


def short_error(exc: BaseException) -> str:
    """``Type: message`` for the status line."""
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


class PanelController:
    """Connects a face, an interpreter and a PanelState to two worker threads; views listen to signals."""

    def __init__(self, face, interpreter, state: PanelState, strip_strengths: Sequence[float] = STRIP_STRENGTHS,
                 save_dir: Optional[Path] = None, stem: str = "chatface", preview_every: float = PREVIEW_EVERY):
        self.face = face
        self.interpreter = interpreter
        self.state = state
        self.strip_strengths = tuple(float(s) for s in strip_strengths)
        if len(self.strip_strengths) > INTERACTIVE_MAX_BATCH:
            raise ValueError(f"a strength strip of {len(self.strip_strengths)} images is more than the "
                             f"{INTERACTIVE_MAX_BATCH} a panel renders at once; use face.render_many from Python")
        self.save_dir = Path(save_dir) if save_dir is not None else Path.cwd()
        self.stem = stem
        self.preview_every = float(preview_every)
        # signals (emitted on whichever thread made the change)
        self.changed = Signal("changed")  # (Snapshot) after any state change
        self.rendered = Signal("rendered")  # (RenderResult) when the newest render finished
        self.progress = Signal("progress")  # (done steps, total steps, preview PIL or None)
        self.status = Signal("status")  # (text, is_error)
        self.busy = Signal("busy")  # (bool) thinking or rendering
        self.chat = Signal("chat")  # (ChatEntry)
        self.face_changed = Signal("face_changed")  # (Face) after choose_face opened another face of the photo
        self.stats = RenderStats()
        self.last_result: Optional[RenderResult] = None
        self.last_error: Optional[BaseException] = None
        self.requests: list[str] = []  # the user's chat messages, in order (a saved recipe keeps them)
        self.last_plan = None  # the interpreter's newest plan (a saved recipe keeps it)
        self._lock = threading.Lock()  # last_result, last_error
        self._submit_lock = threading.Lock()  # orders render submissions
        self._busy_lock = threading.Lock()  # orders busy notifications
        self._submitted_key: Optional[tuple] = None
        self._busy = False
        self.renderer = LatestWorker("chatface-render", on_error=self._job_failed, on_busy=self._update_busy)
        self.thinker = QueueWorker("chatface-chat", on_error=self._job_failed, on_busy=self._update_busy)
        self._unsubscribe = state.subscribe(self._on_state)

    # --- user actions (any thread) --------------------------------------------------------

    def send(self, text: str) -> None:
        """Log a chat message and interpret it on the chat thread (then apply its plan)."""
        text = str(text).strip()
        if not text:
            return
        self.chat.emit(ChatEntry("user", text))
        self.thinker.submit(partial(self._interpret, text))

    def set_strength(self, name: str, value: float) -> bool:
        """A slider moved: set the strength and let the interpreter's follow-ups refer to it."""
        before = dict(self.state.snapshot().edits)
        changed = self.state.set_strength(name, value)
        if changed:
            self._remember({self.state.resolve(name): float(value)}, before)
        return changed

    def set_steps(self, steps: int) -> bool:
        return self.state.set_steps(steps)

    def set_sms(self, sms: bool) -> bool:
        return self.state.set_sms(sms)

    def set_strip(self, strip: bool) -> bool:
        return self.state.set_strip(strip)

    def set_local(self, local: bool) -> bool:
        return self.state.set_local(local)

    def set_reach(self, reach: float) -> bool:
        return self.state.set_reach(reach)

    def add_attribute(self, name: str) -> bool:
        return self.state.add_attribute(name)

    def set_where(self, keep=None, only=None, mask=...) -> bool:
        """Parts kept / limited to (names), and the painted mask (an array in [0, 1], 1 = may edit; None clears it)."""
        changes = {}
        if mask is not ...:
            from chatface_widgets.engine.masks import as_mask

            changes["mask"] = None if mask is None else as_mask(mask)
        return self.state.set_where(keep=keep, only=only, **changes)

    def undo(self) -> bool:
        done = self.state.undo()
        if not done:
            self.status.emit("Nothing to undo.", False)
        return done

    def redo(self) -> bool:
        done = self.state.redo()
        if not done:
            self.status.emit("Nothing to redo.", False)
        return done

    def choose_face(self, index: int) -> None:
        """Edit another face of the same photo (0: the largest); opened on the chat thread, then rendered."""
        aligned = getattr(self.face, "aligned", None)
        count = getattr(aligned, "count", 1)
        if not 0 <= int(index) < count:
            raise ValueError(f"face {int(index) + 1} does not exist: the photo has {count} face(s)")
        self.thinker.submit(partial(self._open_face, int(index)))

    def _open_face(self, index: int) -> None:
        """Chat thread: align and encode the chosen face, switch to it and render the current edit on it."""
        if getattr(self.face.aligned, "index", 0) == index:
            return
        face = self.face.engine.open(self.face.original, face_index=index)
        self.face = face
        self.face_changed.emit(face)
        self.chat.emit(ChatEntry("assistant", f"Now editing face {index + 1} of {face.aligned.count}."))
        self.request_render(force=True)

    def reset(self) -> bool:
        forget = getattr(self.interpreter, "forget", None)
        if callable(forget):
            forget()
        return self.state.reset()

    def save_png(self, folder: Optional[Path] = None) -> Path:
        """Write the current edit to a NEW ``<stem>-chatface-NNN.png`` (never overwrites a file)."""
        from chatface_widgets.foundation.files import atomic_create
        from chatface_widgets.jobs.outputs import WritePlan, model_files

        with self._lock:
            result = self.last_result
        if result is None:
            raise RuntimeError("nothing has been rendered yet")
        place = getattr(self.face, "place", None)  # put back into the photo as `chatface edit` writes it
        image = place(result.image, result.snapshot.settings) if callable(place) else result.image
        folder = Path(folder) if folder is not None else self.save_dir
        folder.mkdir(parents=True, exist_ok=True)
        for n in itertools.count(1):
            path = folder / f"{self.stem}-chatface-{n:03d}.png"
            try:
                data = io.BytesIO()
                image.save(data, format="PNG")
                WritePlan(protected_files=model_files(self.face.engine)).check(path, "the image")
                atomic_create(path, data.getvalue())  # complete, and never over a file
            except FileExistsError:
                continue
            self.status.emit(f"Saved {path}", False)
            return path
        raise AssertionError("unreachable")

    def save_recipe(self, folder: Optional[Path] = None) -> Path:
        """Write the current edit as a NEW ``<stem>-recipe-NNN.json`` (for ``chatface batch``; never overwrites)."""
        from chatface_widgets.jobs.outputs import WritePlan, model_files
        from chatface_widgets.jobs.recipe import Recipe
        from chatface_widgets.foundation.files import atomic_create

        recipe = Recipe.from_settings(self.face.engine, self.state.snapshot().settings,
                                      request="\n".join(self.requests), plan=self.last_plan)
        if not recipe.edits:
            raise ValueError("the current edit changes nothing; move a slider or ask for a change first")
        folder = Path(folder) if folder is not None else self.save_dir
        folder.mkdir(parents=True, exist_ok=True)
        for n in itertools.count(1):
            path = folder / f"{self.stem}-recipe-{n:03d}.json"
            WritePlan(protected_files=model_files(self.face.engine)).check(path, "the recipe")
            try:
                atomic_create(path, recipe.to_json().encode("utf-8"))  # complete, and never over a file
            except FileExistsError:
                continue
            self.status.emit(f"Saved recipe {path}", False)
            return path
        raise AssertionError("unreachable")

    def start(self) -> None:
        """Render the initial state."""
        self.request_render(force=True)

    def wait_idle(self, timeout: Optional[float] = None) -> bool:
        """Block until no chat message and no render is pending (True), or the timeout passes (False)."""
        deadline = None if timeout is None else time.monotonic() + timeout

        def left():
            return None if deadline is None else max(0.0, deadline - time.monotonic())

        while True:
            for worker in (self.thinker, self.renderer):
                if not worker.wait_idle(left()):
                    return False
            if self.thinker.idle and self.renderer.idle:
                return True

    @property
    def is_busy(self) -> bool:
        return not (self.thinker.idle and self.renderer.idle)

    def close(self) -> None:
        """Stop both threads and stop listening to the state."""
        self._unsubscribe()
        self.thinker.close()
        self.renderer.close()
        self._update_busy()

    # --- rendering --------------------------------------------------------------------------

    def request_render(self, force: bool = False) -> Optional[Ticket]:
        """Submit the newest state to the render worker unless it is what was submitted last."""
        with self._submit_lock:
            snap = self.state.snapshot()
            if snap.render_key == self._submitted_key and not force:
                return None
            self._submitted_key = snap.render_key
            self.stats.count("submitted")
            return self.renderer.submit(partial(self._render_job, snap))

    def _on_state(self, snap: Snapshot) -> None:
        self.changed.emit(snap)
        self.request_render()

    def _render_job(self, snap: Snapshot, ticket: Ticket) -> None:
        """Decode the edit (with live previews), then the strip; publish unless a newer job came."""
        if ticket.cancelled:
            self.stats.count("cancelled")
            return
        self.stats.count("started")
        started = time.perf_counter()
        self.status.emit(f"Rendering: {describe(snap)} …", False)
        self.progress.emit(0, snap.steps, None)
        settings = snap.settings  # the one value every door renders
        try:
            image = self.face.render(settings, callback=partial(self._on_step, ticket, [0.0]))
            shows_region = snap.local or snap.settings.constrained
            region = self._region_view(snap) if shows_region and not ticket.cancelled else None
            strip_for = snap.touched if snap.strip else None
            strip = ()
            if strip_for is not None and not ticket.cancelled:
                batch = [{**snap.edits, strip_for: s} for s in self.strip_strengths]
                strip = tuple(self.face.render_many(batch, settings))
        except Exception as exc:  # noqa: BLE001 - shown in the status line
            self.stats.count("failed")
            self._report(exc, "render failed")
            return
        if ticket.cancelled:
            self.stats.count("cancelled")
            return
        result = RenderResult(snap, image, strip, strip_for, self.strip_strengths if strip else (),
                              time.perf_counter() - started, region)
        with self._lock:
            self.last_result = result
            self.last_error = None
        self.stats.count("completed")
        self.progress.emit(snap.steps, snap.steps, None)
        self.rendered.emit(result)
        self.status.emit(f"{describe(snap)} · {result.seconds * 1000:.0f} ms", False)

    def _region_view(self, snap: Snapshot) -> Optional[Image.Image]:
        """The photo with the edit's region marked (the region is cached on the face: no new network call)."""
        local_mask = getattr(self.face, "local_mask", None)
        if not callable(local_mask):
            return None
        from chatface_widgets.widgets.imaging import region_overlay

        mask = local_mask(snap.settings)
        return region_overlay(self.face.image, 1.0 if mask is None else mask[0, 0].cpu().numpy())  # None: everywhere

    def _on_step(self, ticket: Ticket, last_preview: list, info: dict) -> bool:
        """Diffusion callback: progress, a throttled preview of x̂0, and False to stop when replaced."""
        if ticket.cancelled:
            return False
        done, total = int(info["i"]) + 1, int(info["steps"])
        preview = None
        now = time.perf_counter()
        if done < total and now - last_preview[0] >= self.preview_every:
            from chatface_widgets.photos.photo import to_pil

            last_preview[0] = now
            preview = to_pil(info["denoised"][:1])[0]
        self.progress.emit(done, total, preview)
        return not ticket.cancelled

    # --- chat -------------------------------------------------------------------------------

    def _interpret(self, text: str) -> None:
        """Chat thread: ask the interpreter, apply its plan to the state, log the reply."""
        snap = self.state.snapshot()
        self.status.emit("Thinking …", False)
        try:
            plan = self.interpreter.parse(text, current=snap.edits, steps=snap.steps)
            note = self._apply_plan(plan)
            self.requests.append(text)
            self.last_plan = plan
        except Exception as exc:  # noqa: BLE001 - shown in the chat and the status line
            self._report(exc, "could not apply that message")
            self.chat.emit(ChatEntry("error", f"Sorry, that failed: {short_error(exc)}"))
            return
        reply = plan.reply or ("Done." if plan.action != "none" else "")
        notes = " ".join(n for n in (plan.note, note) if n) or None
        self.chat.emit(ChatEntry("assistant", reply, notes))
        if plan.action == "none" and not plan.steps:
            self.status.emit(describe(self.state.snapshot()), False)

    def _apply_plan(self, plan) -> Optional[str]:
        """Apply one Plan to the state (one change, one render); returns a note when nothing happened."""
        if plan.action == "undo":
            return None if self.state.undo() else "Nothing to undo."
        if plan.action == "redo":
            return None if self.state.redo() else "Nothing to redo."
        if plan.action == "reset":
            forget = getattr(self.interpreter, "forget", None)
            if callable(forget):
                forget()
            return None if self.state.reset() else "Already at the original."
        where = {}
        if getattr(plan, "says_where", False):
            snap = self.state.snapshot()
            keep, only = plan.where(snap.keep, snap.only)
            where = {"keep": keep, "only": only, **({"mask": None} if plan.anywhere else {})}
        if plan.edits or plan.steps is not None or where:
            self.state.apply(plan.edits, steps=plan.steps, **where)
        return None

    def _remember(self, edits: dict, before: dict) -> None:
        """Let a bare "more"/"less" refer to a slider the user moved (rules and LLM fallback)."""
        target = self.interpreter
        remember = getattr(target, "remember", None) or getattr(getattr(target, "fallback", None), "remember", None)
        if callable(remember):
            remember(edits, before)

    # --- errors and busy --------------------------------------------------------------------

    def _report(self, exc: BaseException, what: str) -> None:
        """Keep the error, log it with its traceback, and show it in the status line."""
        with self._lock:
            self.last_error = exc
        log.error("chatface panel: %s", what, exc_info=exc)
        self.status.emit(f"Error ({what}): {short_error(exc)}", True)

    def _job_failed(self, exc: BaseException) -> None:
        self._report(exc, "background job failed")

    def _update_busy(self, _=None) -> None:
        """Emit busy True/False when the combined state of the two workers flips."""
        with self._busy_lock:
            busy = self.is_busy
            if busy == self._busy:
                return
            self._busy = busy
            self.busy.emit(busy)
