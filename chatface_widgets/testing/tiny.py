"""A tiny random-weight engine for tests, demos of the plumbing and benchmarks of overhead."""

from __future__ import annotations

from pathlib import Path

import torch

from chatface_widgets.engine.catalogue import TINY_ATTRIBUTES, find, tiny_network, tiny_registry
from chatface_widgets.engine.engine import Engine, ModelInfo
from chatface_widgets.models.configs import TINY as TINY_CONFIG  # noqa: F401  (tests import it from here)


def tiny_model(seed: int = 0, config=None):
    """The catalogue's tiny model (random weights from ``seed``; another small ``config`` if given)."""
    return tiny_network(seed, config)


def tiny_engine(seed: int = 0, attributes=TINY_ATTRIBUTES, device: str = "cpu") -> Engine:
    """An Engine over the tiny model with one random linear direction per attribute name."""
    model = tiny_model(seed)
    info = ModelInfo(name="tiny", path=Path("<tiny>"), align=False, default_steps=8, image_size=model.config.image_size)
    return Engine(model, tiny_registry(model.config.z_channels, seed, attributes), info, torch.device(device),
                  spec=find("tiny"))


def save_tiny_model(folder, seed: int = 0, attributes=TINY_ATTRIBUTES) -> Path:
    """Write the tiny model as a model folder (diffae.safetensors + JSON, directions) like weights/toy."""
    import json

    from safetensors.torch import save_file

    from chatface_widgets.models.diffae import save_diffae

    folder = Path(folder)
    engine = tiny_engine(seed, attributes)
    save_diffae(engine.model, folder / "diffae.safetensors", extra={"align": False})
    tensors, card = {}, {"kind": "directions", "directions": {}}
    for i, name in enumerate(attributes):
        mapper = engine.registry[name].mapper
        tensors[f"d{i}"] = mapper.direction.clone()
        card["directions"][name] = {"key": f"d{i}", "amplitude": mapper.amplitude, "synonyms": []}
    save_file(tensors, str(folder / "directions.safetensors"))
    (folder / "directions.json").write_text(json.dumps(card, indent=2))
    return folder
