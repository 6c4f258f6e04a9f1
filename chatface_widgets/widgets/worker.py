"""Background threads for a panel: a render worker where the newest job wins, and an in-order queue.

``LatestWorker`` keeps at most one job waiting: a newer ``submit`` replaces the waiting job and
cancels the running one through its :class:`Ticket` (the diffusion callback checks it between
steps). ``QueueWorker`` runs every job in order (chat messages are never dropped). Both start their
thread on first use, report busy/idle changes, and hand job exceptions to ``on_error``.

At interpreter exit (a script that ends with a panel open, a kernel shutdown or restart) an
``atexit`` hook, registered when the first thread starts, closes every live worker: running renders
are cancelled and joined at their next step boundary. Without it the process aborted with
``terminate called without an active exception`` (exit 134): the daemon render thread was still
inside a torch kernel while the interpreter tore torch down.
"""

from __future__ import annotations

import atexit
import collections
import logging
import os
import threading
import time
import weakref
from typing import Callable, Optional

log = logging.getLogger(__name__)

# Workers whose thread is running; close_all() stops them at exit.
_LIVE: "weakref.WeakSet[_Worker]" = weakref.WeakSet()
_LIVE_LOCK = threading.Lock()
_EXIT_HOOKED = False


def exit_wait_seconds() -> float:
    """How long the exit hook waits for running jobs to stop (``$CHATFACE_EXIT_WAIT``, default 60 s)."""
    try:
        return max(0.0, float(os.environ.get("CHATFACE_EXIT_WAIT", "60")))
    except ValueError:
        return 60.0


def close_all(timeout: Optional[float] = None) -> int:
    """Close every live worker: cancel all first, then join them within one shared ``timeout``.

    Registered with ``atexit``; a render is cancelled between diffusion steps, so the wait is about
    one step. Returns how many threads are still running afterwards (0 when all stopped).
    """
    with _LIVE_LOCK:
        workers = list(_LIVE)
    for worker in workers:
        worker._request_close()
    deadline = time.monotonic() + (exit_wait_seconds() if timeout is None else timeout)
    left = 0
    for worker in workers:
        if not worker._join(max(0.0, deadline - time.monotonic())):
            left += 1
            log.warning("%s: still running at exit after the wait; leaving it", worker.name)
    return left


def _track(worker: "_Worker") -> None:
    global _EXIT_HOOKED
    with _LIVE_LOCK:
        _LIVE.add(worker)
        if not _EXIT_HOOKED:  # registered late (after torch's own hooks), so it runs before them
            atexit.register(close_all)
            _EXIT_HOOKED = True


class Ticket:
    """A submitted job's handle: ``cancelled`` turns True once a newer job replaces it."""

    __slots__ = ("number", "_event")

    def __init__(self, number: int):
        self.number = number
        self._event = threading.Event()

    def cancel(self) -> None:
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def __repr__(self) -> str:
        return f"Ticket({self.number}, cancelled={self.cancelled})"


class _Worker:
    """One lazily started daemon thread with an idle event and busy/idle notifications."""

    def __init__(self, name: str, on_error: Optional[Callable[[BaseException], None]] = None,
                 on_busy: Optional[Callable[[bool], None]] = None):
        self.name = name
        self.on_error = on_error
        self.on_busy = on_busy
        self._cond = threading.Condition()
        self._idle = threading.Event()
        self._idle.set()
        self._thread: Optional[threading.Thread] = None
        self._closed = False

    @property
    def idle(self) -> bool:
        """True when nothing is waiting or running."""
        return self._idle.is_set()

    def wait_idle(self, timeout: Optional[float] = None) -> bool:
        """Block until idle (True) or until ``timeout`` seconds pass (False)."""
        return self._idle.wait(timeout)

    def _start_locked(self) -> None:
        """Start the thread if needed; caller holds the condition."""
        if self._closed:
            raise RuntimeError(f"{self.name} is closed")
        if self._thread is None:
            self._thread = threading.Thread(target=self._loop, name=self.name, daemon=True)
            self._thread.start()
            _track(self)

    def _set_busy(self, busy: bool) -> None:
        """Flip the idle event; caller holds the condition (``_announce`` tells the listener later)."""
        if busy:
            self._idle.clear()
        else:
            self._idle.set()

    def _announce(self) -> None:
        """Tell ``on_busy`` the current state (outside the condition, so it may take other locks)."""
        if self.on_busy is None:
            return
        try:
            self.on_busy(not self.idle)
        except Exception as exc:  # noqa: BLE001 - the thread must survive a failing listener
            log.exception("%s: busy listener failed", self.name)
            if self.on_error is not None:
                self.on_error(exc)

    def _next_locked(self):
        """The next job to run, or None when there is none; caller holds the condition."""
        raise NotImplementedError

    def _has_work_locked(self) -> bool:
        raise NotImplementedError

    def _run(self, item) -> None:
        raise NotImplementedError

    def _loop(self) -> None:
        """Wait for a job, run it, go idle when nothing is left."""
        while True:
            with self._cond:
                while not self._has_work_locked() and not self._closed:
                    self._cond.wait()
                if self._closed:
                    self._set_busy(False)
                    break
                item = self._next_locked()
            try:
                self._run(item)
            except BaseException as exc:  # noqa: BLE001 - reported, never swallowed
                log.exception("%s: a job failed", self.name)
                if self.on_error is not None:
                    self.on_error(exc)
            went_idle = False
            with self._cond:
                if not self._has_work_locked():
                    self._set_busy(False)
                    went_idle = True
            if went_idle:
                self._announce()
        self._announce()

    def close(self, timeout: float = 2.0) -> None:
        """Stop the thread after its current job (waiting jobs are dropped, the running one cancelled)."""
        self._request_close()
        self._join(timeout)

    def _request_close(self) -> None:
        with self._cond:
            self._closed = True
            self._drop_locked()
            self._cond.notify_all()

    def _join(self, timeout: Optional[float]) -> bool:
        """Wait for the thread to end; True when it has (or never started)."""
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)
        stopped = thread is None or not thread.is_alive()
        if stopped:
            with _LIVE_LOCK:
                _LIVE.discard(self)
        self._idle.set()
        return stopped

    def _drop_locked(self) -> None:
        raise NotImplementedError


class LatestWorker(_Worker):
    """Runs ``job(ticket)`` for the newest submitted job only; a newer submit cancels the older ones."""

    def __init__(self, name: str = "chatface-render", **kwargs):
        super().__init__(name, **kwargs)
        self._pending: Optional[tuple[Callable[[Ticket], None], Ticket]] = None
        self._running: Optional[Ticket] = None
        self._count = 0

    def submit(self, job: Callable[[Ticket], None]) -> Ticket:
        """Queue ``job`` in place of any waiting one and cancel the running one."""
        with self._cond:
            self._start_locked()
            self._count += 1
            ticket = Ticket(self._count)
            if self._pending is not None:
                self._pending[1].cancel()
            if self._running is not None:
                self._running.cancel()
            self._pending = (job, ticket)
            self._set_busy(True)
            self._cond.notify_all()
        self._announce()
        return ticket

    def _has_work_locked(self) -> bool:
        return self._pending is not None

    def _next_locked(self):
        item, self._pending = self._pending, None
        self._running = item[1]
        return item

    def _run(self, item) -> None:
        job, ticket = item
        try:
            job(ticket)
        finally:
            with self._cond:
                if self._running is ticket:
                    self._running = None

    def _drop_locked(self) -> None:
        if self._pending is not None:
            self._pending[1].cancel()
            self._pending = None
        if self._running is not None:
            self._running.cancel()


class QueueWorker(_Worker):
    """Runs ``job()`` for every submitted job, one at a time, in submission order."""

    def __init__(self, name: str = "chatface-chat", **kwargs):
        super().__init__(name, **kwargs)
        self._queue: collections.deque = collections.deque()

    def submit(self, job: Callable[[], None]) -> None:
        """Append ``job`` to the queue."""
        with self._cond:
            self._start_locked()
            self._queue.append(job)
            self._set_busy(True)
            self._cond.notify_all()
        self._announce()

    def _has_work_locked(self) -> bool:
        return bool(self._queue)

    def _next_locked(self):
        return self._queue.popleft()

    def _run(self, item) -> None:
        item()

    def _drop_locked(self) -> None:
        self._queue.clear()
