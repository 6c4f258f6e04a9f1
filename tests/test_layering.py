"""The package's dependencies point one way: models → diffusion core → editing → engine → {chat, widgets, cli}.

Read from the source's import statements (every ``import`` and ``from … import``, including those
inside functions), so a lazy import cannot hide a backwards edge.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "chatface_widgets"

# Lowest first. A module may import its own layer and any layer below it.
LAYERS = (
    ("foundation", ("contract", "files", "diffusion.respacing")),  # pure Python + numpy: the rules everyone shares
    ("models", ("models",)),  # networks and their files; know no schedule
    ("diffusion", ("diffusion",)),  # schedule, one DDIM step, samplers, conditioning schedules
    ("editing", ("editing",)),  # attribute registry, z_edit composition (Eq. 12)
    ("engine", ("engine", "catalogue", "speed", "photo", "align", "landmark_parts", "weights", "download")),
    ("above", ("chat", "widgets", "cli", "__main__", "toy", "train", "eval", "bench", "testing", "")),
)
CHAT_MAY_IMPORT = ("contract", "files", "diffusion.respacing", "chat")  # and no torch


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _imports(path: Path) -> set[str]:
    """Every module a file imports, relative imports resolved, as names inside the package or outside it."""
    name = _module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = ["chatface_widgets", *package.split(".")] if package else ["chatface_widgets"]
                base = base[:len(base) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            found.add(module)
            found.update(f"{module}.{alias.name}" for alias in node.names)
    return found


def _internal(imported: set[str]) -> set[str]:
    """The package modules among ``imported`` (without the package prefix)."""
    return {m.removeprefix("chatface_widgets.") for m in imported if m.startswith("chatface_widgets.")}


def _layer(module: str) -> int:
    """Index of the layer a module belongs to (the longest matching prefix wins)."""
    best, level = -1, None
    for index, (_, prefixes) in enumerate(LAYERS):
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".") or prefix == "") and len(prefix) > best:
                best, level = len(prefix), index
    return level


def _known(module: str) -> bool:
    """Whether a dotted name is a module or package of ours (``from .x import y`` also yields ``x.y``)."""
    path = PACKAGE.joinpath(*module.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


SOURCES = sorted(PACKAGE.rglob("*.py"))
GRAPH = {_module_name(p): _imports(p) for p in SOURCES}


def test_the_package_has_the_layers_we_think_it_has():
    names = set(GRAPH)
    for must in ("contract", "diffusion.respacing", "models.diffae", "editing", "engine", "catalogue", "chat.rules",
                 "widgets.panel", "cli"):
        assert must in names, f"{must} moved: update LAYERS in this test"


@pytest.mark.parametrize("module", sorted(GRAPH))
def test_dependencies_point_one_way(module):
    here = _layer(module)
    backwards = sorted(dep for dep in _internal(GRAPH[module]) if _known(dep) and _layer(dep) > here)
    assert not backwards, (f"{module} ({LAYERS[here][0]}) imports a higher layer: "
                           + ", ".join(f"{d} ({LAYERS[_layer(d)][0]})" for d in backwards))


def test_chat_imports_no_torch_and_nothing_above_the_contract():
    for module, imported in GRAPH.items():
        if module != "chat" and not module.startswith("chat."):
            continue
        assert not any(m == "torch" or m.startswith("torch.") for m in imported), f"{module} imports torch"
        wrong = sorted(d for d in _internal(imported) if _known(d)
                       and not any(d == p or d.startswith(p + ".") for p in CHAT_MAY_IMPORT))
        assert not wrong, f"{module} imports {wrong}; chat may only use {CHAT_MAY_IMPORT}"


def test_nothing_in_the_package_imports_the_test_helpers():
    users = sorted(m for m, imported in GRAPH.items() if not m.startswith("testing")
                   and any(d == "testing" or d.startswith("testing.") for d in _internal(imported)))
    assert not users, f"runtime modules import chatface_widgets.testing: {users}"


def test_the_interfaces_do_not_import_the_trainers_or_the_evaluation():
    for module, imported in GRAPH.items():
        if module.split(".")[0] not in ("chat", "widgets"):
            continue
        wrong = sorted(d for d in _internal(imported) if d.split(".")[0] in ("train", "eval", "bench", "cli"))
        assert not wrong, f"{module} imports {wrong}"
