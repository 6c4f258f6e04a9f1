"""The golden fixtures ship with the repository, and one helper (conftest.fixtures_root) finds them."""

from __future__ import annotations

import re
from pathlib import Path

import conftest
from conftest import FIXTURES_ENV, IN_REPO_FIXTURES, fixture_path, fixtures_root

TESTS = Path(__file__).resolve().parent

# A path that leaves the clone for a sibling shared/ folder (the parent's "shared", by any spelling).
_OUTSIDE = re.compile(r"""\.\./shared|/work/shared|parents\[\d\]\s*/\s*["']shared["']|\.parent\s*/\s*["']shared["']""")


def test_fixtures_are_committed_in_the_repository():
    for name in ("arcface", "diffae"):
        folder = IN_REPO_FIXTURES / name
        assert (folder / "README.md").is_file(), folder
        assert any(folder.glob("*.safetensors")), folder


def test_default_root_is_the_in_repo_copy(monkeypatch):
    monkeypatch.delenv(FIXTURES_ENV, raising=False)
    assert fixtures_root() == IN_REPO_FIXTURES
    assert fixture_path("diffae", "README.md") == IN_REPO_FIXTURES / "diffae" / "README.md"


def test_environment_variable_overrides_the_root(monkeypatch, tmp_path):
    monkeypatch.setenv(FIXTURES_ENV, str(tmp_path))
    assert fixtures_root() == tmp_path
    assert fixture_path("arcface", "x.json") == tmp_path / "arcface" / "x.json"
    monkeypatch.setenv(FIXTURES_ENV, "  ")  # blank counts as unset
    assert fixtures_root() == IN_REPO_FIXTURES


def test_no_test_reads_fixtures_from_outside_the_clone():
    """A user's clone has no shared/ folder beside it: every fixture path goes through conftest's helper."""
    offenders = []
    for path in sorted(TESTS.rglob("*.py")):
        if path == Path(__file__).resolve() or "fixtures" in path.relative_to(TESTS).parts[:1]:
            continue
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if _OUTSIDE.search(line):
                offenders.append(f"{path.relative_to(TESTS.parent)}:{number}: {line.strip()}")
    assert not offenders, "use conftest.fixture_path(...) instead of the sibling shared/ folder:\n" + "\n".join(offenders)


def test_pattern_catches_the_old_spellings():
    sibling, up = "shared", ".."  # spelled in parts so that this file itself names no outside path
    for line in (f'FIXTURES = Path(__file__).resolve().parents[2] / "{sibling}" / "fixtures"',
                 f'REPO.parent / "{sibling}" / "fixtures"', f'open("{up}/{sibling}/fixtures/x")',
                 f"'/work/{sibling}/fixtures'"):
        assert _OUTSIDE.search(line), line
    assert not _OUTSIDE.search('fixture_path("diffae", "shared_weights.json")')
    assert conftest.fixtures_root is fixtures_root
