"""The diffusion autoencoder of DiffAE (Preechakul et al. 2022): semantic encoder + z-conditioned UNet.

Written from scratch with the official ``state_dict`` key names and shapes, so an official
checkpoint loads with ``strict=True``. The architecture is read off the state dict
(:meth:`DiffAEConfig.from_state_dict`): widths, level multipliers, residual blocks per level and
where attention sits, so any width/depth variant of the ``ffhq*_autoenc`` topology loads without
a config file.

Shapes: images ``x`` are (B, 3, H, W) in [-1, 1]; ``t`` is an int64 tensor of *original*
timesteps 0…999; ``z`` is the semantic code (B, z_channels).
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Mapping, Optional

import torch
import torch.nn.functional as F
from torch import nn

from chatface_widgets.models.card_fields import card_problems

# ---------------------------------------------------------------------------------------------
# Configuration

PREDICTIONS = ("eps", "v")  # what the UNet's last layer outputs; the diffusion schedule reads both


@dataclass(frozen=True)
class DiffAEConfig:
    """Everything that shapes the network; inferred from a state dict or stored beside weights."""

    in_channels: int = 3  # image channels in
    out_channels: int = 3  # ε channels out
    model_channels: int = 128  # width of UNet level 0
    channel_mult: tuple = (1, 1, 2, 2, 4, 4)  # UNet width per level, × model_channels
    num_res_blocks: int = 2  # plain ResBlocks per UNet encoder level (decoder levels have one more)
    attn_levels: tuple = (4,)  # UNet levels with self-attention (the middle block always has it)
    embed_channels: int = 512  # width of the time embedding MLP
    z_channels: int = 512  # size of the semantic code z_sem
    enc_channel_mult: tuple = (1, 1, 2, 2, 4, 4, 4)  # semantic encoder width per level
    enc_num_res_blocks: int = 2  # ResBlocks per encoder level
    enc_attn_levels: tuple = (4,)  # encoder levels with self-attention
    num_heads: int = 1  # attention heads (official: 1; not recoverable from weights)
    dropout: float = 0.1  # ResBlock dropout; inactive in eval mode
    image_size: int = 256  # resolution the model was trained at (informational)
    default_steps: int = 20  # step count a model suggests for rendering (our own field)
    # What the UNet's last layer predicts: "eps" (official DiffAE) or "v" = √ā·ε − √(1−ā)·x0
    # (Salimans & Ho 2022), which the sampler's schedule turns into ε (chatface_widgets.diffusion.schedule).
    # Our own field; the built-in model uses "v".
    prediction: str = "eps"

    def __post_init__(self):
        if self.prediction not in PREDICTIONS:
            raise ValueError(f"prediction must be one of {PREDICTIONS}, got {self.prediction!r}")

    @property
    def num_levels(self) -> int:
        return len(self.channel_mult)

    def to_json(self) -> dict:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}

    @classmethod
    def from_json(cls, data: Mapping) -> "DiffAEConfig":
        known = {f for f in cls.__dataclass_fields__}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown DiffAE config fields: {sorted(unknown)}")
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in data.items()})

    @classmethod
    def from_state_dict(cls, sd: Mapping[str, torch.Tensor], **overrides) -> "DiffAEConfig":
        """Infer the topology from official-layout keys and shapes (see module docstring)."""
        return _infer_config(sd, **overrides)


# ---------------------------------------------------------------------------------------------
# Building blocks


def group_norm(channels: int) -> nn.GroupNorm:
    """GroupNorm(min(32, C), C), eps 1e-5, as DiffAE's GroupNorm32 (computed in float32)."""
    return GroupNorm32(min(32, channels), channels)


class GroupNorm32(nn.GroupNorm):
    """GroupNorm that always normalises in float32 and returns the input dtype."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dtype == torch.float32:
            return super().forward(x)
        return F.group_norm(x.float(), self.num_groups, self.weight.float(), self.bias.float(), self.eps).to(x.dtype)


def timestep_embedding(t: torch.Tensor, dim: int, max_period: float = 10000.0) -> torch.Tensor:
    """Sinusoidal embedding [cos(t·f_k), sin(t·f_k)], f_k = exp(−ln(10⁴)·k/(dim/2)) (cos first)."""
    half = dim // 2
    # The exponent in float32 as the reference forms it, then a correctly rounded exp (float64, cast back):
    # float32 exp differs by an ulp between CPU kernels, which moves sin(999·f_k) by up to 3e-5.
    exponent = -math.log(max_period) * torch.arange(half, dtype=torch.float32, device=t.device) / half
    wide = torch.float32 if t.device.type == "mps" else torch.float64  # MPS has no float64
    freqs = torch.exp(exponent.to(wide)).float()
    args = t[:, None].float() * freqs[None]
    emb = torch.cat([torch.cos(args), torch.sin(args)], dim=-1)
    if dim % 2:
        emb = torch.cat([emb, torch.zeros_like(emb[:, :1])], dim=-1)
    return emb


class TimeEmbed(nn.Module):
    """The time MLP (Linear, SiLU, Linear), nested as the official ``time_embed.time_embed``."""

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        self.time_embed = nn.Sequential(nn.Linear(in_channels, out_channels), nn.SiLU(), nn.Linear(out_channels, out_channels))

    def forward(self, emb: torch.Tensor) -> torch.Tensor:
        return self.time_embed(emb)


class ResBlock(nn.Module):
    """DiffAE ResBlock; with conditioning: GN → ×(1+s_t)+b_t → ×(1+c(z)) → SiLU → dropout → conv."""

    def __init__(self, in_channels: int, out_channels: int, emb_channels: Optional[int] = None,
                 z_channels: Optional[int] = None, up: bool = False, down: bool = False, dropout: float = 0.0):
        super().__init__()
        self.up, self.down = up, down
        self.conditioned = emb_channels is not None
        self.in_layers = nn.Sequential(group_norm(in_channels), nn.SiLU(), nn.Conv2d(in_channels, out_channels, 3, padding=1))
        if self.conditioned:
            self.emb_layers = nn.Sequential(nn.SiLU(), nn.Linear(emb_channels, 2 * out_channels))
            self.cond_emb_layers = nn.Sequential(nn.SiLU(), nn.Linear(z_channels, out_channels))
            self.out_layers = nn.Sequential(group_norm(out_channels), nn.SiLU(), nn.Dropout(dropout),
                                            nn.Conv2d(out_channels, out_channels, 3, padding=1))
        self.skip_connection = nn.Identity() if in_channels == out_channels else nn.Conv2d(in_channels, out_channels, 1)

    def _resample(self, x: torch.Tensor) -> torch.Tensor:
        if self.up:
            return F.interpolate(x, scale_factor=2, mode="nearest")
        if self.down:
            return F.avg_pool2d(x, kernel_size=2, stride=2)
        return x

    def forward(self, x: torch.Tensor, emb: Optional[torch.Tensor] = None, cond: Optional[torch.Tensor] = None) -> torch.Tensor:
        norm, act, conv = self.in_layers
        h = conv(self._resample(act(norm(x))))
        x = self._resample(x)
        if self.conditioned:
            scale, shift = self.emb_layers(emb)[:, :, None, None].chunk(2, dim=1)
            out_norm, out_act, out_drop, out_conv = self.out_layers
            h = out_norm(h) * (1 + scale) + shift
            h = h * (1 + self.cond_emb_layers(cond)[:, :, None, None])
            h = out_conv(out_drop(out_act(h)))
        return self.skip_connection(x) + h


class AttentionBlock(nn.Module):
    """Spatial self-attention x + proj(attn(GN(x))), legacy QKV order (heads, then q, k, v)."""

    def __init__(self, channels: int, num_heads: int = 1):
        super().__init__()
        self.num_heads = num_heads
        self.norm = group_norm(channels)
        self.qkv = nn.Conv1d(channels, 3 * channels, 1)
        self.proj_out = nn.Conv1d(channels, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, *spatial = x.shape
        flat = x.reshape(b, c, -1)
        qkv = self.qkv(self.norm(flat))
        head = c // self.num_heads
        q, k, v = qkv.reshape(b * self.num_heads, 3 * head, -1).split(head, dim=1)
        # softmax(q·kᵀ/√d)·v; the reference scales q and k by d^(-1/4) each, which is the same.
        out = F.scaled_dot_product_attention(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2))
        out = out.transpose(1, 2).reshape(b, c, -1)
        return (flat + self.proj_out(out)).reshape(b, c, *spatial)


class Block(nn.ModuleList):
    """One entry of ``input_blocks``/``output_blocks``: layers run in order, z and t go to ResBlocks."""

    def forward(self, h: torch.Tensor, emb=None, cond=None) -> torch.Tensor:
        for layer in self:
            h = layer(h, emb, cond) if isinstance(layer, ResBlock) else layer(h)
        return h


# ---------------------------------------------------------------------------------------------
# The two networks


class SemanticEncoder(nn.Module):
    """Image → z_sem (DiffAE Sec. 3.1): unconditioned ResBlocks, attention, GN-SiLU-pool-1×1 head."""

    def __init__(self, cfg: DiffAEConfig):
        super().__init__()
        ch = cfg.model_channels * cfg.enc_channel_mult[0]
        blocks = [Block([nn.Conv2d(cfg.in_channels, ch, 3, padding=1)])]
        for level, mult in enumerate(cfg.enc_channel_mult):
            if level > 0:
                blocks.append(Block([ResBlock(ch, ch, down=True)]))
            for _ in range(cfg.enc_num_res_blocks):
                out = cfg.model_channels * mult
                layers = [ResBlock(ch, out)]
                if level in cfg.enc_attn_levels:
                    layers.append(AttentionBlock(out, cfg.num_heads))
                blocks.append(Block(layers))
                ch = out
        self.input_blocks = nn.ModuleList(blocks)
        self.middle_block = Block([ResBlock(ch, ch), AttentionBlock(ch, cfg.num_heads), ResBlock(ch, ch)])
        self.out = nn.Sequential(group_norm(ch), nn.SiLU(), nn.AdaptiveAvgPool2d((1, 1)),
                                 nn.Conv2d(ch, cfg.z_channels, 1), nn.Flatten())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = x
        for block in self.input_blocks:
            h = block(h)
        return self.out(self.middle_block(h))


class DiffAE(nn.Module):
    """z-conditioned UNet ε_θ(x_t, t, z) with its semantic encoder, official key layout."""

    def __init__(self, cfg: DiffAEConfig):
        super().__init__()
        self.config = cfg
        emb, zc, drop = cfg.embed_channels, cfg.z_channels, cfg.dropout
        self.time_embed = TimeEmbed(cfg.model_channels, emb)
        ch = cfg.model_channels * cfg.channel_mult[0]
        blocks = [Block([nn.Conv2d(cfg.in_channels, ch, 3, padding=1)])]
        skip_channels = [[ch]]
        for level, mult in enumerate(cfg.channel_mult):
            if level > 0:
                blocks.append(Block([ResBlock(ch, ch, emb, zc, down=True, dropout=drop)]))
                skip_channels.append([ch])
            for _ in range(cfg.num_res_blocks):
                out = cfg.model_channels * mult
                layers = [ResBlock(ch, out, emb, zc, dropout=drop)]
                if level in cfg.attn_levels:
                    layers.append(AttentionBlock(out, cfg.num_heads))
                blocks.append(Block(layers))
                skip_channels[level].append(out)
                ch = out
        self.input_blocks = nn.ModuleList(blocks)
        self.middle_block = Block([ResBlock(ch, ch, emb, zc, dropout=drop), AttentionBlock(ch, cfg.num_heads),
                                   ResBlock(ch, ch, emb, zc, dropout=drop)])
        blocks = []
        for level in reversed(range(cfg.num_levels)):
            out = cfg.model_channels * cfg.channel_mult[level]
            for j in range(cfg.num_res_blocks + 1):
                layers = [ResBlock(ch + skip_channels[level].pop(), out, emb, zc, dropout=drop)]
                ch = out
                if level in cfg.attn_levels:
                    layers.append(AttentionBlock(ch, cfg.num_heads))
                if level > 0 and j == cfg.num_res_blocks:
                    layers.append(ResBlock(ch, ch, emb, zc, up=True, dropout=drop))
                blocks.append(Block(layers))
        self.output_blocks = nn.ModuleList(blocks)
        self.out = nn.Sequential(group_norm(ch), nn.SiLU(), nn.Conv2d(ch, cfg.out_channels, 3, padding=1))
        self.encoder = SemanticEncoder(cfg)

    def encode(self, x0: torch.Tensor) -> torch.Tensor:
        """z_sem = Enc(x0) (DiffAE Eq. 1 input); the encoder runs in float32 as the reference does."""
        with torch.autocast(device_type=x0.device.type, enabled=False):
            return self.encoder(x0.float())

    def forward(self, x_t: torch.Tensor, t: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """The UNet's raw output for (x_t, t, z): ε or v, as ``config.prediction`` says (DiffAE Eq. 2's network).

        The network knows no schedule; ``chatface_widgets.diffusion.schedule`` reads the output.
        """
        emb = self.time_embed(timestep_embedding(t, self.config.model_channels))
        levels = self.config.num_levels
        per_level = self.config.num_res_blocks + 1
        skips: list[list[torch.Tensor]] = [[] for _ in range(levels)]
        h = x_t
        for k, block in enumerate(self.input_blocks):
            h = block(h, emb, z)
            skips[k // per_level].append(h)
        h = self.middle_block(h, emb, z)
        for k, block in enumerate(self.output_blocks):
            h = block(torch.cat([h, skips[levels - 1 - k // per_level].pop()], dim=1), emb, z)
        return self.out(h)


# ---------------------------------------------------------------------------------------------
# Inferring the topology from an official-layout state dict

_BLOCK = re.compile(r"^(input_blocks|output_blocks|encoder\.input_blocks)\.(\d+)\.(\d+)\.")


def _block_layout(sd: Mapping[str, torch.Tensor], prefix: str) -> list[list[str]]:
    """For each block of ``prefix`` the kinds of its layers: 'conv', 'res' or 'attn'."""
    layers: dict[int, dict[int, str]] = {}
    for key in sd:
        m = _BLOCK.match(key)
        if not m or m.group(1) != prefix:
            continue
        b, sub = int(m.group(2)), int(m.group(3))
        rest = key[m.end():]
        kind = "res" if rest.startswith("in_layers") else "attn" if rest.startswith(("qkv", "norm", "proj_out")) else None
        if kind is None and rest in ("weight", "bias"):
            kind = "conv"
        if kind is not None:
            layers.setdefault(b, {})[sub] = kind
    if sorted(layers) != list(range(len(layers))):
        raise ValueError(f"{prefix}: block indices are not contiguous: {sorted(layers)}")
    return [[layers[b][s] for s in sorted(layers[b])] for b in range(len(layers))]


def _res_out(sd, prefix: str) -> int:
    return sd[f"{prefix}.in_layers.2.weight"].shape[0]


def _infer_config(sd: Mapping[str, torch.Tensor], **overrides) -> DiffAEConfig:
    """Read widths, level multipliers, blocks per level and attention placement from the keys."""
    for required in ("input_blocks.0.0.weight", "out.2.weight", "time_embed.time_embed.0.weight", "encoder.out.3.weight"):
        if required not in sd:
            raise ValueError(f"not a DiffAE state dict: key {required!r} is missing")
    model_ch = sd["input_blocks.0.0.weight"].shape[0]
    out_layout = _block_layout(sd, "output_blocks")
    in_layout = _block_layout(sd, "input_blocks")
    # Decoder levels end in an up-sampling ResBlock (a second 'res' inside a block), except level 0.
    ends = [i for i, kinds in enumerate(out_layout) if kinds.count("res") == 2]
    per_level = ends[0] + 1 if ends else len(out_layout)
    if len(out_layout) % per_level:
        raise ValueError("cannot infer blocks per level from output_blocks")
    levels = len(out_layout) // per_level
    n_res = per_level - 1
    if len(in_layout) != levels * per_level:
        raise ValueError(f"input_blocks has {len(in_layout)} blocks; expected {levels * per_level} for {levels} levels")
    mult, attn = [], []
    for level in range(levels):
        first = level * per_level + 1  # first plain ResBlock of the level (after conv or down block)
        out = _res_out(sd, f"input_blocks.{first}.0")
        if out % model_ch:
            raise ValueError(f"level {level} width {out} is not a multiple of {model_ch}")
        mult.append(out // model_ch)
        if "attn" in in_layout[first]:
            attn.append(level)
    enc_layout = _block_layout(sd, "encoder.input_blocks")
    enc_res = overrides.pop("enc_num_res_blocks", n_res)
    if len(enc_layout) % (enc_res + 1):
        raise ValueError(f"encoder has {len(enc_layout)} blocks: not a multiple of {enc_res + 1}; pass enc_num_res_blocks")
    enc_ch = sd["encoder.input_blocks.0.0.weight"].shape[0]
    enc_mult, enc_attn = [], []
    for level in range(len(enc_layout) // (enc_res + 1)):
        first = level * (enc_res + 1) + 1
        enc_mult.append(_res_out(sd, f"encoder.input_blocks.{first}.0") // enc_ch)
        if "attn" in enc_layout[first]:
            enc_attn.append(level)
    attn_res_level = attn[0] if attn else None
    image_size = 16 * 2 ** attn_res_level if attn_res_level is not None else 256  # official: attention at 16 px
    values = dict(
        in_channels=sd["input_blocks.0.0.weight"].shape[1],
        out_channels=sd["out.2.weight"].shape[0],
        model_channels=model_ch,
        channel_mult=tuple(mult),
        num_res_blocks=n_res,
        attn_levels=tuple(attn),
        embed_channels=sd["time_embed.time_embed.0.weight"].shape[0],
        z_channels=sd["encoder.out.3.weight"].shape[0],
        enc_channel_mult=tuple(enc_mult),
        enc_num_res_blocks=enc_res,
        enc_attn_levels=tuple(enc_attn),
        image_size=image_size,
    )
    values.update(overrides)
    return DiffAEConfig(**values)


# ---------------------------------------------------------------------------------------------
# Loading and saving


class StateDictMismatch(ValueError):
    """Missing, unexpected or mis-shaped keys between a file and the network."""


def load_state_dict_strict(model: nn.Module, sd: Mapping[str, torch.Tensor], source: str = "state dict") -> None:
    """load_state_dict(strict=True) with an error that lists every missing, unexpected and mis-shaped key."""
    own = model.state_dict()
    missing = [k for k in own if k not in sd]
    unexpected = [k for k in sd if k not in own]
    shapes = [f"{k}: file {tuple(sd[k].shape)} vs model {tuple(own[k].shape)}" for k in own if k in sd and sd[k].shape != own[k].shape]
    if missing or unexpected or shapes:
        def show(name, items):
            return f"\n  {name} ({len(items)}): " + ", ".join(items[:20]) + (" …" if len(items) > 20 else "") if items else ""
        raise StateDictMismatch(f"{source} does not match the network:" + show("missing", missing)
                                + show("unexpected", unexpected) + show("wrong shape", shapes))
    model.load_state_dict({k: v.to(own[k].dtype) for k, v in sd.items()}, strict=True)


def build_diffae(cfg: DiffAEConfig) -> DiffAE:
    """A DiffAE with fresh weights for a config (zero-initialised output convs as the reference)."""
    model = DiffAE(cfg)
    for name, module in model.named_modules():
        if name.endswith(("out_layers.3", "proj_out")) or name == "out.2":
            nn.init.zeros_(module.weight)
            nn.init.zeros_(module.bias)
    return model


def diffae_from_state_dict(sd: Mapping[str, torch.Tensor], config: Optional[DiffAEConfig] = None,
                           source: str = "state dict", config_source: Optional[str] = None) -> DiffAE:
    """Build the network that matches ``sd`` and load it strictly.

    Without ``config`` only the topology is read off the keys; prediction, image size and steps
    keep the dataclass defaults, so files go through :func:`load_diffae`, which never guesses those.
    ``config_source`` (the JSON a config came from) is named when that config cannot build a network.
    """
    cfg = config or DiffAEConfig.from_state_dict(sd)
    try:
        model = DiffAE(cfg)
    except (ValueError, TypeError, RuntimeError, ZeroDivisionError) as exc:
        where = config_source or source
        raise ModelCardError(f"{where}: its DiffAE settings cannot build a network ({_first_line(exc)}); "
                             "fix the settings, or delete the JSON if the weights are an official checkpoint") from None
    load_state_dict_strict(model, sd, source if config_source is None else f"{source} (with the config of {config_source})")
    return model.eval()


# ---------------------------------------------------------------------------------------------
# Which settings a weights file is used with: its JSON card, its own training record, or an
# official topology. What the weights cannot tell (prediction type, resolution, steps) is never guessed.

SETTING_FIELDS = ("prediction", "image_size", "default_steps")  # not recoverable from weights
# Fields read off the state dict (num_heads and dropout do not change the weights' shapes).
TOPOLOGY_FIELDS = tuple(f for f in DiffAEConfig.__dataclass_fields__
                        if f not in SETTING_FIELDS and f not in ("num_heads", "dropout"))
# Top-level keys a model card may hold besides the config (read by the engine and the tools).
CARD_KEYS = ("kind", "config", "dtype", "align", "chroma_sigma", "training", "converted_from", "official", "source", "note")

# The official DiffAE autoencoders (phizaz/diffae templates; manifests in the golden fixtures):
# ε-prediction, 1 attention head, attention at 16 px. default_steps: the official notebooks render T = 20.
OFFICIAL_CONFIGS = {
    "ffhq256_autoenc": DiffAEConfig(image_size=256, default_steps=20, prediction="eps"),
    "ffhq128_autoenc_130M": DiffAEConfig(channel_mult=(1, 1, 2, 3, 4), attn_levels=(3,),
                                         enc_channel_mult=(1, 1, 2, 3, 4, 4), enc_attn_levels=(3,),
                                         image_size=128, default_steps=20, prediction="eps"),
}


class ModelCardError(ValueError):
    """A model's JSON card that cannot be read or used; the message names the JSON file and the fix."""


class UnidentifiedCheckpointError(ValueError):
    """Weights with no config that are not an official topology; the message says which JSON to add."""


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def topology(cfg: DiffAEConfig) -> tuple:
    """The fields of a config that the weights' keys and shapes determine."""
    return tuple(getattr(cfg, f) for f in TOPOLOGY_FIELDS)


def identify_official(cfg: DiffAEConfig) -> Optional[str]:
    """The name of the official DiffAE model with this topology, or None."""
    for name, official in OFFICIAL_CONFIGS.items():
        if topology(official) == topology(cfg):
            return name
    return None


def config_path_for(path: Path) -> Path:
    """The JSON config that sits beside a weights file (``x.safetensors`` → ``x.json``)."""
    return Path(path).with_suffix(".json")


def read_model_card(path) -> dict:
    """The JSON card beside a weights file ({} when there is none); errors name the JSON and the fix."""
    card_path = config_path_for(path)
    if not card_path.is_file():
        return {}
    try:
        card = json.loads(card_path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ModelCardError(f"{card_path}: not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno}); "
                             f"fix it, or delete it if {Path(path).name} is an official checkpoint") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ModelCardError(f"{card_path}: cannot be read ({_first_line(exc)})") from None
    if not isinstance(card, dict):
        raise ModelCardError(f"{card_path}: expected a JSON object with the model's settings, "
                             f"found {type(card).__name__}")
    problems = card_problems(card)
    if problems:
        raise ModelCardError(f"{card_path}: {'; '.join(problems)}; fix the file")
    return card


def _card_settings(card: Mapping, card_path: Path) -> dict:
    """The config fields of a card: its "config" object, or the top-level fields of a flat card."""
    fields = set(DiffAEConfig.__dataclass_fields__)
    if "config" in card:
        given = card["config"]
        if not isinstance(given, dict):
            raise ModelCardError(f"{card_path}: \"config\" must be a JSON object")
    else:
        given = {k: v for k, v in card.items() if k in fields}
        stray = sorted(k for k in card if k not in fields and k not in CARD_KEYS)
        if stray:
            raise ModelCardError(f"{card_path}: unknown fields {stray}; DiffAE settings are "
                                 f"{', '.join(sorted(fields))} (or put them in a \"config\" object)")
    unknown = sorted(set(given) - fields)
    if unknown:
        raise ModelCardError(f"{card_path}: unknown DiffAE config fields {unknown}; known: {', '.join(sorted(fields))}")
    return dict(given)


def _missing_config_message(path: Path, cfg: DiffAEConfig, missing, card_path: Path, has_card: bool) -> str:
    shape = ", ".join(f"{f} {getattr(cfg, f)}" for f in ("model_channels", "channel_mult", "attn_levels", "z_channels"))
    where = (f"{card_path} lacks {', '.join(missing)}" if has_card else f"it has no {card_path.name} beside it")
    return (f"{path}: cannot tell how to use these weights: {where}, and its network ({shape}) is not an "
            f"official DiffAE topology ({', '.join(OFFICIAL_CONFIGS)}). Add {card_path} with the settings it "
            'was trained with, e.g. {"prediction": "eps", "image_size": 256, "default_steps": 20, "align": true} '
            '(prediction: "eps" or "v", what the UNet outputs; image_size: training resolution in pixels; '
            "default_steps: DDIM steps to render with; align: whether photos are FFHQ-aligned); "
            "the network's shape is read from the weights")


def _config_from_card_or_weights(path: Path, sd: Mapping[str, torch.Tensor], given: dict, card_path: Path,
                                 has_card: bool) -> tuple[DiffAEConfig, Optional[str]]:
    """(config, official name or None): a complete config as given, else topology from the weights."""
    if all(f in given for f in TOPOLOGY_FIELDS):
        return _build_config(given, card_path), None
    try:
        inferred = DiffAEConfig.from_state_dict(sd)
    except (ValueError, KeyError, IndexError) as exc:
        raise StateDictMismatch(f"{path}: {_first_line(exc)}; is this a DiffAE autoencoder checkpoint?") from None
    official = identify_official(inferred)
    base = OFFICIAL_CONFIGS[official] if official else inferred
    missing = [f for f in SETTING_FIELDS if f not in given]
    if missing and official is None:
        raise UnidentifiedCheckpointError(_missing_config_message(path, inferred, missing, card_path, has_card))
    return _build_config({**base.to_json(), **given}, card_path), official


def _build_config(values: Mapping, card_path: Path) -> DiffAEConfig:
    problems = card_problems(values)
    if problems:  # a training checkpoint's stored config is checked as strictly as a card
        raise ModelCardError(f"{card_path}: {'; '.join(problems)}; fix the file")
    try:
        return DiffAEConfig.from_json(values)
    except (TypeError, ValueError) as exc:
        raise ModelCardError(f"{card_path}: invalid DiffAE settings ({_first_line(exc)}); fix the file") from None


@dataclass
class LoadedDiffAE:
    """A network loaded from a file, with the card it is used with."""

    model: "DiffAE"
    card: dict  # the JSON card (or the equivalent for a training checkpoint / official model); "align" etc.
    path: Path
    layout: str  # "safetensors" | "lightning" | "training" | "state_dict"
    official: Optional[str]  # official model name when identified from the topology


def load_diffae_file(path, config: Optional[DiffAEConfig] = None, verbose: bool = False) -> LoadedDiffAE:
    """Load a DiffAE (eval, CPU, float32) and say which settings it is used with.

    The settings come from, in order: ``config``; the JSON card beside the file (``x.json``; it may
    give only ``prediction``, ``image_size`` and ``default_steps``, the rest is read off the
    weights); the config inside a training run's ``ckpt.pt``; an official topology (ε-prediction).
    Anything else is refused with an error that names the JSON to add. NaN/inf weights are refused.
    """
    from chatface_widgets.models.checkpoint_io import check_finite, read_diffae_checkpoint

    path = Path(path)
    card_path = config_path_for(path)
    card = read_model_card(path)  # checked field by field before the weights are read
    ck = read_diffae_checkpoint(path)
    if verbose and ck.report:
        print(ck.report)
    check_finite(ck.state_dict, path)
    config_source, official = None, None
    if config is None:
        given = _card_settings(card, card_path) if card else {}
        if given:
            config_source = str(card_path)
        elif ck.config is not None:  # a training checkpoint carries its own config
            given, card_path = dict(ck.config), path
            config_source = f"{path} (its stored config)"
        config, official = _config_from_card_or_weights(path, ck.state_dict, given, card_path, bool(card))
    if not card:
        card = {"kind": "diffae", "config": config.to_json()}
        if ck.layout == "training":  # our trainer draws toy-world faces: photos are not aligned
            card.update(align=False, training=ck.training)
        if official:
            card["official"] = official
    sd = {k: v.float() for k, v in ck.state_dict.items()}
    model = diffae_from_state_dict(sd, config, source=str(path), config_source=config_source)
    return LoadedDiffAE(model, card, path, ck.layout, official)


def load_diffae(path, config: Optional[DiffAEConfig] = None, verbose: bool = False) -> DiffAE:
    """Load a DiffAE (eval, CPU, float32) from a Lightning .ckpt (EMA weights), a training run's ckpt.pt,
    .pt/.pth or .safetensors; see :func:`load_diffae_file` for where its settings come from."""
    return load_diffae_file(path, config, verbose).model


def save_diffae(model: DiffAE, dst, half: bool = False, extra: Optional[dict] = None) -> Path:
    """Write weights as safetensors plus ``<name>.json`` with the config (and ``extra``), atomically.

    Both files appear complete or not at all (the JSON first); NaN/inf weights are refused.
    """
    from safetensors.torch import save_file

    from chatface_widgets.foundation.files import atomic_path
    from chatface_widgets.models.checkpoint_io import check_finite

    dst = Path(dst)
    if dst.suffix != ".safetensors":
        raise ValueError(f"destination must end in .safetensors, got {dst.name}")
    dtype = torch.float16 if half else torch.float32
    state = model.state_dict()
    check_finite(state, f"{dst} (not written)")
    tensors = {k: v.detach().to("cpu", dtype).contiguous() for k, v in state.items()}
    if half:
        check_finite(tensors, f"{dst} (not written: out of float16 range; save without --half)")
    meta = {"kind": "diffae", "config": model.config.to_json(), "dtype": str(dtype).replace("torch.", "")}
    meta.update(extra or {})
    with atomic_path(dst) as tmp_weights:
        save_file(tensors, str(tmp_weights), metadata={"format": "pt", "kind": "diffae"})
        with atomic_path(config_path_for(dst)) as tmp_card:
            tmp_card.write_text(json.dumps(meta, indent=2) + "\n")
    return dst
