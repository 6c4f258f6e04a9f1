"""docs/architecture.md's module table is the package as it is (scripts/module_table.py writes it)."""

from __future__ import annotations

import runpy
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "module_table.py"


def test_the_module_table_is_current():
    tool = runpy.run_path(str(SCRIPT))
    doc = tool["DOC"].read_text(encoding="utf-8")
    assert tool["written"](doc) == doc, "docs/architecture.md is stale: run `python scripts/module_table.py --write`"


def test_every_module_has_a_one_line_docstring():
    tool = runpy.run_path(str(SCRIPT))
    missing = [p.relative_to(tool["PACKAGE"]).as_posix() for p in sorted(tool["PACKAGE"].rglob("*.py"))
               if not tool["_summary"](p)]
    assert not missing, f"modules without a docstring: {missing}"
