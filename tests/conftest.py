"""Shared test helpers: where the golden fixtures live, and small engines built for tests."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parents[1]


def fixtures_root() -> Path:
    """``$CHATFACE_FIXTURES`` or ``<repo>/../shared/fixtures`` (CI lays shared/ beside the clone)."""
    return Path(os.environ.get("CHATFACE_FIXTURES", REPO.parent / "shared" / "fixtures"))


@pytest.fixture(scope="session")
def diffae_fixtures() -> Path:
    folder = fixtures_root() / "diffae"
    if not folder.is_dir():
        pytest.skip(f"golden fixtures not found at {folder}; set CHATFACE_FIXTURES")
    return folder


@pytest.fixture(scope="session")
def arcface_fixtures() -> Path:
    folder = fixtures_root() / "arcface"
    if not folder.is_dir():
        pytest.skip(f"golden fixtures not found at {folder}; set CHATFACE_FIXTURES")
    return folder


@pytest.fixture(autouse=True)
def _deterministic_threads():
    """Tests compare against stored numbers: keep torch on the same thread count every time."""
    before = torch.get_num_threads()
    torch.set_num_threads(min(2, before))
    yield
    torch.set_num_threads(before)
