"""The model catalogue: every model by name, what it is, where its files are, and how to load it.

    spec = find("toy")                 # the built-in model; also "tiny", "ffhq256", "ffhq128", a file or a folder
    spec.config                        # DiffAEConfig: resolution, prediction type, default steps
    spec.load_network()                # the DiffAE, float32, eval
    spec.registry(z_channels)          # its attributes: trained mappers (shipped, then the user's), directions
    spec.sample("ben")                 # a built-in sample photo path, if the model has samples

Engine, panel, CLI, eval, bench and the trainers all ask this module; nothing else maps names to files.
A model folder holds ``diffae.safetensors`` + ``diffae.json`` and may hold ``mappers/``,
``directions.*``, ``recipes.json`` (mapper training recipes), judge weights, ``parser.*`` (face parser),
``textures/`` (texture painters) and ``samples/*.png``.
Files a user trains go to ``user_folder(name)`` (under ``$CHATFACE_HOME``), never into the package.
"""

from __future__ import annotations

import json
import os
import sys
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from chatface_widgets.models import configs
from chatface_widgets.toy.attributes import ATTRIBUTES
from chatface_widgets.models.diffae import DiffAE, DiffAEConfig

PACKAGE_DIR = Path(__file__).resolve().parents[1]  # chatface_widgets/
BUILTIN, TINY = "toy", "tiny"
# Official models: catalogue name -> (weights-registry name, latent-classifier registry name, config).
OFFICIAL = {"ffhq256": ("ffhq256_autoenc", "ffhq256_autoenc_cls", configs.FFHQ256),
            "ffhq128": ("ffhq128_autoenc_130M", "ffhq128_autoenc_cls", configs.FFHQ128)}
ALIASES = {weights: name for name, (weights, _, _) in OFFICIAL.items()}
WEIGHT_SUFFIXES = (".safetensors", ".ckpt", ".pt", ".pth")  # what a model file may be
TINY_ATTRIBUTES = ATTRIBUTES  # the tiny test model edits the built-in world's attributes (toy.attributes)


@dataclass(frozen=True)
class ModelSpec:
    """One model: its name, kind, files and settings (a frozen record; loading happens on request)."""

    name: str  # display name: "toy", "ffhq256", or the file's stem
    kind: str  # "builtin" | "official" | "file" | "tiny"
    # Network shape, resolution, prediction type ("eps"/"v") and default steps: from the JSON sidecar or a
    # named config; None when only the weights can tell (identified unambiguously when loaded, or refused).
    config: Optional[DiffAEConfig]
    weights: Optional[Path] = None  # the DiffAE weights file (None: built in code, the tiny model)
    folder: Optional[Path] = None  # the folder beside the weights: mappers/, directions, judges, samples
    # Real photos are aligned FFHQ-style; the built-in world needs no alignment. None: the model's card says.
    align: Optional[bool] = True
    classifier: Optional[str] = None  # weights-registry name of DiffAE's latent classifier (official models)
    judges: str = "clip+arcface"  # "toy": judge networks in ``folder``; "clip+arcface": open_clip and IR-SE50
    meta: dict = field(default_factory=dict, compare=False)  # the JSON sidecar as read

    def load_network(self) -> tuple[DiffAE, dict]:
        """(the DiffAE with its weights, float32 and eval; its card). The tiny model is built from a fixed seed.

        Settings the weights cannot show come from ``config``, else the JSON card, else the training
        checkpoint, else an official topology; anything else is refused (models.diffae.load_diffae_file).
        """
        if self.kind == TINY:
            return tiny_network(), {"kind": "diffae", "align": False}
        from chatface_widgets.models.diffae import load_diffae_file

        loaded = load_diffae_file(self.weights, config=self.config)
        return loaded.model, loaded.card

    def aligns(self, card: dict) -> bool:
        """Whether photos are aligned for this model: the catalogue's word, else the card's (default yes)."""
        return bool(card.get("align", True)) if self.align is None else self.align

    def mapper_folders(self) -> list[Path]:
        """Where trained mappers are read from, in order: the shipped ones, then the user's (which win)."""
        shipped = [self.folder / "mappers"] if self.folder is not None else []
        return shipped + [user_folder(self.name) / "mappers"]

    def registry(self, z_channels: int, mappers: Optional[Path] = None):
        """The attributes this model can edit (``mappers``: one folder instead of the usual ones)."""
        from chatface_widgets.editing.registry import AttributeRegistry

        if self.kind == TINY:
            return tiny_registry(z_channels)
        registry = AttributeRegistry()
        for folder in ([Path(mappers)] if mappers is not None else self.mapper_folders()):
            for attr in AttributeRegistry.from_folder(folder, z_channels).attributes():
                earlier = registry.get(attr.name)
                if earlier is not None:
                    warnings.warn(f"{attr.name!r}: using your mapper {attr.card.get('_path')} instead of the "
                                  f"shipped one {earlier.card.get('_path')}", stacklevel=3)
                registry.add(attr)
        if self.folder is not None:
            _add_stored_directions(registry, self.folder, z_channels)
        if self.classifier is not None:
            _add_classifier_directions(registry, self.name, self.classifier)
        return registry

    def samples(self) -> dict[str, Path]:
        """Built-in sample photos by name (``samples/*.png`` beside the weights, or the built-in model's)."""
        folder = (self.folder / "samples") if self.folder is not None else None
        if folder is None or not folder.is_dir():
            if self.kind not in (TINY, "builtin"):
                return {}
            folder = builtin_folder() / "samples"
        return {p.stem: p for p in sorted(folder.glob("*.png"))}

    def sample(self, which: str | int = 0) -> Path:
        """One sample photo by name or index; a clear error when the model has none or the name is unknown."""
        samples = self.samples()
        if not samples:
            raise FileNotFoundError(f"model {self.name!r} has no built-in sample photos; pass a photo file")
        names = list(samples)
        if isinstance(which, str) and which.strip().lstrip("-").isdigit():
            which = int(which)
        if isinstance(which, int):
            if not -len(names) <= which < len(names):
                raise FileNotFoundError(f"sample index {which} is out of range; samples: {', '.join(names)}")
            return samples[names[which]]
        key = str(which).strip().lower()
        if key not in samples:
            raise FileNotFoundError(f"unknown sample {which!r}; samples: {', '.join(names)}")
        return samples[key]

    def recipes(self) -> dict:
        """The model's mapper training recipes (``recipes.json``: defaults + per-attribute entries), or {}."""
        path = self.folder / "recipes.json" if self.folder is not None else None
        if path is None or not path.is_file():
            return {}
        return _read_json(path)


def home() -> Path:
    """``$CHATFACE_HOME`` or the platform's user cache folder: downloads, converted weights, user models."""
    from chatface_widgets.engine.weights import weights_home

    return weights_home()


def user_folder(name: str) -> Path:
    """Where files a user makes for model ``name`` go (e.g. trained mappers): ``<home>/models/<name>``."""
    return home() / "models" / name


def builtin_folder() -> Path:
    """Folder of the built-in model: ``$CHATFACE_TOY_DIR``, the repository's ``weights/toy``, or the installed copy."""
    env = os.environ.get("CHATFACE_TOY_DIR")
    candidates = ([Path(env)] if env else []) + [PACKAGE_DIR.parent / "weights" / BUILTIN,
                                                 Path(sys.prefix) / "share" / "chatface_widgets" / "weights" / BUILTIN]
    for folder in candidates:
        if (folder / "diffae.safetensors").is_file():
            return folder
    raise FileNotFoundError(
        f"the built-in model {BUILTIN!r} was not found (looked in: {', '.join(str(c) for c in candidates)}). "
        "Reinstall chatface-widgets from a full clone, or set CHATFACE_TOY_DIR to a folder holding diffae.safetensors.")


def builtin_folders() -> list[Path]:
    """Every place the built-in model's shipped files may live (what no command may write into)."""
    env = os.environ.get("CHATFACE_TOY_DIR")
    return ([Path(env)] if env else []) + [PACKAGE_DIR.parent / "weights" / BUILTIN,
                                           Path(sys.prefix) / "share" / "chatface_widgets" / "weights" / BUILTIN]


def names() -> list[str]:
    """Every model name the catalogue knows (files and folders are accepted too)."""
    return [BUILTIN, TINY, *OFFICIAL]


def find(name_or_path) -> ModelSpec:
    """The ModelSpec for a catalogue name, an official weights name, a weights file or a model folder."""
    text = str(name_or_path)
    if text == TINY:
        return ModelSpec(TINY, TINY, configs.TINY, align=False, judges="toy")
    if text == BUILTIN:
        return _from_file(builtin_folder() / "diffae.safetensors", name=BUILTIN, kind="builtin")
    if text in OFFICIAL or text in ALIASES:
        return _official(ALIASES.get(text, text))
    path = Path(text).expanduser()
    if path.is_dir():
        inside = [path / n for n in ("diffae.safetensors", "ckpt.pt") if (path / n).is_file()]
        if not inside:
            raise FileNotFoundError(f"{path} is a folder without diffae.safetensors (a model folder) or ckpt.pt "
                                    "(a `chatface train-diffae` run)")
        path = inside[0]
    if path.is_file():
        if path.suffix.lower() not in WEIGHT_SUFFIXES:
            raise FileNotFoundError(f"{path} is not a model file: a model is a weights file "
                                    f"({', '.join(WEIGHT_SUFFIXES)}) or a folder holding diffae.safetensors")
        return _from_file(path)
    raise FileNotFoundError(f"unknown model {text!r}: not a file or model folder, and not one of: {', '.join(names())}")


def _official(name: str) -> ModelSpec:
    """An official DiffAE model from the weights cache (its error names the command that gets it)."""
    from chatface_widgets.engine.weights import resolve

    weights_name, classifier, _ = OFFICIAL[name]  # the config: the file's card, else its official topology
    path = Path(resolve(weights_name))
    return ModelSpec(name, "official", None, weights=path, folder=None, align=True,
                     classifier=classifier, judges="clip+arcface")


def _from_file(path: Path, name: Optional[str] = None, kind: str = "file") -> ModelSpec:
    """A weights file with its JSON card (align, judges); its settings are resolved when it is loaded."""
    from chatface_widgets.models.diffae import read_model_card

    meta = read_model_card(path)
    folder = path.parent
    judges = meta.get("judges") or ("toy" if (folder / "clip.safetensors").is_file() else "clip+arcface")
    align = meta.get("align") if kind == "file" else False
    return ModelSpec(name or (folder.name if path.stem in ("diffae", "ckpt") else path.stem), kind, None,
                     weights=path, folder=folder, align=None if align is None else bool(align), judges=judges,
                     meta=meta)


def _read_json(path: Path) -> dict:
    """A JSON file as a dict, with an error that names the file."""
    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError) as exc:
        raise ValueError(f"{path}: not readable JSON ({exc}); fix or remove the file") from None


def _add_stored_directions(registry, folder: Path, z_channels: int) -> None:
    """Add linear directions stored beside a model (``directions.safetensors`` + ``.json``)."""
    from chatface_widgets.models.mapper import LinearDirection, read_directions

    stored = read_directions(folder)
    if stored is None:
        return
    vectors, card = stored
    directions = {}
    for name, vec in vectors.items():
        if vec.numel() != z_channels:
            raise ValueError(f"{folder / 'directions.safetensors'}: direction {name!r} has size {vec.numel()}, "
                             f"model z has {z_channels}")
        directions[name] = LinearDirection(vec, name=name, amplitude=float(card["directions"][name]["amplitude"]))
    registry.add_directions(directions, {n: e.get("synonyms", ()) for n, e in card["directions"].items()})


def _add_classifier_directions(registry, model_name: str, classifier: str) -> None:
    """Add the 40 latent-classifier directions of an official model; warn (with the command) when absent."""
    from chatface_widgets.engine.weights import MissingWeightsError, resolve

    try:
        path = resolve(classifier)
    except MissingWeightsError as exc:
        warnings.warn(f"no attribute classifier for {model_name}, so only trained mappers are editable.\n{exc}",
                      stacklevel=4)
        return
    from chatface_widgets.models.latent_classifier import load_latent_classifier

    registry.add_directions(load_latent_classifier(path).directions())


def tiny_network(seed: int = 0, config: Optional[DiffAEConfig] = None) -> DiffAE:
    """The tiny model (or another small ``config``): small random weights everywhere, so z changes the output."""
    import torch

    from chatface_widgets.models.diffae import build_diffae

    gen = torch.Generator().manual_seed(seed)
    model = build_diffae(config or configs.TINY)
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn(p.shape, generator=gen) * (0.2 if p.ndim > 1 else 0.02))
        for module in model.modules():
            if isinstance(module, torch.nn.GroupNorm):
                module.weight.fill_(1.0)
                module.bias.zero_()
    return model.eval()


def tiny_registry(z_channels: int, seed: int = 0, attributes=TINY_ATTRIBUTES):
    """One random linear direction per attribute name for the tiny model."""
    import torch

    from chatface_widgets.editing.registry import Attribute, AttributeRegistry
    from chatface_widgets.models.mapper import LinearDirection

    gen = torch.Generator().manual_seed(seed + 1)
    return AttributeRegistry(
        Attribute(name, LinearDirection(torch.randn(z_channels, generator=gen), name=name, amplitude=0.5), (), "linear")
        for name in attributes)
