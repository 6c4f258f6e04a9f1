"""Mapper training recipes as data: a model's defaults plus per-attribute prompts, synonyms and overrides.

A model folder may hold ``recipes.json`` (the catalogue reads it: ``ModelSpec.recipes()``); without
one, the paper's settings apply (ChatFace: 1000 iterations, lr_mul 0.01, s = 1, no global CLIP term).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Optional, Sequence

from chatface_widgets.foundation.contract import normalize_name

# ChatFace's own recipe (the generic trainer's defaults for a model without recipes.json).
PAPER_DEFAULTS = {"iters": 1000, "lr_mul": 0.01, "lambda_global": 0.0, "global_margin": None, "lr_final": None,
                  "train_strength": 1.0}
PER_ATTRIBUTE = ("iters", "lambda_global", "train_strength")  # settings a recipe entry may override


@dataclass(frozen=True)
class MapperRecipe:
    """What one mapper is trained for: its registry name, CLIP prompts, chat synonyms and own overrides."""

    attribute: str
    target: str
    source: str = "a face"
    synonyms: tuple = ()
    iters: Optional[int] = None  # this attribute's iteration count (None: the book's default)
    lambda_global: Optional[float] = None  # this attribute's λ_glob (None: the book's default)
    train_strength: Optional[float] = None  # strength the losses judge (None: the book's default)


@dataclass(frozen=True)
class RecipeBook:
    """A model's recipes: default settings and one MapperRecipe per attribute."""

    defaults: Mapping
    recipes: tuple = ()

    @classmethod
    def from_data(cls, data: Mapping) -> "RecipeBook":
        """From the ``recipes.json`` layout ({"defaults": {...}, "attributes": [{...}, ...]}); {} gives the paper's."""
        defaults = {**PAPER_DEFAULTS, **dict(data.get("defaults", {}))}
        recipes = tuple(MapperRecipe(normalize_name(d["attribute"]), d["target"], d.get("source", "a face"),
                                     tuple(d.get("synonyms", ())), d.get("iters"), d.get("lambda_global"),
                                     d.get("train_strength")) for d in data.get("attributes", ()))
        return cls(defaults, recipes)

    @classmethod
    def for_engine(cls, engine) -> "RecipeBook":
        """The recipes of an engine's model (the paper's defaults when it has none)."""
        spec = getattr(engine, "spec", None)
        return cls.from_data(spec.recipes() if spec is not None else {})

    def get(self, attribute: str) -> Optional[MapperRecipe]:
        """The recipe for an attribute name (any spelling the registry accepts), or None."""
        key = normalize_name(attribute)
        return next((r for r in self.recipes if r.attribute == key), None)

    def settings(self, attribute: str, **given) -> dict:
        """Every setting for one attribute: the caller's (non-None) value, else the recipe's, else the default."""
        recipe = self.get(attribute)
        out = {}
        for key, default in self.defaults.items():
            own = getattr(recipe, key, None) if key in PER_ATTRIBUTE else None
            value = given.get(key)
            out[key] = value if value is not None else (own if own is not None else default)
        return out

    def select(self, only: Optional[Sequence[str]] = None) -> list[MapperRecipe]:
        """Recipes whose attribute is in ``only`` (all when None); unknown names raise KeyError."""
        if not only:
            return list(self.recipes)
        chosen = [self.get(a) for a in only]
        missing = [a for a, r in zip(only, chosen) if r is None]
        if missing:
            raise KeyError(f"no recipe for {missing}; known: {sorted(r.attribute for r in self.recipes)}")
        return chosen
