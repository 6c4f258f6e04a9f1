"""scripts/setup.sh never lets an extra replace .venv's torch, and leaves out [clip] beside a "+cpu" torch.

Driven with a stub .venv/bin/python: pip calls are recorded (nothing is installed), everything else runs on
a real interpreter that sees only a fake torch (and, when asked, a fake torchvision).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import EXTRA_OF

REPO = Path(__file__).resolve().parents[1]
BASH = shutil.which("bash")
pytestmark = pytest.mark.skipif(BASH is None, reason="needs bash")

STUB = """#!/bin/sh
if [ "$1" = "-m" ] && [ "$2" = "pip" ]; then
  echo "PIP $*" >> "$STUB_LOG"
  prev=""
  for arg in "$@"; do
    if [ "$prev" = "-c" ]; then sed 's/^/PIN /' "$arg" >> "$STUB_LOG"; fi
    prev="$arg"
  done
  exit 0
fi
PYTHONPATH="$FAKE_SITE" exec "$REAL_PYTHON" -S "$@"
"""


def _fake_package(site: Path, name: str, version: str) -> None:
    """A package that imports, with the metadata pip and importlib.metadata read."""
    (site / name).mkdir(parents=True)
    (site / name / "__init__.py").write_text(f"__version__ = {version!r}\n")
    info = site / f"{name}-{version}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")


def _setup(tmp_path: Path, torch: str, torchvision: str | None = None, extras: str = "all,test"):
    """Run setup.sh EXTRAS in a copy of the repository; returns (status, pip calls, pins, stderr)."""
    repo = tmp_path / "repo"
    (repo / "scripts").mkdir(parents=True)
    shutil.copy(REPO / "scripts" / "setup.sh", repo / "scripts" / "setup.sh")
    shutil.copy(REPO / "pyproject.toml", repo / "pyproject.toml")
    python = repo / ".venv" / "bin" / "python"
    python.parent.mkdir(parents=True)
    python.write_text(STUB)
    python.chmod(0o755)
    site = tmp_path / "site"
    _fake_package(site, "torch", torch)
    if torchvision:
        _fake_package(site, "torchvision", torchvision)
    log = tmp_path / "log"
    env = {**os.environ, "STUB_LOG": str(log), "FAKE_SITE": str(site), "REAL_PYTHON": sys.executable}
    done = subprocess.run([BASH, str(repo / "scripts" / "setup.sh"), extras], env=env, capture_output=True,
                          text=True, timeout=120)
    lines = log.read_text().splitlines() if log.exists() else []
    calls = [line for line in lines if line.startswith("PIP ")]
    pins = [line[4:] for line in lines if line.startswith("PIN ")]
    return done.returncode, calls, pins, done.stderr


def _installed_extras(calls: list[str]) -> set[str]:
    """The extras of the last pip call, which installs the package itself."""
    match = re.search(r"-e \.\[([^\]]*)\]", calls[-1])
    return set(match.group(1).split(",")) if match else set()


def test_a_cpu_torch_is_pinned_and_clip_is_left_out_with_one_line(tmp_path):
    status, calls, pins, err = _setup(tmp_path, "2.13.0+cpu")
    assert status == 0, err
    assert pins == ["torch==2.13.0+cpu"]
    assert "-c .venv/chatface-constraints.txt" in calls[-1]
    assert _installed_extras(calls) == {"widgets", "llm", "embed", "align", "train", "test"}
    note = [line for line in err.splitlines() if "[clip]" in line]
    assert len(note) == 1
    assert "torchvision" in note[0] and "2.13.0+cpu" in note[0] and "--index-url" in note[0]


def test_a_cpu_torch_with_its_torchvision_keeps_clip_and_pins_both(tmp_path):
    status, calls, pins, err = _setup(tmp_path, "2.13.0+cpu", torchvision="0.28.0+cpu")
    assert status == 0, err
    assert pins == ["torch==2.13.0+cpu", "torchvision==0.28.0+cpu"]
    assert "clip" in _installed_extras(calls) and "[clip]" not in err


def test_a_pypi_torch_keeps_clip_and_is_pinned(tmp_path):
    status, calls, pins, err = _setup(tmp_path, "2.14.1")
    assert status == 0, err
    assert pins == ["torch==2.14.1"]
    assert _installed_extras(calls) == {"widgets", "llm", "embed", "align", "train", "clip", "test"}


def test_the_default_extras_are_unchanged_and_pinned(tmp_path):
    status, calls, pins, err = _setup(tmp_path, "2.13.0+cpu", extras="widgets,llm,embed,align")
    assert status == 0, err
    assert _installed_extras(calls) == {"widgets", "llm", "embed", "align"} and "[clip]" not in err
    assert pins == ["torch==2.13.0+cpu"] and all(" torch" not in call for call in calls)


def test_only_the_clip_extra_needs_torchvision():
    text = (REPO / "pyproject.toml").read_text()
    extras = dict(re.findall(r"^([a-z]+) = \[(.*)\]$", text, re.M))
    assert "open_clip" in extras["clip"]
    assert all("open_clip" not in extras[name] for name in extras if name != "clip")
    assert "clip" in re.search(r"chatface-widgets\[(.*)\]", extras["all"]).group(1).split(",")
    assert EXTRA_OF["open_clip"] == "clip"
