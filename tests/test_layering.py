"""The package's dependencies point one way: models → diffusion core → editing → engine → {chat, widgets, cli}.

Read from the source's import statements (every ``import`` and ``from … import``, including those
inside functions), so a lazy import cannot hide a backwards edge.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "chatface_widgets"

# Each layer (a folder of the package) and the layers it may import, lowest first. Anything not
# listed is forbidden; in particular the edges that once made cycles: jobs -> cli, jobs -> train,
# train -> eval (eval may use train's judges, not the other way), and the interfaces -> tools.
LAYERS = {
    "foundation": (),  # the edit contract, render settings, safe writes: pure Python (+ foundation.steps)
    "models": ("foundation",),  # networks and their files; know no schedule
    "diffusion": ("foundation", "models"),  # schedule, one DDIM step, samplers, conditioning schedules
    "editing": ("foundation", "models", "diffusion"),  # attribute registry, z_edit composition (Eq. 12)
    "photos": ("foundation",),  # reading images, alignment and paste-back, part maps, image metrics
    "toy": ("foundation",),  # the procedural world: one attribute table, the renderer, the oracle
    "engine": ("foundation", "models", "diffusion", "editing", "photos", "toy"),  # load once, open, render
    "chat": ("foundation",),  # interpreters (and no torch)
    "jobs": ("foundation", "models", "diffusion", "editing", "photos", "toy", "engine", "chat"),  # files in/out
    "widgets": ("foundation", "photos", "engine", "jobs", "chat"),  # the panel (a door)
    "cli": ("foundation", "models", "photos", "engine", "jobs", "chat"),  # the command line (a door)
    "testing": ("foundation", "models", "diffusion", "editing", "engine", "toy"),  # tiny test models
    "train": ("foundation", "models", "diffusion", "editing", "photos", "toy", "engine", "jobs"),  # tools
    "eval": ("foundation", "models", "diffusion", "editing", "photos", "toy", "engine", "jobs", "train"),
    "bench": ("foundation", "models", "diffusion", "editing", "photos", "toy", "engine", "jobs"),
    "": ("widgets", "cli"),  # the package root: __init__ (lazy names) and __main__
}

CHAT_MAY_IMPORT = ("foundation", "chat")  # and no torch


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


def _layer(module: str) -> str:
    """The layer (top folder) of a module: "" for the package root's own modules."""
    top = module.split(".")[0]
    return top if top in LAYERS and top else ""


def _allowed(source: str, target: str) -> bool:
    """Whether a module of layer ``source`` may import module ``target``."""
    here, there = _layer(source), _layer(target)
    if here == there and here:
        return True
    if there == "" and target in ("", "__version__"):
        return True  # the package's own __version__
    return there in LAYERS[here]


def _known(module: str) -> bool:
    """Whether a dotted name is a module or package of ours (``from .x import y`` also yields ``x.y``)."""
    path = PACKAGE.joinpath(*module.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


SOURCES = sorted(PACKAGE.rglob("*.py"))
GRAPH = {_module_name(p): _imports(p) for p in SOURCES}


def test_the_package_has_the_layers_we_think_it_has():
    names = set(GRAPH)
    for must in ("foundation.contract", "foundation.steps", "models.diffae", "editing.registry", "engine.engine",
                 "engine.catalogue", "chat.rules", "widgets.panel", "cli.main", "jobs.batch", "jobs.recipe"):
        assert must in names, f"{must} moved: update LAYERS in this test"
    folders = {p.name for p in PACKAGE.iterdir() if (p / "__init__.py").is_file()}
    assert folders == set(LAYERS) - {""}, f"layers in the package {sorted(folders)} != LAYERS {sorted(LAYERS)}"
    loose = sorted(p.name for p in PACKAGE.glob("*.py"))
    assert loose == ["__init__.py", "__main__.py"], f"the package root holds folders, not loose modules: {loose}"


@pytest.mark.parametrize("module", sorted(GRAPH))
def test_dependencies_point_one_way(module):
    wrong = sorted(dep for dep in _internal(GRAPH[module]) if _known(dep) and not _allowed(module, dep))
    assert not wrong, (f"{module} ({_layer(module) or 'root'}) imports what its layer may not: "
                       + ", ".join(f"{d} ({_layer(d) or 'root'})" for d in wrong))


@pytest.mark.parametrize("source,target", [("jobs.batch", "cli.main"), ("jobs.batch", "train.distributed"),
                                           ("train.painter_trainer", "eval.metrics"), ("widgets.panel", "eval.cli"),
                                           ("engine.engine", "jobs.recipe"), ("chat.rules", "engine.engine")])
def test_the_old_cycles_are_forbidden(source, target):
    assert not _allowed(source, target)


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
