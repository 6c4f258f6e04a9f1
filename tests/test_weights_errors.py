"""`chatface weights`: every mistake exits 2 with a first line `chatface: error: ...` (issue 27)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from chatface_widgets.cli.main import main as chatface
from chatface_widgets.engine import download as D
from chatface_widgets.engine import weights as W


@pytest.fixture()
def home(tmp_path, monkeypatch):
    monkeypatch.setenv(W.ENV_HOME, str(tmp_path / "home"))
    monkeypatch.delenv(W.ENV_BASE_URL, raising=False)
    monkeypatch.setattr(D, "gdown_available", lambda: False)
    return tmp_path / "home"


def _run(argv, capsys) -> tuple[int, str]:
    """Run `chatface weights ARGV`; a parser's SystemExit counts as its exit status."""
    try:
        status = chatface(["weights", *argv])
    except SystemExit as exc:
        status = exc.code
    return status, capsys.readouterr().err


@pytest.mark.parametrize("argv", [
    ["path", "ffhq256_autoenc_cls"],           # not downloaded
    ["path", "no-such-model"],                 # unknown name
    ["download", "no-such-model"],
    ["download", "ffhq256_autoenc", "--no-progress"],  # no mirror: the manual steps follow the first line
    ["download"],                              # usage: a name is needed
    ["fetch", "x"],                            # usage: no such sub-command
    [],
    ["list", "--bogus"],
])
def test_every_error_exits_two_with_the_prefix(home, capsys, argv):
    status, err = _run(argv, capsys)
    assert status == 2
    assert err.startswith("chatface: error: ")
    assert "Traceback" not in err and "usage:" not in err


def test_a_usage_error_is_one_line_naming_the_help(home, capsys):
    status, err = _run(["download"], capsys)
    assert status == 2 and len(err.strip().splitlines()) == 1
    assert "chatface weights download --help" in err


def test_an_unknown_name_is_one_line(home, capsys):
    status, err = _run(["path", "no-such-model"], capsys)
    assert status == 2 and len(err.strip().splitlines()) == 1 and "no-such-model" in err


def test_an_unwritable_cache_is_one_line(home, capsys, monkeypatch):
    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied", str(home / "downloads"))

    monkeypatch.setattr(D, "download", refuse)
    status, err = _run(["download", "ffhq256_autoenc"], capsys)
    assert status == 2 and len(err.strip().splitlines()) == 1
    assert str(home / "downloads") in err and W.ENV_HOME in err


def test_ctrl_c_says_how_to_resume(home, capsys, monkeypatch):
    def interrupt(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(D, "download", interrupt)
    status, err = _run(["download", "ffhq256_autoenc"], capsys)
    assert status == 130 and "resume" in err and "Traceback" not in err


def test_the_installed_command_exits_two(tmp_path):
    done = subprocess.run([sys.executable, "-m", "chatface_widgets.cli.main", "weights", "path", "nope"],
                          capture_output=True, text=True, timeout=120,
                          env={"CHATFACE_HOME": str(tmp_path), "PATH": "/usr/bin:/bin",
                               "PYTHONPATH": ":".join(sys.path)})
    assert done.returncode == 2 and done.stderr.startswith("chatface: error: ")
