"""Worker threads stop cleanly at interpreter exit: a script that ends with a render running exits 0.

Before the atexit hook, the daemon render thread was still inside torch while the interpreter shut
down, and the process aborted (``terminate called without an active exception``, exit 134).
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from chatface_widgets.widgets import worker as W

REPO = Path(__file__).resolve().parents[1]

RENDER_AT_EXIT = """
import threading, torch
from chatface_widgets.widgets.worker import LatestWorker
started = threading.Event()
def job(ticket):
    x = torch.randn(256, 256)
    started.set()
    while not ticket.cancelled:  # a render checks its ticket between diffusion steps
        x = torch.tanh(x @ x.T / 256)
worker = LatestWorker()
worker.submit(job)
started.wait(30)
"""

PANEL_AT_EXIT = "from chatface_widgets.widgets import ChatFacePanel; p = ChatFacePanel(engine='tiny')"


def _exit_codes(code: str, runs: int) -> list[tuple[int, str]]:
    env = {**os.environ, "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""),
           "OMP_NUM_THREADS": "2"}
    out = []
    for _ in range(runs):
        done = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True,
                              timeout=180)
        out.append((done.returncode, done.stderr[-300:]))
    return out


def test_script_ending_during_a_render_exits_cleanly():
    results = _exit_codes(RENDER_AT_EXIT, 2)  # aborted 2 times out of 2 before the fix
    assert [code for code, _ in results] == [0] * 2, results


@pytest.mark.needs("ipywidgets")
def test_script_ending_right_after_opening_a_panel_exits_cleanly():
    results = _exit_codes(PANEL_AT_EXIT, 4)
    assert [code for code, _ in results] == [0] * 4, results


def test_close_all_cancels_the_running_job_and_waits_for_it():
    seen = threading.Event()
    started = threading.Event()

    def job(ticket):
        started.set()
        while not ticket.cancelled:
            threading.Event().wait(0.005)
        seen.set()

    worker = W.LatestWorker(name="test-exit")
    worker.submit(job)
    assert started.wait(10)
    assert W.close_all(timeout=10) == 0
    assert seen.is_set() and worker.idle
    assert worker not in set(W._LIVE)
    with pytest.raises(RuntimeError, match="closed"):
        worker.submit(job)


def test_exit_wait_reads_the_environment(monkeypatch):
    monkeypatch.setenv("CHATFACE_EXIT_WAIT", "5")
    assert W.exit_wait_seconds() == 5.0
    monkeypatch.setenv("CHATFACE_EXIT_WAIT", "soon")
    assert W.exit_wait_seconds() == 60.0
