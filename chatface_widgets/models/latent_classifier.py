"""DiffAE's latent attribute classifier (40 CelebA attributes) used as linear edit directions.

The official ``ClsModel`` scores ``Linear(normalize(z))`` with ``normalize(z) = (z - conds_mean) / conds_std``;
manipulation (``manipulate.ipynb``, cog ``predict.py``) moves the normalised code along the unit weight row:
``z_n = (z - mean)/std;  z_n += amp * sqrt(D) * W[c]/|W[c]|;  z = z_n*std + mean``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

import torch

from chatface_widgets.models.checkpoint_io import load_pickled

# The official default amplitude in manipulate.ipynb. Slider strength 1.0 means this amplitude.
DEFAULT_AMPLITUDE = 0.3

# (CelebA name in classifier-row order, chat vocabulary name, sign). Sign -1: the chat word means the
# opposite of the CelebA attribute (as predict.py maps "Beard" to "No_Beard" with a negated amplitude).
ATTRIBUTES: tuple[tuple[str, str, int], ...] = (
    ("5_o_Clock_Shadow", "5 o'clock shadow", 1),
    ("Arched_Eyebrows", "arched eyebrows", 1),
    ("Attractive", "attractive", 1),
    ("Bags_Under_Eyes", "bags under eyes", 1),
    ("Bald", "bald", 1),
    ("Bangs", "bangs", 1),
    ("Big_Lips", "big lips", 1),
    ("Big_Nose", "big nose", 1),
    ("Black_Hair", "black hair", 1),
    ("Blond_Hair", "blond hair", 1),
    ("Blurry", "blurry", 1),
    ("Brown_Hair", "brown hair", 1),
    ("Bushy_Eyebrows", "bushy eyebrows", 1),
    ("Chubby", "chubby", 1),
    ("Double_Chin", "double chin", 1),
    ("Eyeglasses", "eyeglasses", 1),
    ("Goatee", "goatee", 1),
    ("Gray_Hair", "gray hair", 1),
    ("Heavy_Makeup", "makeup", 1),
    ("High_Cheekbones", "high cheekbones", 1),
    ("Male", "male", 1),
    ("Mouth_Slightly_Open", "mouth slightly open", 1),
    ("Mustache", "mustache", 1),
    ("Narrow_Eyes", "narrow eyes", 1),
    ("No_Beard", "beard", -1),
    ("Oval_Face", "oval face", 1),
    ("Pale_Skin", "pale skin", 1),
    ("Pointy_Nose", "pointy nose", 1),
    ("Receding_Hairline", "receding hairline", 1),
    ("Rosy_Cheeks", "rosy cheeks", 1),
    ("Sideburns", "sideburns", 1),
    ("Smiling", "smile", 1),
    ("Straight_Hair", "straight hair", 1),
    ("Wavy_Hair", "wavy hair", 1),
    ("Wearing_Earrings", "earrings", 1),
    ("Wearing_Hat", "hat", 1),
    ("Wearing_Lipstick", "lipstick", 1),
    ("Wearing_Necklace", "necklace", 1),
    ("Wearing_Necktie", "necktie", 1),
    ("Young", "young", 1),
)
CELEBA_ATTRIBUTES = tuple(a[0] for a in ATTRIBUTES)
CHAT_NAMES = tuple(a[1] for a in ATTRIBUTES)
STATE_KEYS = ("conds_mean", "conds_std", "classifier.weight", "classifier.bias")


def attribute_index(attr: int | str) -> tuple[int, int]:
    """(row, sign) for a row index, a CelebA name (``Wavy_Hair``), a chat name (``wavy hair``) or ``Beard``."""
    if isinstance(attr, int):
        if not 0 <= attr < len(ATTRIBUTES):
            raise IndexError(f"attribute index {attr} out of range 0..{len(ATTRIBUTES) - 1}")
        return attr, 1
    if attr in CELEBA_ATTRIBUTES:
        return CELEBA_ATTRIBUTES.index(attr), 1
    key = attr.strip().lower().replace("_", " ")
    for i, (celeba, chat, sign) in enumerate(ATTRIBUTES):
        if key == chat:
            return i, sign
        if key == celeba.lower().replace("_", " "):
            return i, 1
    if ("No_" + attr) in CELEBA_ATTRIBUTES:  # predict.py: X missing but No_X present -> No_X, negated
        return CELEBA_ATTRIBUTES.index("No_" + attr), -1
    raise KeyError(f"unknown attribute {attr!r}; known: {', '.join(CHAT_NAMES)}")


def load_lightning_checkpoint(path) -> dict:
    """A Lightning .ckpt read safely (see :func:`checkpoint_io.load_pickled`)."""
    return load_pickled(Path(path))


def read_classifier_state(path) -> dict[str, torch.Tensor]:
    """``conds_mean``, ``conds_std``, ``classifier.weight``/``.bias`` of an official .ckpt or converted file."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"latent classifier checkpoint not found: {path}")
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        sd = load_file(str(path))
    else:
        obj = load_lightning_checkpoint(path)
        sd = obj.get("state_dict", obj) if isinstance(obj, Mapping) else None
        if not isinstance(sd, Mapping):
            raise ValueError(f"{path}: expected a Lightning checkpoint dict with 'state_dict'")
    missing = [k for k in STATE_KEYS if k not in sd]
    if missing:
        raise KeyError(f"{path}: not a DiffAE latent classifier checkpoint; missing {missing}")
    return {k: sd[k].detach().to(torch.float32).contiguous() for k in STATE_KEYS}


@dataclass(frozen=True, eq=False)
class LatentClassifier:
    """Linear attribute classifier on normalised DiffAE semantic codes."""

    conds_mean: torch.Tensor  # (1, D) mean of z_sem over the FFHQ training set
    conds_std: torch.Tensor  # (1, D) unbiased std of z_sem
    weight: torch.Tensor  # (A, D) classifier.weight (not the EMA copy, as the official notebook)
    bias: torch.Tensor  # (A,) classifier.bias

    @property
    def dim(self) -> int:
        """Semantic code size D (512 for the released models)."""
        return self.weight.shape[1]

    def normalize(self, z: torch.Tensor) -> torch.Tensor:
        """(z - conds_mean) / conds_std."""
        return (z - self.conds_mean.to(z)) / self.conds_std.to(z)

    def denormalize(self, z_n: torch.Tensor) -> torch.Tensor:
        """z_n * conds_std + conds_mean."""
        return z_n * self.conds_std.to(z_n) + self.conds_mean.to(z_n)

    def logits(self, z: torch.Tensor) -> torch.Tensor:
        """(N, 40) attribute logits of raw codes (the classifier sees the normalised code)."""
        return self.normalize(z) @ self.weight.to(z).T + self.bias.to(z)

    def unit_direction(self, attr: int | str) -> torch.Tensor:
        """Signed unit row W[c]/|W[c]| (D,) in normalised space for an attribute name or index."""
        row, sign = attribute_index(attr)
        w = self.weight[row]
        return sign * w / w.norm()

    def manipulate(self, z: torch.Tensor, attr: int | str, amplitude: float = DEFAULT_AMPLITUDE) -> torch.Tensor:
        """The official edit: move normalised z by amplitude * sqrt(D) along the unit classifier row."""
        z_n = self.normalize(z)
        z_n = z_n + amplitude * math.sqrt(self.dim) * self.unit_direction(attr).to(z)
        return self.denormalize(z_n)

    def directions(self, amplitude: float = DEFAULT_AMPLITUDE) -> dict:
        """Chat name -> ``LinearDirection`` whose strength 1.0 is ``amplitude`` (official default 0.3)."""
        from chatface_widgets.models.mapper import LinearDirection

        mean, std = self.conds_mean.reshape(-1), self.conds_std.reshape(-1)
        return {chat: LinearDirection(direction=self.unit_direction(chat), mean=mean, std=std,
                                      name=chat, amplitude=amplitude)
                for chat in CHAT_NAMES}


def load_latent_classifier(path) -> LatentClassifier:
    """Load an official ``ffhq*_autoenc_cls/last.ckpt`` or its converted safetensors."""
    sd = read_classifier_state(path)
    w, b = sd["classifier.weight"], sd["classifier.bias"]
    if w.ndim != 2 or w.shape[0] != len(ATTRIBUTES) or b.shape != (w.shape[0],):
        raise ValueError(f"{path}: classifier shapes {tuple(w.shape)}/{tuple(b.shape)}, expected (40, D)/(40,)")
    mean = sd["conds_mean"].reshape(1, -1)
    std = sd["conds_std"].reshape(1, -1)
    if mean.shape[1] != w.shape[1] or std.shape[1] != w.shape[1]:
        raise ValueError(f"{path}: conds_mean/std size {mean.shape[1]} does not match classifier input {w.shape[1]}")
    return LatentClassifier(conds_mean=mean, conds_std=std, weight=w, bias=b)
