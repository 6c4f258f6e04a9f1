"""PanelState (thread-safe strengths, steps, SMS, history) and the background workers, without widgets."""

from __future__ import annotations

import threading
import time

import pytest

from chatface_widgets.editing.registry import UnknownAttributeError
from chatface_widgets.widgets.state import PanelState, quantize
from chatface_widgets.widgets.worker import LatestWorker, QueueWorker

ATTRS = ("smile", "eyeglasses", "red lipstick", "beard", "gray hair")


def make_state(**kwargs) -> PanelState:
    return PanelState(ATTRS, **kwargs)


def test_quantize_clamps_rounds_and_refuses_nan():
    assert quantize(0.333) == 0.33
    assert quantize(2.5) == 1.0 and quantize(-7) == -1.0
    assert str(quantize(-0.001)) == "0.0"
    with pytest.raises(ValueError):
        quantize(float("nan"))


def test_defaults_show_the_first_four_sliders_at_zero():
    snap = make_state().snapshot()
    assert snap.active == ATTRS[:4]
    assert dict(snap.strengths) == {a: 0.0 for a in ATTRS[:4]}
    assert snap.edits == {} and snap.steps == 8 and snap.sms and not snap.can_undo


def test_several_strengths_are_one_change_one_notification_one_undo():
    state = make_state()
    seen = []
    state.subscribe(seen.append)
    assert state.apply({"smile": 0.8, "beard": 0.4, "gray hair": -0.5})
    assert len(seen) == 1 and seen[0].version == 1
    assert seen[0].edits == {"smile": 0.8, "beard": 0.4, "gray hair": -0.5}
    assert "gray hair" in seen[0].active  # a slider appears for a newly edited attribute
    assert state.undo()
    assert state.snapshot().edits == {}
    assert state.redo()
    assert state.snapshot().edits == {"smile": 0.8, "beard": 0.4, "gray hair": -0.5}


def test_same_value_is_not_a_change():
    state = make_state()
    state.set_strength("smile", 0.5)
    version = state.version
    assert not state.set_strength("smile", 0.5)
    assert not state.set_strength("smile", 0.501)  # below the slider resolution
    assert state.version == version


def test_undo_redo_reset_and_redo_cleared_by_a_new_change():
    state = make_state()
    state.set_strength("smile", 0.5)
    state.set_strength("smile", 0.9)
    state.set_steps(20)
    assert state.undo() and state.snapshot().steps == 8
    assert state.undo() and state.snapshot().edits == {"smile": 0.5}
    state.set_strength("beard", 0.3)
    assert not state.redo()
    assert state.reset() and state.snapshot().edits == {}
    assert state.snapshot().active[:4] == ATTRS[:4]  # sliders stay after a reset
    assert state.undo() and state.snapshot().edits == {"smile": 0.5, "beard": 0.3}
    assert not make_state().undo()


def test_names_are_normalised_and_unknown_ones_refused():
    state = make_state()
    state.set_strength("Red_Lipstick", 0.4)
    assert state.snapshot().edits == {"red lipstick": 0.4}
    with pytest.raises(UnknownAttributeError, match="smile"):
        state.set_strength("top hat", 0.5)
    with pytest.raises(ValueError):
        state.set_steps(7000)


def test_view_options_are_not_history():
    state = make_state()
    assert state.set_strip(True) and state.add_attribute("gray hair")
    assert not state.add_attribute("gray hair")
    snap = state.snapshot()
    assert snap.strip and "gray hair" in snap.active and not snap.can_undo


def test_render_key_ignores_versions_and_zero_sliders():
    state = make_state()
    key = state.snapshot().render_key
    state.add_attribute("gray hair")
    assert state.snapshot().render_key == key
    state.set_strength("smile", 0.2)
    assert state.snapshot().render_key != key


def test_two_threads_hammering_the_state_stay_consistent():
    state = make_state()
    versions = []
    state.subscribe(lambda snap: versions.append(snap.version))
    barrier = threading.Barrier(2)

    def move(name, values):
        barrier.wait()
        for v in values:
            state.set_strength(name, v)

    a = [round((i % 41 - 20) / 20, 2) for i in range(300)]
    b = [round((i % 37 - 18) / 18, 2) for i in range(300)]
    threads = [threading.Thread(target=move, args=("smile", a)), threading.Thread(target=move, args=("beard", b))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    snap = state.snapshot()
    assert snap.strengths["smile"] == quantize(a[-1]) and snap.strengths["beard"] == quantize(b[-1])
    assert snap.version == len(versions) and sorted(versions) == list(range(1, snap.version + 1))


def test_latest_worker_runs_the_newest_and_cancels_the_running_job():
    busy = []
    worker = LatestWorker(on_busy=busy.append)
    gate, ran, stopped_early = threading.Event(), [], []

    def job(n, ticket):
        ran.append(n)
        if n == 0:
            gate.set()
            for _ in range(200):  # a "diffusion loop" that checks its ticket between steps
                if ticket.cancelled:
                    stopped_early.append(n)
                    return
                time.sleep(0.005)

    worker.submit(lambda t: job(0, t))
    assert gate.wait(5)
    tickets = [worker.submit(lambda t, n=n: job(n, t)) for n in range(1, 6)]
    assert worker.wait_idle(5)
    assert ran == [0, 5] and stopped_early == [0]
    assert [t.cancelled for t in tickets] == [True] * 4 + [False]
    assert busy[0] is True and busy[-1] is False
    worker.close()


def test_queue_worker_keeps_order_and_survives_errors():
    errors = []
    worker = QueueWorker(on_error=errors.append)
    done = []
    for n in range(5):
        worker.submit(lambda n=n: (_ for _ in ()).throw(RuntimeError("boom")) if n == 2 else done.append(n))
    assert worker.wait_idle(5)
    assert done == [0, 1, 3, 4]
    assert len(errors) == 1 and str(errors[0]) == "boom"
    worker.close()
    with pytest.raises(RuntimeError):
        worker.submit(lambda: None)
