"""IR-SE50 (ArcFace) identity network with the exact ``model_ir_se50.pth`` key layout, and the ID-loss embedder.

Module order and names follow the ``Backbone(112, 50, mode='ir_se')`` used by the e4e, StyleCLIP and
DiffusionCLIP identity losses, so ``state_dict()`` has the same 397 keys in the same order as the file.
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

# (in_channels, depth, units) of the four stages; the first unit of each stage has stride 2.
IRSE50_STAGES = ((64, 64, 3), (64, 128, 4), (128, 256, 14), (256, 512, 3))
EMBED_DIM = 512
# ID-loss preprocessing on a 256x256 image: rows 35:223, cols 32:220 (188x188), then pool to 112.
ID_CROP = (slice(35, 223), slice(32, 220))
ID_INPUT = 112


class SEModule(nn.Module):
    """Squeeze-and-excitation: x * sigmoid(fc2(relu(fc1(avgpool(x))))) with bias-free 1x1 convs."""

    def __init__(self, channels: int, reduction: int = 16):
        super().__init__()
        self.fc1 = nn.Conv2d(channels, channels // reduction, 1, bias=False)
        self.fc2 = nn.Conv2d(channels // reduction, channels, 1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = F.adaptive_avg_pool2d(x, 1)
        return x * torch.sigmoid(self.fc2(F.relu(self.fc1(s))))


class BottleneckIRSE(nn.Module):
    """IR-SE unit: BN, conv3x3, PReLU, conv3x3 (stride), BN, SE; plus shortcut; no activation after the add."""

    def __init__(self, in_channels: int, depth: int, stride: int):
        super().__init__()
        if in_channels == depth:  # kernel-1 max-pool: identity or plain subsampling, no parameters
            self.shortcut_layer = nn.MaxPool2d(1, stride)
        else:
            self.shortcut_layer = nn.Sequential(
                nn.Conv2d(in_channels, depth, 1, stride, bias=False), nn.BatchNorm2d(depth))
        self.res_layer = nn.Sequential(
            nn.BatchNorm2d(in_channels),
            nn.Conv2d(in_channels, depth, 3, 1, 1, bias=False),
            nn.PReLU(depth),
            nn.Conv2d(depth, depth, 3, stride, 1, bias=False),
            nn.BatchNorm2d(depth),
            SEModule(depth),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.res_layer(x) + self.shortcut_layer(x)


class IRSE50(nn.Module):
    """ArcFace IR-SE50 backbone for 112x112 RGB faces in [-1, 1]; returns unit-norm 512-d embeddings."""

    def __init__(self):
        super().__init__()
        # Attribute order matches the reference (input_layer, output_layer, body) so key order matches too.
        self.input_layer = nn.Sequential(nn.Conv2d(3, 64, 3, 1, 1, bias=False), nn.BatchNorm2d(64), nn.PReLU(64))
        self.output_layer = nn.Sequential(
            nn.BatchNorm2d(512),
            nn.Dropout(0.6),
            nn.Flatten(),  # channel-major (c, h, w); forward() makes the input NCHW-contiguous first
            nn.Linear(512 * 7 * 7, EMBED_DIM),
            nn.BatchNorm1d(EMBED_DIM),  # affine=True: the file has output_layer.4.weight/.bias
        )
        units = []
        for in_ch, depth, n in IRSE50_STAGES:
            units.append(BottleneckIRSE(in_ch, depth, 2))
            units.extend(BottleneckIRSE(depth, depth, 1) for _ in range(n - 1))
        self.body = nn.Sequential(*units)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Stage-4 activations (N, 512, 7, 7)."""
        return self.body(self.input_layer(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.features(x).contiguous()  # a channels_last tensor would flatten in (h, w, c) order
        h = self.output_layer(h)
        return h / torch.norm(h, 2, dim=1, keepdim=True)  # no epsilon, as in the reference l2_norm


def _read_state_dict(path: Path) -> dict[str, torch.Tensor]:
    """Tensors of a bare-state-dict ``.pth`` (weights_only) or a ``.safetensors`` file."""
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        return dict(load_file(str(path)))
    sd = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(sd, dict):
        raise ValueError(f"{path}: expected a bare state dict, found {type(sd).__name__}")
    return dict(sd)


def load_irse50(path) -> IRSE50:
    """Build IR-SE50 and load ``model_ir_se50.pth`` (or .safetensors) strictly; ``num_batches_tracked`` optional."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"IR-SE50 weights not found: {path}")
    sd = _read_state_dict(path)
    model = IRSE50()
    for key, value in model.state_dict().items():  # older PyTorch files lack these counters
        if key.endswith("num_batches_tracked") and key not in sd:
            sd[key] = torch.zeros_like(value)
    model.load_state_dict(sd, strict=True)
    return model.eval()


class IDEmbedder(nn.Module):
    """Identity embeddings as in the e4e/StyleCLIP ID loss: crop [35:223, 32:220] of 256 px, pool to 112, IR-SE50."""

    def __init__(self, net: IRSE50, pool_to_256: bool = True):
        super().__init__()
        self.net = net
        self.pool_to_256 = pool_to_256  # StyleCLIP: images not 256 px are first average-pooled to 256
        self.net.eval().requires_grad_(False)

    @classmethod
    def from_file(cls, path, pool_to_256: bool = True) -> "IDEmbedder":
        """Embedder with weights from ``model_ir_se50.pth`` or a .safetensors copy."""
        return cls(load_irse50(path), pool_to_256=pool_to_256)

    def train(self, mode: bool = True) -> "IDEmbedder":
        """Stay in eval mode: BatchNorm must use its running statistics."""
        return super().train(False)

    def preprocess(self, images: torch.Tensor) -> torch.Tensor:
        """(N,3,H,W) images in [-1, 1] -> (N,3,112,112) network input."""
        if images.shape[-2:] != (256, 256):
            if not self.pool_to_256:
                raise ValueError(f"expected 256x256 images, got {tuple(images.shape[-2:])}")
            images = F.adaptive_avg_pool2d(images, (256, 256))
        face = images[:, :, ID_CROP[0], ID_CROP[1]]
        return F.adaptive_avg_pool2d(face, (ID_INPUT, ID_INPUT))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """Unit-norm (N, 512) identity embeddings of images in [-1, 1]."""
        return self.net(self.preprocess(images))

    def similarity(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        """Per-sample identity cosine between two image batches."""
        return identity_similarity(self(a), self(b))


def identity_similarity(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Cosine of unit-norm embeddings per sample (the ID loss is 1 minus this)."""
    return (a * b).sum(dim=-1)
