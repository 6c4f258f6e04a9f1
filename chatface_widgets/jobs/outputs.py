"""What a command may write, decided in one place before any work.

    plan = WritePlan(inputs=[photo, recipe_file], protected=engine_files(engine))
    out = plan.claim("-o", "out.png")          # OutputError naming both files on a clash

Every output path is resolved as the operating system will resolve it once its folders exist
(``sub/../in.png`` is ``in.png`` even before ``sub/`` exists; links are followed), then checked
against every input of the command, against files other outputs of the same command claimed, against
the package's own files (code, shipped weights, built-in samples) and against the files of the model
in use (weights, card, mappers, samples). Writing itself is ``foundation.files.atomic_path``:
complete or not at all.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable, Optional

from chatface_widgets.foundation.files import OutputError, same_file

PACKAGE_ROOT = Path(__file__).resolve().parents[1]  # chatface_widgets/


def resolve(path) -> Path:
    """``path`` as the OS will resolve it: absolute, links followed, ``..`` applied (missing folders included)."""
    return Path(os.path.realpath(os.path.abspath(os.path.expanduser(os.fspath(path)))))


def _inside(path: Path, folder: Path) -> bool:
    try:
        path.relative_to(folder)
        return True
    except ValueError:
        return False


def shipped_folders() -> list[Path]:
    """The package's own files: its code and the built-in model's weights and samples (never written)."""
    folders = [PACKAGE_ROOT]
    try:
        from chatface_widgets.engine.catalogue import builtin_folders

        folders += [resolve(f) for f in builtin_folders()]
    except ImportError:  # pragma: no cover - the engine layer is always there in a full install
        pass
    return folders


def model_files(engine) -> list[Path]:
    """The files of a model (an engine, or its catalogue spec): its weights, their card and every file of its folder."""
    spec = getattr(engine, "spec", engine)
    found: list[Path] = []
    weights = getattr(spec, "weights", None)
    if weights:
        weights = Path(weights)
        found += [weights, weights.with_suffix(".json")]
    folder = getattr(spec, "folder", None)
    if folder and Path(folder).is_dir():
        found += [p for p in Path(folder).rglob("*") if p.is_file()]
    return found


class WritePlan:
    """The outputs one command will write, each checked against its inputs, the package and each other."""

    def __init__(self, inputs: Iterable = (), protected_files: Iterable = (), protected_folders: Optional[Iterable] = None):
        self.inputs = [Path(p) for p in inputs if p is not None]
        self._inputs = {resolve(p): Path(p) for p in self.inputs}
        self._files = {resolve(p): Path(p) for p in protected_files if p is not None}
        self._folders = [resolve(f) for f in (shipped_folders() if protected_folders is None else protected_folders)]
        self._claimed: dict[str, tuple[Path, str]] = {}  # case-folded resolved path -> (as given, who)

    def add_inputs(self, paths: Iterable) -> None:
        for p in paths:
            if p is not None:
                self.inputs.append(Path(p))
                self._inputs[resolve(p)] = Path(p)

    def check(self, path, what: str = "output") -> Path:
        """``path`` resolved, or OutputError naming the file it would overwrite and how to avoid it."""
        given = Path(path)
        target = resolve(given)
        hit = self._inputs.get(target) or next((src for src in self.inputs if same_file(given, src)), None)
        if hit is not None:
            raise OutputError(f"refusing to write {what} {given}: it is the input {hit} (same file once resolved); "
                              "choose another path")
        for folder in self._folders:
            if _inside(target, folder):
                raise OutputError(f"refusing to write {what} {given}: it is inside the chatface_widgets package's own "
                                  f"files ({folder}); choose a path outside it")
        hit = self._files.get(target) or next((f for f in self._files.values() if same_file(given, f)), None)
        if hit is not None:
            raise OutputError(f"refusing to write {what} {given}: it is the model file {hit}; choose another path")
        return target

    def claim(self, path, what: str = "output") -> Path:
        """:meth:`check`, and reserve the path: a second output of the same command onto it is refused."""
        target = self.check(path, what)
        key = str(target).casefold()  # one file on a case-insensitive disk
        if key in self._claimed:
            other, who = self._claimed[key]
            raise OutputError(f"{what} {path} and {who} {other} are the same file; give them different names")
        self._claimed[key] = (Path(path), what)
        return target
