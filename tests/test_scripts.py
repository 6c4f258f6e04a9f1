"""scripts/test.sh, scripts/setup.sh and .ci/run, driven with stub interpreters (nothing is installed)."""

from __future__ import annotations

import os
import sys
import re
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
BASH = shutil.which("bash")
pytestmark = pytest.mark.skipif(BASH is None, reason="needs bash")

STUB_PYTHON = """#!/bin/sh
echo "$*" >> "$STUB_LOG"
n=$(wc -l < "$STUB_LOG")
code=$(echo "$STUB_CODES" | cut -d, -f"$n")
exit "${code:-0}"
"""


def _executable(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(0o755)
    return path


def _repo_with(tmp_path: Path, *scripts: str) -> Path:
    for name in scripts:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(REPO / name, tmp_path / name)
    return tmp_path


def _run_test_sh(tmp_path, codes: str, **env) -> tuple[int, list[str], str]:
    repo = _repo_with(tmp_path, "scripts/test.sh")
    _executable(repo / "scripts" / "setup.sh", "#!/bin/sh\nexit 0\n")
    _executable(repo / ".venv" / "bin" / "python", STUB_PYTHON)
    log = tmp_path / "calls.log"
    full_env = {key: value for key, value in os.environ.items() if key != "CHATFACE_SLOW"}
    full_env.update(STUB_LOG=str(log), STUB_CODES=codes, CHATFACE_SKIP_BROWSER="1", **env)
    done = subprocess.run([BASH, str(repo / "scripts" / "test.sh")], env=full_env, capture_output=True, text=True,
                          timeout=60)
    calls = log.read_text().splitlines() if log.exists() else []
    return done.returncode, calls, done.stdout + done.stderr


def test_test_sh_runs_the_default_suite_then_the_slow_tests(tmp_path):
    status, calls, _ = _run_test_sh(tmp_path, "0,0")
    assert status == 0 and len(calls) == 2
    assert "-m not slow" in calls[0] and "notebooks" in calls[0] and "--nbval-lax" in calls[0]
    assert "-m slow tests" in calls[1] and "notebooks" not in calls[1]


@pytest.mark.parametrize("codes,expected", [("0,5", 0), ("1,0", 1), ("0,1", 1), ("2,1", 2), ("5,0", 5)])
def test_test_sh_exit_status(tmp_path, codes, expected):
    """No slow test selected (5) is fine in pass 2; pass 1 failing or selecting nothing is not."""
    status, calls, _ = _run_test_sh(tmp_path, codes)
    assert status == expected and len(calls) == 2  # pass 2 runs even after pass 1 failed


def test_test_sh_can_leave_out_the_slow_pass(tmp_path):
    status, calls, _ = _run_test_sh(tmp_path, "0", CHATFACE_SLOW="0")
    assert status == 0 and len(calls) == 1 and "-m not slow" in calls[0]


def test_ci_runs_the_readme_test_command():
    block = re.search(r"Set up and run the tests.*?```bash\n(.*?)```", (REPO / "README.md").read_text(), re.S)
    command = block.group(1).strip()
    assert command == "bash scripts/test.sh"
    assert command in (REPO / ".ci" / "run").read_text().splitlines()


@pytest.mark.parametrize("code", [0, 1, 5])
def test_ci_run_passes_the_status_on_and_names_exit_five(tmp_path, code):
    repo = _repo_with(tmp_path, ".ci/run")
    _executable(repo / "scripts" / "test.sh", f"#!/bin/sh\nexit {code}\n")
    done = subprocess.run([BASH, str(repo / ".ci" / "run")], capture_output=True, text=True, timeout=60)
    assert done.returncode == code
    assert ("collected no tests" in done.stderr) == (code == 5)


def _plan(tmp_path, *, system_torch: bool, nvidia: bool, spec: str = "") -> str:
    repo = _repo_with(tmp_path, "scripts/setup.sh")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "dirname").symlink_to(shutil.which("dirname"))
    if nvidia:
        _executable(bin_dir / "nvidia-smi", "#!/bin/sh\nexit 0\n")
    python = _executable(tmp_path / "python3", f"#!/bin/sh\ncat >/dev/null\nexit {0 if system_torch else 1}\n")
    env = {"PATH": str(bin_dir), "CHATFACE_PYTHON": str(python), "HOME": str(tmp_path)}
    if spec:
        env["CHATFACE_TORCH_SPEC"] = spec
    done = subprocess.run([BASH, str(repo / "scripts" / "setup.sh"), "--plan"], env=env, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert not (repo / ".venv").exists()  # --plan changes nothing
    return done.stdout.strip()


@pytest.mark.parametrize("system_torch,nvidia,spec,expected", [
    (True, False, "", "system"),             # reuse an installed torch (no download)
    (True, True, "", "system"),
    (False, False, "", "cpu"),               # no CUDA: a CPU-only build, never a CUDA wheel
    (False, True, "", "default"),
    (True, False, "torch==2.13.0", "spec"),  # an explicit spec wins
])
def test_setup_chooses_where_torch_comes_from(tmp_path, system_torch, nvidia, spec, expected):
    assert _plan(tmp_path, system_torch=system_torch, nvidia=nvidia, spec=spec) == expected


def test_package_metadata_has_an_spdx_licence_and_no_setuptools_warning(tmp_path):
    """`project.license` as a table is deprecated (setuptools >= 77 wants an SPDX string + license-files)."""
    setuptools = pytest.importorskip("setuptools")
    if tuple(int(p) for p in setuptools.__version__.split(".")[:2]) < (77, 0):
        pytest.skip(f"setuptools {setuptools.__version__} predates SPDX licence strings")
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy(REPO / name, tmp_path / name)
    shutil.copytree(REPO / "chatface_widgets", tmp_path / "chatface_widgets",
                    ignore=shutil.ignore_patterns("__pycache__"))
    script = ("import warnings\n"
              "from setuptools import build_meta\n"
              "with warnings.catch_warnings(record=True) as caught:\n"
              "    warnings.simplefilter('always')\n"
              "    folder = build_meta.prepare_metadata_for_build_wheel('out')\n"
              "print('FOLDER', folder)\n"
              "for w in caught:\n"
              "    print('WARNING', w.category.__name__, str(w.message).splitlines()[0])\n")
    (tmp_path / "out").mkdir()
    done = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    output = done.stdout + done.stderr
    assert "license" not in "\n".join(line for line in output.splitlines() if "Warning" in line or "WARNING" in line).lower()
    folder = next(line.split(' ', 1)[1] for line in done.stdout.splitlines() if line.startswith('FOLDER '))
    metadata = (tmp_path / "out" / folder / "METADATA").read_text()
    assert "License-Expression: MIT" in metadata and "License-File: LICENSE" in metadata
