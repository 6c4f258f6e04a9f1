"""Frozen judges for mapper training: a CLIP (image and text towers) and an identity network.

``ClipJudge`` wraps any open_clip model: ``ViT-B-32`` with OpenAI weights for real photos (CLIP's
own preprocessing applied to tensors: resize the short side with bicubic, centre crop, CLIP mean and
std), or the toy world's small CLIP. ``IdentityJudge`` wraps ArcFace IR-SE50 (through
:class:`~chatface_widgets.models.arcface.IDEmbedder`) or the toy identity net. Both stay in eval
mode with ``requires_grad=False``; gradients flow through them to the images, never into them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import nn


def _freeze(module: nn.Module) -> nn.Module:
    module.eval()
    for p in module.parameters():
        p.requires_grad_(False)
    return module


def resize_center_crop(x: torch.Tensor, size: int, mode: str = "bicubic") -> torch.Tensor:
    """CLIP's Resize(size) + CenterCrop(size) on a tensor batch, differentiable (antialiased when shrinking)."""
    h, w = x.shape[-2:]
    if (h, w) == (size, size):
        return x
    scale = size / min(h, w)
    nh, nw = max(size, round(h * scale)), max(size, round(w * scale))
    x = F.interpolate(x, size=(nh, nw), mode=mode, align_corners=False, antialias=scale < 1)
    top, left = (nh - size) // 2, (nw - size) // 2
    return x[..., top:top + size, left:left + size]


def _is_torchscript(path) -> bool:
    """Whether ``path`` is a TorchScript zip archive (OpenAI's released CLIP files are)."""
    import zipfile

    path = Path(str(path))
    if not path.is_file() or not zipfile.is_zipfile(path):
        return False
    with zipfile.ZipFile(path) as zf:
        return any(n.endswith("constants.pkl") for n in zf.namelist())


class FrozenJudge(nn.Module):
    """A judge that never leaves eval mode and never trains."""

    def train(self, mode: bool = True) -> "FrozenJudge":
        return super().train(False)


class ClipJudge(FrozenJudge):
    """E_I and E_T of an open_clip model on images in [-1, 1] and on strings; both return unit vectors."""

    def __init__(self, model: nn.Module, tokenizer: Callable, size: int, mean: Sequence[float], std: Sequence[float],
                 interpolation: str = "bicubic", name: str = ""):
        super().__init__()
        self.model = _freeze(model)
        self.tokenizer = tokenizer
        self.size = int(size)
        self.interpolation = interpolation
        self.name = name
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32).view(1, -1, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32).view(1, -1, 1, 1), persistent=False)
        self.train(False)

    @classmethod
    def from_open_clip(cls, name: str = "ViT-B-32", pretrained: str | None = "openai", device="cpu") -> "ClipJudge":
        """Any open_clip model; ``pretrained`` is a tag ("openai"), a weights file, or OpenAI's TorchScript ``ViT-B-32.pt``."""
        import open_clip

        if pretrained and _is_torchscript(pretrained):  # OpenAI's own file: QuickGELU config from its state dict
            model = open_clip.load_openai_model(str(pretrained), precision="fp32", device=device)
        else:
            model = open_clip.create_model(name, pretrained=pretrained, device=device)
        cfg = open_clip.get_model_preprocess_cfg(model)
        size = cfg.get("size", 224)
        size = size[0] if isinstance(size, (tuple, list)) else size
        interp = cfg.get("interpolation", "bicubic")
        return cls(model, open_clip.get_tokenizer(name), size, cfg["mean"], cfg["std"], interp,
                   name=f"{name}:{pretrained}").to(device)

    @classmethod
    def from_toy(cls, folder) -> "ClipJudge":
        """The toy world's small CLIP from ``clip.safetensors`` + ``clip.json``."""
        from chatface_widgets.train.toy_clip import load_toy_clip

        model, tokenizer, pre = load_toy_clip(folder)
        return cls(model, tokenizer, pre["size"], pre["mean"], pre["std"], pre.get("interpolation", "bicubic"),
                   name=f"toy-clip:{Path(folder).name}")

    def preprocess(self, x: torch.Tensor) -> torch.Tensor:
        """Images in [-1, 1] → CLIP input: to [0, 1], resize + centre crop, (· − mean)/std."""
        x = resize_center_crop((x + 1.0) * 0.5, self.size, self.interpolation)
        return (x - self.mean.to(x.dtype)) / self.std.to(x.dtype)

    def encode_image(self, x: torch.Tensor) -> torch.Tensor:
        """Unit image embeddings E_I(x); differentiable with respect to x."""
        return F.normalize(self.model.encode_image(self.preprocess(x)).float(), dim=-1)

    @torch.no_grad()
    def encode_text(self, texts: Sequence[str] | str) -> torch.Tensor:
        """Unit text embeddings E_T(texts)."""
        texts = [texts] if isinstance(texts, str) else list(texts)
        tokens = self.tokenizer(texts).to(self.mean.device)
        return F.normalize(self.model.encode_text(tokens).float(), dim=-1)


class IdentityJudge(FrozenJudge):
    """ID(x): unit identity embeddings of images in [-1, 1] (ArcFace IR-SE50 or the toy identity net)."""

    def __init__(self, net: nn.Module, input_size: int | None = None, name: str = ""):
        super().__init__()
        self.net = _freeze(net)
        self.input_size = input_size  # resize to this first (None: the net does its own preprocessing)
        self.name = name
        self.train(False)

    @classmethod
    def from_irse50(cls, path, device="cpu") -> "IdentityJudge":
        """IR-SE50 from ``model_ir_se50.pth``, with the e4e/StyleCLIP crop and pooling."""
        from chatface_widgets.models.arcface import IDEmbedder

        return cls(IDEmbedder.from_file(path), None, name=f"ir_se50:{Path(path).name}").to(device)

    @classmethod
    def from_toy(cls, folder) -> "IdentityJudge":
        """The toy world's identity net from ``identity.safetensors`` + ``identity.json``."""
        from chatface_widgets.train.toy_identity import load_toy_identity

        net = load_toy_identity(folder)
        return cls(net, net.config["image_size"], name=f"toy-identity:{Path(folder).name}")

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """Unit identity embeddings; differentiable with respect to x."""
        if self.input_size is not None and x.shape[-1] != self.input_size:
            x = F.interpolate(x, size=(self.input_size, self.input_size), mode="bilinear", align_corners=False,
                              antialias=x.shape[-1] > self.input_size)
        return F.normalize(self.net(x).float(), dim=-1)


def load_toy_judges(folder) -> tuple[ClipJudge, IdentityJudge]:
    """(ClipJudge, IdentityJudge) shipped with the built-in model in ``folder`` (e.g. ``weights/toy``)."""
    return ClipJudge.from_toy(folder), IdentityJudge.from_toy(folder)


def tiny_random_judges(seed: int = 0, image_size: int = 32) -> tuple[ClipJudge, IdentityJudge]:
    """Random-weight judges small enough for CPU tests (the toy architectures, narrowed)."""
    from chatface_widgets.toy import ATTRIBUTES
    from chatface_widgets.train.toy_clip import CLIP_MEAN, CLIP_STD, CompactTokenizer, build_toy_clip
    from chatface_widgets.train.toy_identity import ToyIdentityNet

    torch.manual_seed(seed)
    words = ["a face", "a face with a smile"] + [f"a face with {a}" for a in ATTRIBUTES]
    tokenizer = CompactTokenizer.from_texts(words, context_length=16)
    config = {"embed_dim": 16,
              "vision_cfg": {"image_size": image_size, "patch_size": 8, "width": 32, "layers": 1, "head_width": 16},
              "text_cfg": {"context_length": 16, "vocab_size": tokenizer.vocab_size, "width": 32, "heads": 2, "layers": 1}}
    clip = ClipJudge(build_toy_clip(config), tokenizer, image_size, CLIP_MEAN, CLIP_STD, name="tiny-random-clip")
    ident = IdentityJudge(ToyIdentityNet(widths=(8, 8, 16, 16), embed_dim=16, image_size=image_size), image_size,
                          name="tiny-random-identity")
    return clip, ident
