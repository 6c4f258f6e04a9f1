"""``%load_ext chatface_widgets`` and ``%chatface`` through IPython's global test shell."""

from __future__ import annotations

import pytest

pytest.importorskip("ipywidgets")
pytest.importorskip("IPython")

from IPython.testing.globalipapp import start_ipython  # noqa: E402
from IPython.utils.capture import capture_output  # noqa: E402

from chatface_widgets.chat import OpenAIInterpreter, RuleInterpreter  # noqa: E402
from chatface_widgets.toy import sample_photo  # noqa: E402
from chatface_widgets.widgets.panel import ChatFacePanel  # noqa: E402

WAIT = 30


@pytest.fixture(scope="module")
def ip():
    shell = start_ipython() or __import__("IPython").get_ipython()  # None when already started
    shell.run_line_magic("load_ext", "chatface_widgets")
    yield shell
    shell.run_line_magic("unload_ext", "chatface_widgets")


@pytest.fixture
def opened(ip):
    """Run a cell and close the panels it left in the namespace afterwards."""
    names = []

    def run(cell, name="panel"):
        names.append(name)
        with capture_output() as captured:
            result = ip.run_cell(cell)
        return result, captured

    yield run
    for name in names:
        panel = ip.user_ns.pop(name, None)
        if isinstance(panel, ChatFacePanel):
            panel.close()


def widget_outputs(captured):
    return [o for o in captured.outputs if "application/vnd.jupyter.widget-view+json" in o.data]


def test_magic_returns_and_displays_the_panel_once(ip, opened):
    result, captured = opened("panel = %chatface --model tiny --steps 10")
    assert result.success
    panel = ip.user_ns["panel"]
    assert isinstance(panel, ChatFacePanel) and isinstance(panel.interpreter, RuleInterpreter)
    assert len(widget_outputs(captured)) == 1
    assert panel.wait_idle(WAIT)
    assert panel.state.snapshot().steps == 10 and panel.progress.max == 10
    assert panel.edited.tobytes() == panel.face.render({}, steps=10).tobytes()
    panel.send("add a big smile")
    assert panel.wait_idle(WAIT)
    assert panel.sliders["smile"].value == 0.8


def test_magic_as_last_line_displays_once_and_later_again(ip, opened):
    result, captured = opened("%chatface --model tiny", name="_")
    assert result.success and isinstance(result.result, ChatFacePanel)
    assert len(widget_outputs(captured)) == 1  # not twice: the echoed result is skipped
    ip.user_ns["again"] = result.result
    _, captured = opened("again", name="again")
    assert len(widget_outputs(captured)) == 1  # a later cell shows it normally


def test_photo_argument_and_openai_choice(ip, opened, tmp_path, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    photo = tmp_path / "my face.png"
    sample_photo("cleo", 48).save(photo)
    result, _ = opened(f'panel = %chatface "{photo}" --model tiny --llm openai')
    assert result.success
    panel = ip.user_ns["panel"]
    assert isinstance(panel.interpreter, OpenAIInterpreter)
    assert panel.controller.stem == "my face" and panel.controller.save_dir == tmp_path.resolve()
    panel.send("add glasses")  # no key: the interpreter falls back to the rules and says so
    assert panel.wait_idle(WAIT)
    assert panel.sliders["eyeglasses"].value == 0.5
    assert panel.chat_log[-1].note


def test_bad_photo_is_a_short_usage_error(ip, opened, tmp_path):
    result, captured = opened(f"panel = %chatface {tmp_path / 'missing.jpg'} --model tiny")
    assert not result.success
    assert "no such file" in str(result.error_in_exec)
    assert "Traceback" not in captured.stdout + captured.stderr


def test_invalid_steps_are_a_usage_error(ip, opened):
    result, _ = opened("panel = %chatface --model tiny --steps 7000")
    assert not result.success and "steps" in str(result.error_in_exec)


def test_default_model_opens_even_without_toy_weights(ip, opened):
    result, _ = opened("panel = %chatface")
    assert result.success
    panel = ip.user_ns["panel"]
    assert panel.wait_idle(WAIT)
    if panel.engine.info.name == "tiny":  # the built-in weights are not here yet: the log says so
        assert "tiny" in panel.chat_log[0].text


def test_unload_removes_the_magic(ip):
    shell = ip
    assert "chatface" in shell.magics_manager.magics["line"]
    shell.run_line_magic("unload_ext", "chatface_widgets")
    assert "chatface" not in shell.magics_manager.magics["line"]
    shell.run_line_magic("load_ext", "chatface_widgets")
