"""A recipe: everything that decides an edit, in a small human-readable JSON file.

    recipe = Recipe.from_plan(engine, plan, request="a little older, glasses")   # or the panel's "Save recipe"
    recipe.save("older-glasses.json")                                           # atomic
    recipe = Recipe.load("older-glasses.json")
    recipe.check(engine)         # RecipeError saying why when the model's weights or the format differ

The file holds the format version, the package version that wrote it, the model (catalogue name
and sha256 of its weights file; the tiny test model has a fixed id), the strengths by canonical
attribute name, steps, SMS, optional local-edit settings, and the request with the interpreter's
plan. A recipe from other weights or another format version is refused; another package version
with the same format only warns. No torch here: reading a recipe is cheap.
"""

from __future__ import annotations

import hashlib
import json
import math
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Optional

from .files import atomic_write_bytes

FORMAT = "chatface-recipe"  # the "format" field: what kind of file this is
FORMAT_VERSION = 1  # bump when a field changes meaning; readers refuse other versions
TINY_ID = "tiny:random-seed-0"  # the tiny test model is built in code from a fixed seed: no weights file
_HASHES: dict[tuple, str] = {}  # (path, size, mtime) -> sha256, so a big weights file is read once per process


class RecipeError(ValueError):
    """A recipe that cannot be used here; the message says why and what to do."""


def package_version() -> str:
    from . import __version__

    return __version__


def file_sha256(path) -> str:
    """The sha256 of a file, read in 1 MiB chunks (cached per path, size and modification time)."""
    path = Path(path)
    stat = path.stat()
    key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    if key not in _HASHES:
        digest = hashlib.sha256()
        with open(path, "rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                digest.update(chunk)
        _HASHES[key] = digest.hexdigest()
    return _HASHES[key]


def model_identity(engine) -> dict:
    """``{"name", "sha256"}`` of an engine's model: its catalogue name and the sha256 of its weights file."""
    spec = engine.spec
    name = spec.name if spec is not None else engine.info.name
    if spec is not None and spec.kind == "tiny":
        return {"name": name, "sha256": TINY_ID}
    weights = spec.weights if spec is not None else engine.info.path
    if weights is None or not Path(weights).is_file():
        raise RecipeError(f"model {name!r} has no weights file to fingerprint, so a recipe cannot name it")
    return {"name": name, "sha256": file_sha256(weights)}


@dataclass(frozen=True)
class Recipe:
    """One edit, ready to apply to any photo of the same model (a frozen record; see the module docstring)."""

    model: Mapping[str, str]  # {"name": catalogue name, "sha256": of the weights file (TINY_ID for "tiny")}
    strengths: Mapping[str, float]  # canonical attribute name -> strength in [-1, 1]
    steps: int  # DDIM steps for inversion and decoding
    sms: bool = True  # ChatFace's Stable Manipulation Strategy (Eq. 13); False: z_edit at every step
    local: Optional[Any] = None  # local-edit settings (region, feathering …) as JSON; None: a global edit
    request: str = ""  # what the user asked, in their words
    plan: Optional[Mapping[str, Any]] = None  # the interpreter's plan for the request (Plan.model_dump())
    package: str = field(default_factory=package_version)  # the chatface_widgets version that wrote it
    version: int = FORMAT_VERSION  # the file format version

    def __post_init__(self):
        strengths = {}
        for name, value in dict(self.strengths).items():
            value = float(value)
            if not math.isfinite(value) or not -1.0 <= value <= 1.0:
                raise RecipeError(f"recipe strength for {name!r} must be in [-1, 1], got {value}")
            strengths[str(name)] = value
        object.__setattr__(self, "strengths", strengths)
        object.__setattr__(self, "model", {"name": str(self.model["name"]), "sha256": str(self.model["sha256"])})
        object.__setattr__(self, "steps", int(self.steps))
        object.__setattr__(self, "sms", bool(self.sms))

    # --- making one ----------------------------------------------------------------------------

    @classmethod
    def from_edits(cls, engine, strengths: Mapping[str, float], steps: Optional[int] = None, sms: bool = True,
                   local=None, request: str = "", plan=None) -> "Recipe":
        """A recipe for ``engine``'s model; names are resolved to canonical ones (synonyms merged)."""
        merged = engine.contract.merge(strengths or {}).strengths
        steps = engine.contract.steps.or_default(steps)
        dumped = plan.model_dump() if hasattr(plan, "model_dump") else (dict(plan) if plan is not None else None)
        return cls(model=model_identity(engine), strengths=dict(merged), steps=steps, sms=sms, local=local,
                   request=str(request or ""), plan=dumped)

    @classmethod
    def from_plan(cls, engine, plan, request: str = "", steps: Optional[int] = None, sms: bool = True,
                  local=None) -> "Recipe":
        """The recipe of an interpreter's plan (``plan.apply({})`` strengths; ``steps``: else the plan's)."""
        return cls.from_edits(engine, plan.apply({}), steps if steps is not None else plan.steps, sms=sms,
                              local=local, request=request, plan=plan)

    @classmethod
    def from_request(cls, engine, request: str, llm: str = "rules", steps: Optional[int] = None,
                     sms: bool = True) -> "Recipe":
        """Interpret ``request`` with the chat factory's interpreter (bounded, as the CLI) and make its recipe."""
        from .chat import make_interpreter

        plan = make_interpreter(llm, engine.contract.bounded()).parse(request, current={})
        return cls.from_plan(engine, plan, request=request, steps=steps, sms=sms)

    @classmethod
    def from_snapshot(cls, engine, snapshot, request: str = "", plan=None) -> "Recipe":
        """The recipe of a panel state (``PanelState.snapshot()``): its strengths, steps and SMS."""
        return cls.from_edits(engine, snapshot.edits, snapshot.steps, sms=snapshot.sms,
                              local=getattr(snapshot, "local", None), request=request, plan=plan)

    # --- files -----------------------------------------------------------------------------------

    def to_dict(self) -> dict:
        return {"format": FORMAT, "version": self.version, "package": self.package, "model": dict(self.model),
                "strengths": dict(self.strengths), "steps": self.steps, "sms": self.sms, "local": self.local,
                "request": self.request, "plan": self.plan}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, ensure_ascii=False) + "\n"

    def save(self, path) -> Path:
        """Write the recipe as JSON, atomically (complete or not at all)."""
        return atomic_write_bytes(path, self.to_json().encode("utf-8"))

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], where: str = "recipe") -> "Recipe":
        """A recipe from its JSON dict; RecipeError for another format version or a missing field."""
        if not isinstance(data, Mapping) or data.get("format") != FORMAT:
            raise RecipeError(f"{where} is not a chatface recipe (no \"format\": \"{FORMAT}\" field)")
        version = data.get("version")
        if version != FORMAT_VERSION:
            raise RecipeError(f"{where} has recipe format version {version!r}; this chatface_widgets "
                              f"{package_version()} reads version {FORMAT_VERSION} only. Use the package version "
                              f"that wrote it ({data.get('package', 'unknown')}), or save the recipe again with this one")
        missing = [k for k in ("model", "strengths", "steps") if k not in data]
        if missing:
            raise RecipeError(f"{where} lacks the field(s) {', '.join(missing)}")
        written_by = str(data.get("package", "unknown"))
        if written_by != package_version():
            warnings.warn(f"{where} was written by chatface_widgets {written_by}, this is {package_version()}; "
                          f"the format is the same (version {FORMAT_VERSION}), so it is used as is", stacklevel=3)
        try:
            return cls(model=data["model"], strengths=data["strengths"], steps=data["steps"],
                       sms=data.get("sms", True), local=data.get("local"), request=data.get("request", ""),
                       plan=data.get("plan"), package=written_by, version=version)
        except (KeyError, TypeError, ValueError) as exc:
            raise RecipeError(f"{where}: a field has the wrong type ({exc})") from None

    @classmethod
    def load(cls, path) -> "Recipe":
        """Read a recipe file (RecipeError with the reason when it cannot be used)."""
        path = Path(path)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise RecipeError(f"cannot read the recipe {path}: {exc.strerror or exc}") from None
        except ValueError as exc:
            raise RecipeError(f"{path} is not valid JSON ({exc}); a recipe is a JSON file") from None
        return cls.from_dict(data, where=str(path))

    # --- using one -------------------------------------------------------------------------------

    def check(self, engine) -> "Recipe":
        """Refuse (RecipeError) unless ``engine`` runs the same weights and can edit every attribute."""
        here = model_identity(engine)
        if here["sha256"] != self.model["sha256"]:
            raise RecipeError(
                f"this recipe was made with model {self.model['name']!r} (weights sha256 "
                f"{self.model['sha256'][:12]}…), but the engine runs {here['name']!r} (sha256 {here['sha256'][:12]}…): "
                f"the same strengths would give a different edit. Load the recipe's model "
                f"(--model {self.model['name']}), or make a new recipe for this one")
        unknown = [name for name in self.strengths if name not in engine.contract]
        if unknown:
            raise RecipeError(f"the recipe edits {', '.join(map(repr, unknown))}, which this model cannot edit "
                              f"(its mappers changed?); it can edit: {', '.join(engine.attributes)}")
        engine.contract.steps.check(self.steps)
        return self

    @property
    def edits(self) -> dict:
        """The non-zero strengths (what a render needs)."""
        return {k: v for k, v in self.strengths.items() if v}

    def describe(self) -> str:
        edits = ", ".join(f"{k} {v:+.2f}" for k, v in self.edits.items()) or "no change"
        return f"{edits} · {self.steps} steps · SMS {'on' if self.sms else 'off'}" + (" · local" if self.local else "")
