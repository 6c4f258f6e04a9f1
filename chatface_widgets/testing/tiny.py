"""A tiny random-weight engine for tests, demos of the plumbing and benchmarks of overhead."""

from __future__ import annotations

from pathlib import Path

import torch

from ..editing import Attribute, AttributeRegistry
from ..engine import Engine, ModelInfo
from ..models.diffae import DiffAEConfig, build_diffae
from ..models.mapper import LinearDirection

TINY_CONFIG = DiffAEConfig(
    model_channels=8, channel_mult=(1, 2), num_res_blocks=1, attn_levels=(1,), embed_channels=32, z_channels=32,
    enc_channel_mult=(1, 2, 2), enc_num_res_blocks=1, enc_attn_levels=(), dropout=0.0, image_size=32, default_steps=8,
)
TINY_ATTRIBUTES = ("smile", "eyeglasses", "red lipstick", "curly hair", "gray hair", "beard", "blue eyes", "pale skin")


def tiny_model(seed: int = 0, config: DiffAEConfig = TINY_CONFIG):
    """A DiffAE with small random weights everywhere (no zero convs, so z changes the output)."""
    gen = torch.Generator().manual_seed(seed)
    model = build_diffae(config)
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn(p.shape, generator=gen) * (0.2 if p.ndim > 1 else 0.02))
        for name, module in model.named_modules():
            if isinstance(module, torch.nn.GroupNorm):
                module.weight.fill_(1.0)
                module.bias.zero_()
    return model.eval()


def tiny_engine(seed: int = 0, attributes=TINY_ATTRIBUTES, device: str = "cpu") -> Engine:
    """An Engine over :func:`tiny_model` with one random linear direction per attribute name."""
    model = tiny_model(seed)
    gen = torch.Generator().manual_seed(seed + 1)
    registry = AttributeRegistry(
        Attribute(name, LinearDirection(torch.randn(model.config.z_channels, generator=gen), name=name, amplitude=0.5), (), "linear")
        for name in attributes
    )
    info = ModelInfo(name="tiny", path=Path("<tiny>"), align=False, default_steps=8, image_size=model.config.image_size)
    return Engine(model, registry, info, torch.device(device))


def save_tiny_model(folder, seed: int = 0, attributes=TINY_ATTRIBUTES) -> Path:
    """Write the tiny model as a model folder (diffae.safetensors + JSON, directions) like weights/toy."""
    import json

    from safetensors.torch import save_file

    from ..models.diffae import save_diffae

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
