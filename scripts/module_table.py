"""Print (or --write into docs/architecture.md) the module table: every module of the package by layer,
its lines and the first line of its docstring. tests/test_architecture_doc.py fails when the doc is stale.

    python scripts/module_table.py            # print the table
    python scripts/module_table.py --write    # replace the table between the markers in docs/architecture.md
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "chatface_widgets"
DOC = ROOT / "docs" / "architecture.md"
START, END = "<!-- module table: python scripts/module_table.py --write -->", "<!-- end of module table -->"
ORDER = ("foundation", "models", "diffusion", "editing", "photos", "toy", "engine", "chat", "jobs", "widgets", "cli",
         "testing", "train", "eval", "bench", "")


def _summary(path: Path) -> str:
    doc = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or ""
    return doc.strip().splitlines()[0].replace("|", "\\|") if doc.strip() else ""


def table() -> str:
    """The markdown table: layer, module, lines of code, what it is."""
    rows, totals = [], {}
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE)
        layer = rel.parts[0] if len(rel.parts) > 1 else ""
        lines = len(path.read_text(encoding="utf-8").splitlines())
        totals[layer] = totals.get(layer, 0) + lines
        rows.append((ORDER.index(layer) if layer in ORDER else len(ORDER), layer, rel.as_posix(), lines, _summary(path)))
    out = ["| layer | module | lines | what it is |", "| --- | --- | --- | --- |"]
    for _, layer, name, lines, summary in sorted(rows):
        out.append(f"| {layer or '(root)'} | `{name}` | {lines} | {summary} |")
    out.append(f"| all | {len(rows)} modules | {sum(totals.values())} | "
               + ", ".join(f"{k or 'root'} {v}" for k, v in sorted(totals.items(), key=lambda kv: ORDER.index(kv[0])))
               + " |")
    return "\n".join(out)


def written(text: str) -> str:
    """``text`` (the doc) with the table between the markers replaced by the current one."""
    head, rest = text.split(START, 1)
    _, tail = rest.split(END, 1)
    return f"{head}{START}\n{table()}\n{END}{tail}"


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if "--write" in argv:
        DOC.write_text(written(DOC.read_text(encoding="utf-8")), encoding="utf-8")
        print(f"wrote the module table into {DOC}")
    else:
        print(table())
    return 0


if __name__ == "__main__":
    sys.exit(main())
