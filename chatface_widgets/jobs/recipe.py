"""A recipe: everything that decides an edit, in a small human-readable JSON file.

    recipe = Recipe.from_plan(engine, plan, request="a little older, glasses")   # or the panel's "Save recipe"
    recipe.save("older-glasses.json")                                           # atomic
    recipe = Recipe.load("older-glasses.json")
    recipe.check(engine)         # RecipeError saying why when the model's weights or the format differ

The file holds the format version, the package version that wrote it, the model (catalogue name
and sha256 of its weights file; the tiny test model has a fixed id), the render settings whole
(``foundation.settings.RenderSettings``: strengths by canonical name, steps, SMS, local mode, reach,
face, parts kept or limited to; a painted mask is not stored, and ``"painted_mask"`` says so), and the request with the interpreter's plan. Every field is checked for its type when read
(nothing is coerced quietly). A recipe from other weights or a newer format is refused; format 1
(before the settings value) is read as what ``chatface batch`` rendered from it; another package
version only warns. No torch here: reading a recipe is cheap.
"""

from __future__ import annotations

import hashlib
import json
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Optional

from chatface_widgets.foundation.steps import INTERACTIVE_MAX_STEPS, StepPolicy
from chatface_widgets.foundation.files import atomic_write_bytes
from chatface_widgets.foundation.settings import RenderSettings, SettingsError

MASK_NOTE = ("the edit used a painted mask, which is not stored: a mask belongs to one photo; the parts kept or "
             "limited to (settings keep / only) carry over to other photos")
FORMAT = "chatface-recipe"  # the "format" field: what kind of file this is
FORMAT_VERSION = 2  # bump when a field changes meaning; 2: the settings object (1 is still read)
TINY_ID = "tiny:random-seed-0"  # the tiny test model is built in code from a fixed seed: no weights file
_HASHES: dict[tuple, str] = {}  # (path, size, mtime) -> sha256, so a big weights file is read once per process


class RecipeError(ValueError):
    """A recipe that cannot be used here; the message says why and what to do."""


def package_version() -> str:
    from chatface_widgets import __version__

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
    settings: RenderSettings  # the render, whole: strengths by canonical name, steps, SMS, local mode, reach, face
    request: str = ""  # what the user asked, in their words
    plan: Optional[Mapping[str, Any]] = None  # the interpreter's plan for the request (Plan.model_dump())
    package: str = field(default_factory=package_version)  # the chatface_widgets version that wrote it
    version: int = FORMAT_VERSION  # the file format version
    dropped_mask: bool = False  # the edit used a painted mask, which is not stored (it belongs to one photo)

    def __post_init__(self):
        model = self.model
        if (not isinstance(model, Mapping) or not isinstance(model.get("name"), str)
                or not isinstance(model.get("sha256"), str)):
            raise RecipeError('a recipe\'s "model" must be {"name": text, "sha256": text}, got ' + repr(model)[:200])
        if not isinstance(self.settings, RenderSettings):
            raise RecipeError(f"a recipe's settings must be RenderSettings, got {type(self.settings).__name__}")
        if not isinstance(self.request, str):
            raise RecipeError(f'a recipe\'s "request" must be text, got {type(self.request).__name__}')
        if self.plan is not None and not isinstance(self.plan, Mapping):
            raise RecipeError(f'a recipe\'s "plan" must be an object or null, got {type(self.plan).__name__}')
        steps = self.settings.steps
        try:
            if steps is None:
                raise ValueError("a recipe states its step count")
            StepPolicy(default=min(steps, INTERACTIVE_MAX_STEPS) if steps >= 2 else 2).bounded().check(steps)
        except ValueError as exc:
            raise RecipeError(f"a recipe's steps must be a valid count from 2 to {INTERACTIVE_MAX_STEPS} (the same "
                              f"bound as the CLI and the panel), got {steps!r}: {exc}") from None
        object.__setattr__(self, "model", {"name": model["name"], "sha256": model["sha256"]})

    # --- making one ----------------------------------------------------------------------------

    @classmethod
    def from_settings(cls, engine, settings: RenderSettings, request: str = "", plan=None) -> "Recipe":
        """A recipe of ``settings`` for ``engine``'s model: names canonical, steps resolved and bounded."""
        try:
            settings = engine.settings(settings, bounded=True)
        except ValueError as exc:
            raise RecipeError(f"a recipe's settings: {exc}") from None
        dumped = plan.model_dump() if hasattr(plan, "model_dump") else (dict(plan) if plan is not None else None)
        dropped = settings.mask is not None
        if dropped:
            warnings.warn(MASK_NOTE, stacklevel=2)
        return cls(model=model_identity(engine), settings=settings.updated(mask=None), request=str(request or ""),
                   plan=dumped, dropped_mask=dropped)

    @classmethod
    def from_edits(cls, engine, strengths: Mapping[str, float], steps: Optional[int] = None, sms: bool = True,
                   local="auto", reach=None, request: str = "", plan=None) -> "Recipe":
        """A recipe from the keyword form (strengths, steps, SMS, local mode, reach)."""
        from chatface_widgets.foundation.settings import settings_of

        return cls.from_settings(engine, settings_of(strengths or {}, steps=steps, sms=sms, local=local, reach=reach),
                                 request=request, plan=plan)

    @classmethod
    def from_request(cls, engine, request: str, llm: str = "rules", settings: Optional[RenderSettings] = None) -> "Recipe":
        """Interpret ``request`` with the chat factory's interpreter (bounded, as the CLI) and make its recipe.

        ``settings``: the decoding to use (steps, SMS, local, reach, face); the plan's strengths fill its edits,
        and the plan's step count applies where ``settings.steps`` is None.
        """
        from chatface_widgets.chat import make_interpreter

        plan = make_interpreter(llm, engine.contract.bounded()).parse(request, current={})
        base = settings or RenderSettings()
        steps = base.steps if base.steps is not None else plan.steps
        keep, only = plan.where(base.keep, base.only)
        return cls.from_settings(engine, base.updated(edits=plan.apply({}), steps=steps, keep=keep, only=only),
                                 request=request, plan=plan)

    # --- files -----------------------------------------------------------------------------------

    def to_dict(self) -> dict:
        out = {"format": FORMAT, "version": self.version, "package": self.package, "model": dict(self.model),
               "settings": self.settings.to_dict(), "request": self.request, "plan": self.plan}
        if self.dropped_mask:
            out["painted_mask"] = MASK_NOTE
        return out

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, ensure_ascii=False) + "\n"

    def save(self, path) -> Path:
        """Write the recipe as JSON, atomically (complete or not at all)."""
        return atomic_write_bytes(path, self.to_json().encode("utf-8"))

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], where: str = "recipe") -> "Recipe":
        """A recipe from its JSON dict, every field checked; RecipeError naming the field otherwise."""
        if not isinstance(data, Mapping) or data.get("format") != FORMAT:
            raise RecipeError(f"{where} is not a chatface recipe (no \"format\": \"{FORMAT}\" field)")
        version = data.get("version")
        if isinstance(version, bool) or version not in (1, FORMAT_VERSION):
            raise RecipeError(f"{where} has recipe format version {version!r}; this chatface_widgets "
                              f"{package_version()} reads versions 1 and {FORMAT_VERSION}. Use the package version "
                              f"that wrote it ({data.get('package', 'unknown')!s:.40}), or save the recipe again with this one")
        written_by = data.get("package", "unknown")
        if not isinstance(written_by, str):
            raise RecipeError(f'{where}: "package" must be text, got {written_by!r:.60}')
        try:
            if version == 1:
                settings = _settings_v1(data, where)
            else:
                if "settings" not in data:
                    raise RecipeError(f"{where} lacks the field settings")
                settings = RenderSettings.from_dict(data["settings"], where=f"{where}: settings")
            if "model" not in data:
                raise RecipeError(f"{where} lacks the field model")
            recipe = cls(model=data["model"], settings=settings, request=data.get("request", ""),
                         plan=data.get("plan"), package=written_by, version=FORMAT_VERSION,
                         dropped_mask=data.get("painted_mask") is not None)
        except SettingsError as exc:
            raise RecipeError(str(exc)) from None
        except RecipeError as exc:
            text = str(exc)
            raise RecipeError(text if text.startswith(where) else f"{where}: {text}") from None
        if written_by != package_version():
            warnings.warn(f"{where} was written by chatface_widgets {written_by}, this is {package_version()}; "
                          f"the format is readable (version {version}), so it is used as is", stacklevel=3)
        return recipe

    @classmethod
    def load(cls, path) -> "Recipe":
        """Read a recipe file (RecipeError naming the file and the reason when it cannot be used)."""
        path = Path(path)
        try:
            if path.stat().st_size > MAX_RECIPE_BYTES:
                raise RecipeError(f"{path} is {path.stat().st_size:,} bytes; a recipe is a small JSON file "
                                  f"(at most {MAX_RECIPE_BYTES:,} bytes): is this the right file?")
            data = json.loads(path.read_bytes().decode("utf-8"))
        except OSError as exc:
            raise RecipeError(f"cannot read the recipe {path}: {exc.strerror or exc}") from None
        except UnicodeDecodeError:
            raise RecipeError(f"{path} is not a text file (not UTF-8); a recipe is a JSON file saved by "
                              "--save-recipe or the panel") from None
        except RecursionError:
            raise RecipeError(f"{path} nests too deeply to be a recipe; save the recipe again") from None
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
        try:
            engine.contract.bounded().steps.check(self.steps)
        except ValueError as exc:
            raise RecipeError(f"the recipe's steps: {exc}") from None
        return self

    def with_settings(self, **changes) -> "Recipe":
        """The same recipe with some settings changed (``chatface batch`` flags over a recipe file)."""
        from dataclasses import replace

        return replace(self, settings=self.settings.updated(**changes))

    @property
    def strengths(self) -> dict:
        return dict(self.settings.edits)

    @property
    def edits(self) -> dict:
        """The non-zero strengths (what a render needs)."""
        return dict(self.settings.edits)

    @property
    def steps(self) -> int:
        return self.settings.steps

    @property
    def sms(self) -> bool:
        return self.settings.sms

    @property
    def local(self) -> str:
        return self.settings.local

    def describe(self) -> str:
        return self.settings.describe()


MAX_RECIPE_BYTES = 1 << 20  # a recipe is a few hundred bytes; anything over a MiB is not one


def _settings_v1(data: Mapping[str, Any], where: str) -> RenderSettings:
    """Format 1 (strengths, steps, sms, local true/null) read as what ``chatface batch`` rendered from it."""
    missing = [k for k in ("model", "strengths", "steps") if k not in data]
    if missing:
        raise RecipeError(f"{where} lacks the field(s) {', '.join(missing)}")
    local = data.get("local")
    if local is not None and not isinstance(local, bool):
        raise RecipeError(f'{where}: "local" must be true, false or null in a format-1 recipe, got {local!r:.60}')
    return RenderSettings.from_dict({"edits": data["strengths"], "steps": data["steps"], "sms": data.get("sms", True),
                                     "local": "on" if local else "off"}, where=where)
