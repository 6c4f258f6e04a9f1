"""ChatFacePanel driven through its widgets' traits, on the tiny random engine (no front end)."""

from __future__ import annotations

import random
import threading
import time

import pytest

pytest.importorskip("ipywidgets")

from chatface_widgets.chat import Plan, ScriptedInterpreter  # noqa: E402
from chatface_widgets.editing.registry import UnknownAttributeError  # noqa: E402
from chatface_widgets.photos.photo import PhotoError  # noqa: E402
from chatface_widgets.testing.tiny import tiny_engine  # noqa: E402
from chatface_widgets.toy import sample_photo  # noqa: E402
from chatface_widgets.widgets.panel import ChatFacePanel  # noqa: E402

WAIT = 30  # seconds; generous because the CI machine may be busy


@pytest.fixture(scope="module")
def engine():
    return tiny_engine()


@pytest.fixture
def make_panel(engine):
    panels = []

    def make(**kwargs):
        kwargs.setdefault("engine", engine)
        panel = ChatFacePanel(**kwargs)
        panels.append(panel)
        assert panel.wait_idle(WAIT)
        return panel

    yield make
    for panel in panels:
        panel.close()


def expected(panel, edits, **kwargs):
    """What the face renders for ``edits`` when asked directly (the panel must show exactly this)."""
    snap = panel.state.snapshot()
    kwargs.setdefault("steps", snap.steps)
    kwargs.setdefault("sms", snap.sms)
    return panel.face.render(edits, **kwargs).tobytes()


def slow_down(engine, seconds):
    """Make every network call of ``engine`` take at least ``seconds`` (for cancellation tests)."""
    fast = engine.speed

    class Slow:
        def __call__(self, x, t, z):
            time.sleep(seconds)
            return fast(x, t, z)

        def __getattr__(self, name):
            return getattr(fast, name)

    engine.speed = Slow()


def classes(widget):
    return set(widget._dom_classes)


def test_layout_has_the_dom_hooks(make_panel):
    panel = make_panel()
    assert "cf-panel" in classes(panel.widget) and "cf-busy" not in classes(panel.widget)
    assert "cf-chat" in classes(panel.chat_input)
    assert "cf-log" in classes(panel.chat_view)
    assert "cf-status" in classes(panel.status_line)
    assert "cf-image-original" in classes(panel.image_original)
    assert "cf-image-edited" in classes(panel.image_edited)
    assert "cf-slider-red-lipstick" in classes(panel.sliders["red lipstick"])
    shown = [s.description for s in panel.slider_box.children]
    assert shown == ["smile", "eyeglasses", "red lipstick", "curly hair"]
    assert all(s.min == -1 and s.max == 1 for s in panel.sliders.values())
    assert panel.image_original.format == "png" and panel.image_original.value[:4] == b"\x89PNG"


def test_first_render_is_the_reconstruction(make_panel):
    panel = make_panel()
    assert panel.edited.tobytes() == expected(panel, {})
    assert panel.progress.value == panel.progress.max == 8
    assert "ms" in panel.status_text and not panel.status_is_error


def test_chat_sets_several_sliders_and_renders_once(make_panel):
    panel = make_panel()
    started = panel.controller.stats.started
    panel.send("add a big smile and glasses")
    assert panel.wait_idle(WAIT)
    assert panel.sliders["smile"].value == 0.8 and panel.sliders["eyeglasses"].value == 0.5
    assert panel.controller.stats.started == started + 1
    assert panel.edited.tobytes() == expected(panel, {"smile": 0.8, "eyeglasses": 0.5})
    assert [e.role for e in panel.chat_log] == ["user", "assistant"]
    assert "smile" in panel.chat_log[-1].text


def test_slider_change_re_renders_and_feeds_chat_follow_ups(make_panel):
    panel = make_panel()
    before = panel.image_edited.value
    panel.sliders["beard"].value = 0.3  # a hidden slider: setting it shows it
    assert panel.wait_idle(WAIT)
    assert panel.image_edited.value != before
    assert panel.sliders["beard"] in panel.slider_box.children
    assert panel.edited.tobytes() == expected(panel, {"beard": 0.3})
    panel.send("a bit more")  # the rules interpreter follows up on the slider the user moved
    assert panel.wait_idle(WAIT)
    assert panel.sliders["beard"].value == pytest.approx(0.55)


def test_chat_text_is_escaped_in_the_log(make_panel):
    panel = make_panel()
    panel.chat_input.value = "<script>alert(1)</script> & <b>smile</b>"  # Enter (continuous_update=False)
    assert panel.wait_idle(WAIT)
    assert panel.chat_input.value == ""
    assert "<script>" not in panel.chat_view.value
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; &lt;b&gt;smile&lt;/b&gt;" in panel.chat_view.value


def test_send_button_sends_once(make_panel):
    panel = make_panel()
    panel.send_button.click()  # nothing typed: nothing sent
    assert panel.chat_log == []
    panel._local.syncing = True  # simulate typing without Enter (value not submitted)
    panel.chat_input.value = "add glasses"
    panel._local.syncing = False
    panel.send_button.click()
    assert panel.wait_idle(WAIT)
    assert [e.text for e in panel.chat_log][:1] == ["add glasses"] and len(panel.chat_log) == 2
    assert panel.sliders["eyeglasses"].value == 0.5


def test_busy_class_while_thinking(make_panel, engine):
    release = threading.Event()

    def slow(text, current, steps):
        release.wait(WAIT)
        return Plan(edits={"smile": 0.4}, reply="ok")

    panel = make_panel(interpreter=ScriptedInterpreter(slow))
    panel.send("anything")
    assert "cf-busy" in classes(panel.widget)
    assert not panel.wait_idle(0.05)
    release.set()
    assert panel.wait_idle(WAIT)
    assert "cf-busy" not in classes(panel.widget)
    assert panel.sliders["smile"].value == 0.4


def test_undo_redo_reset_buttons_and_chat_actions(make_panel):
    panel = make_panel()
    assert panel.undo_button.disabled and panel.redo_button.disabled
    panel.sliders["smile"].value = 0.5
    panel.sliders["smile"].value = 0.9
    panel.undo_button.click()
    assert panel.sliders["smile"].value == 0.5 and not panel.redo_button.disabled
    panel.redo_button.click()
    assert panel.sliders["smile"].value == 0.9
    panel.reset_button.click()
    assert panel.sliders["smile"].value == 0.0
    panel.send("undo")
    assert panel.wait_idle(WAIT)
    assert panel.sliders["smile"].value == 0.9
    assert panel.edited.tobytes() == expected(panel, {"smile": 0.9})
    panel.send("reset")
    assert panel.wait_idle(WAIT)
    assert panel.state.snapshot().edits == {} and panel.edited.tobytes() == expected(panel, {})


def test_add_menu_steps_and_sms(make_panel):
    panel = make_panel()
    panel.add_menu.value = "pale skin"
    assert panel.sliders["pale skin"] in panel.slider_box.children
    assert panel.add_menu.value == "" and "pale skin" not in [v for _, v in panel.add_menu.options]
    panel.sliders["smile"].value = 0.7
    panel.steps_menu.value = 12
    panel.sms_box.value = False
    assert panel.wait_idle(WAIT)
    snap = panel.state.snapshot()
    assert (snap.steps, snap.sms) == (12, False)
    assert panel.progress.max == 12
    assert panel.edited.tobytes() == expected(panel, {"smile": 0.7}, steps=12, sms=False)
    panel.send("high quality please")
    assert panel.wait_idle(WAIT)
    assert panel.steps_menu.value == 50


def test_strength_strip_is_one_batch_of_the_last_touched_attribute(make_panel):
    panel = make_panel()
    panel.strip_box.value = True
    panel.sliders["eyeglasses"].value = 0.6
    assert panel.wait_idle(WAIT)
    result = panel.last_result
    assert result.strip_attribute == "eyeglasses" and len(result.strip) == 5
    batch = panel.face.render_many([{"eyeglasses": s} for s in (-1.0, -0.5, 0.0, 0.5, 1.0)], steps=8)
    assert [im.tobytes() for im in result.strip] == [im.tobytes() for im in batch]
    assert panel.strip_view.layout.display == "flex"


def test_live_preview_gets_the_predicted_image(make_panel):
    panel = make_panel()
    panel.controller.preview_every = 0.0
    seen = []
    panel.controller.progress.connect(lambda done, total, preview: seen.append((done, total, preview)))
    before = panel.preview.value
    panel.sliders["smile"].value = -0.5
    assert panel.wait_idle(WAIT)
    assert [d for d, _, _ in seen] == list(range(0, 9)) + [8]
    assert sum(p is not None for _, _, p in seen) == 7  # every step but the last (the final image)
    assert panel.preview.value != before


def test_a_newer_request_cancels_the_running_render(make_panel):
    engine = tiny_engine()
    slow_down(engine, 0.05)
    panel = make_panel(engine=engine)
    steps_done = []
    first_started = threading.Event()

    def on_progress(done, total, preview):
        steps_done.append(done)
        if done == 2:
            first_started.set()

    panel.controller.progress.connect(on_progress)
    panel.sliders["smile"].value = 0.3
    assert first_started.wait(WAIT)
    panel.sliders["smile"].value = 0.6
    assert panel.wait_idle(WAIT)
    stats = panel.controller.stats
    assert stats.cancelled >= 1
    assert steps_done.count(8) == 2  # the cancelled render never reached its last step (one 8 is the finish mark)
    assert panel.edited.tobytes() == expected(panel, {"smile": 0.6})


def test_slider_burst_from_two_threads_ends_in_the_right_image(make_panel):
    engine = tiny_engine()
    slow_down(engine, 0.005)
    panel = make_panel(engine=engine)
    rng = random.Random(0)
    moves = {name: [round(rng.uniform(-1, 1), 2) for _ in range(40)] for name in ("smile", "eyeglasses")}
    barrier = threading.Barrier(2)

    def drag(name):
        barrier.wait()
        for value in moves[name]:
            panel.sliders[name].value = value  # what a front-end message does on a kernel subshell
            time.sleep(rng.uniform(0, 0.004))

    threads = [threading.Thread(target=drag, args=(name,)) for name in moves]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert panel.wait_idle(WAIT)
    final = {name: values[-1] for name, values in moves.items()}
    assert {n: panel.sliders[n].value for n in final} == final
    assert panel.state.snapshot().edits == {k: v for k, v in final.items() if v}
    assert panel.edited.tobytes() == expected(panel, final)
    assert panel.controller.stats.completed < 80  # newest wins: far fewer renders than moves
    assert "cf-busy" not in classes(panel.widget)


def test_save_png_writes_new_files_and_never_the_photo(make_panel, tmp_path):
    photo = tmp_path / "me.png"
    sample_photo(1, 32).save(photo)
    original = photo.read_bytes()
    panel = make_panel(photo=str(photo))
    panel.sliders["smile"].value = 0.5
    assert panel.wait_idle(WAIT)
    panel.save_button.click()
    second = panel.save_png()
    first = tmp_path / "me-chatface-001.png"
    assert first.is_file() and second == tmp_path / "me-chatface-002.png"
    assert photo.read_bytes() == original
    assert "Saved" in panel.status_text


def test_errors_show_in_the_status_line(make_panel, engine):
    bad = ScriptedInterpreter([Plan(edits={"top hat": 0.5}, reply="hat on")])
    panel = make_panel(interpreter=bad)
    panel.send("give me a top hat")
    assert panel.wait_idle(WAIT)
    assert panel.status_is_error and "top hat" in panel.status_text
    assert isinstance(panel.last_error, UnknownAttributeError)
    assert panel.chat_log[-1].role == "error"

    def broken(*args, **kwargs):
        raise RuntimeError("decoder exploded")

    panel.face.render = broken
    panel.sliders["smile"].value = 0.5
    assert panel.wait_idle(WAIT)
    assert panel.status_is_error and "decoder exploded" in panel.status_text
    assert "decoder exploded" in panel.status_line.value


def test_bad_photo_raises_photo_error(engine, tmp_path):
    empty = tmp_path / "empty.jpg"
    empty.write_bytes(b"")
    with pytest.raises(PhotoError):
        ChatFacePanel(str(empty), engine=engine)


def test_nan_slider_value_snaps_back_and_says_why(make_panel):
    panel = make_panel()
    panel.sliders["smile"].value = -1.0
    assert panel.wait_idle(WAIT)
    image = panel.image_edited.value
    panel.sliders["smile"].value = float("nan")  # what a front-end message with a non-number does
    assert panel.wait_idle(WAIT)
    assert panel.state.snapshot().strengths["smile"] == -1.0
    assert panel.sliders["smile"].value == -1.0  # the slider shows the state's value again
    assert panel.status_is_error and "finite" in panel.status_text
    assert panel.image_edited.value == image
    panel.sliders["smile"].value = 0.5  # and the slider still works
    assert panel.wait_idle(WAIT)
    assert panel.state.snapshot().strengths["smile"] == 0.5


@pytest.mark.parametrize("value", [float("inf"), float("-inf"), 0.333])
def test_slider_always_shows_the_state_value(make_panel, value):
    """The slider clamps infinities itself; a value the state rounds is shown rounded."""
    panel = make_panel()
    panel.sliders["smile"].value = value
    assert panel.wait_idle(WAIT)
    assert panel.sliders["smile"].value == panel.state.snapshot().strengths["smile"]


def test_a_photo_with_two_faces_offers_a_face_menu(tmp_path):
    pytest.importorskip("dlib", reason="needs the [align] extra: pip install 'chatface-widgets[align]'")
    skimage = pytest.importorskip("skimage.data", reason="needs scikit-image (test extra) for a real photo")
    from PIL import Image

    from chatface_widgets.engine.engine import Engine

    crop = Image.fromarray(skimage.astronaut()).crop((100, 0, 350, 300))
    photo = Image.new("RGB", (500, 300))
    photo.paste(crop, (0, 0))
    photo.paste(crop, (250, 0))
    path = tmp_path / "two.png"
    photo.save(path)
    engine = Engine.load("tiny", align=True)  # the tiny network, aligning real photos
    panel = ChatFacePanel(path, engine=engine, interpreter="rules")
    try:
        assert panel.wait_idle(WAIT)
        assert panel.face_menu.layout.display == "flex" and len(panel.face_menu.options) == 2
        assert any("Found 2 faces" in entry.text for entry in panel.chat_log)
        first = panel.image_original.value
        panel.face_menu.value = 1  # as the front end sets it
        assert panel.wait_idle(WAIT)
        assert panel.face.aligned.index == 1 and panel.controller.face.aligned.index == 1
        assert panel.image_original.value != first
        assert panel.last_result is not None and panel.last_error is None
    finally:
        panel.close()
    single = ChatFacePanel(path, engine=engine, interpreter="rules", face_index=1)
    try:
        assert single.face.aligned.index == 1 and single.face_menu.value == 1
    finally:
        single.close()


def test_local_switch_and_reach_each_render_once_and_show_the_region(make_panel):
    panel = make_panel()
    panel.sliders["smile"].value = 0.8
    assert panel.wait_idle(WAIT)
    assert panel.last_result.region is not None and panel.region_view.layout.display == "flex"
    started = panel.controller.stats.started
    panel.local_box.value = False
    assert panel.wait_idle(WAIT)
    assert panel.controller.stats.started == started + 1
    assert panel.edited.tobytes() == expected(panel, {"smile": 0.8}, local=False)
    assert panel.reach_slider.disabled and panel.region_view.layout.display == "none"
    panel.local_box.value = True
    assert panel.wait_idle(WAIT)
    computed = panel.face.region_computations
    panel.reach_slider.value = 0.1
    assert panel.wait_idle(WAIT)
    assert panel.controller.stats.started == started + 3
    assert panel.face.region_computations == computed  # a new reach re-uses the cached score
    assert panel.edited.tobytes() == expected(panel, {"smile": 0.8}, reach=0.1)
