"""Registry of the official checkpoints this package can use, where they live locally, and conversion.

Layout of the cache folder (``$CHATFACE_HOME``, default ``platformdirs.user_cache_dir("chatface_widgets")``)::

    downloads/<name>/<file>      the file as published (e.g. downloads/ffhq256_autoenc/last.ckpt)
    <name>.safetensors (+.json)  converted DiffAE / classifier weights; what ``resolve`` returns

Files that need no conversion (IR-SE50, CLIP) are used where they were downloaded. Nothing here
touches the network; see :mod:`chatface_widgets.engine.download`.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

ENV_HOME = "CHATFACE_HOME"
ENV_BASE_URL = "CHATFACE_WEIGHTS_BASE_URL"  # a mirror serving <base>/<entry.filename>
CONVERTED_KINDS = ("diffae", "latent_classifier")


class MissingWeightsError(FileNotFoundError):
    """Weights are not on this machine; the message says which command fetches them and where to put them."""


class UnknownWeightsError(KeyError):
    """A name that is not in the registry."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


@dataclass(frozen=True)
class WeightsEntry:
    """One published checkpoint."""

    name: str  # registry key: `chatface weights download <name>`
    filename: str  # path under a mirror base URL; mirrors the official ``checkpoints/`` layout
    kind: str  # "diffae" | "latent_classifier" | "irse50" | "open_clip"; decides conversion and loader
    size: int | None  # expected bytes; exact only when size_tolerance == 0
    size_tolerance: float  # relative tolerance of ``size`` (approximate sizes: estimated from the shapes)
    sha256: str | None  # hex digest, None where not published
    url: str | None  # direct download URL; None where the authors share a web folder only
    source: str  # official page (documentation only; never fetched by code or tests)
    licence: str  # licence of the weights and what they were trained on
    extra: str | None  # pip extra needed to use the file, if any
    loader: str  # what loads the resolved file
    description: str = ""
    drive_folder: str | None = None  # the authors' public Google Drive folder holding ``basename``

    @property
    def basename(self) -> str:
        """File name of the published file."""
        return self.filename.rsplit("/", 1)[-1]

    @property
    def converts(self) -> bool:
        """Whether the published file is converted to safetensors on arrival."""
        return self.kind in CONVERTED_KINDS


_DIFFAE_SOURCE = "https://github.com/phizaz/diffae#checkpoints (Google Drive folder {})"
_DRIVE = "https://drive.google.com/drive/folders/"
_FFHQ_LICENCE = ("weights published with the MIT-licensed phizaz/diffae code (no separate weights licence); "
                 "trained on FFHQ (images under CC BY / CC BY-NC / public-domain terms, dataset CC BY-NC-SA 4.0 "
                 "by NVIDIA): treat as research / non-commercial")
_CELEBA_LICENCE = ("MIT-licensed phizaz/diffae; linear classifier on FFHQ latents trained with CelebA-HQ "
                   "attribute labels (CelebA: non-commercial research use only)")

REGISTRY: dict[str, WeightsEntry] = {e.name: e for e in (
    WeightsEntry(
        name="ffhq256_autoenc", filename="ffhq256_autoenc/last.ckpt", kind="diffae",
        # 168,492,291 fp32 params as model.* and ema_model.* (1.35 GB) plus x_T and, if kept, Adam state.
        size=2_050_000_000, size_tolerance=0.35, sha256=None, url=None,
        source=_DIFFAE_SOURCE.format(_DRIVE + "1-5zfxT6Gl-GjxM7z9ZO2AHlB70tfmF6V"), drive_folder=_DRIVE + "1-5zfxT6Gl-GjxM7z9ZO2AHlB70tfmF6V",
        licence=_FFHQ_LICENCE, extra=None, loader="chatface_widgets.models.diffae.load_diffae",
        description="DiffAE autoencoder, FFHQ 256x256 (the model ChatFace edits with)"),
    WeightsEntry(
        name="ffhq128_autoenc_130M", filename="ffhq128_autoenc_130M/last.ckpt", kind="diffae",
        # 128,545,155 fp32 params twice (1.03 GB) plus x_T and, if kept, Adam state.
        size=1_550_000_000, size_tolerance=0.36, sha256=None, url=None,
        source=_DIFFAE_SOURCE.format(_DRIVE + "10UNtFNfxbHBPkoIh003JkSPto5s-VbeN"), drive_folder=_DRIVE + "10UNtFNfxbHBPkoIh003JkSPto5s-VbeN",
        licence=_FFHQ_LICENCE, extra=None, loader="chatface_widgets.models.diffae.load_diffae",
        description="DiffAE autoencoder, FFHQ 128x128, 130M-image schedule (about 4x cheaper than 256)"),
    WeightsEntry(
        name="ffhq256_autoenc_cls", filename="ffhq256_autoenc_cls/last.ckpt", kind="latent_classifier",
        # conds_mean/std, classifier and ema_classifier (168 KB) plus Lightning/Adam extras.
        size=300_000, size_tolerance=0.6, sha256=None, url=None,
        source=_DIFFAE_SOURCE.format(_DRIVE + "117Wv7RZs_gumgrCOIhDEWgsNy6BRJorg"), drive_folder=_DRIVE + "117Wv7RZs_gumgrCOIhDEWgsNy6BRJorg",
        licence=_CELEBA_LICENCE, extra=None,
        loader="chatface_widgets.models.latent_classifier.load_latent_classifier",
        description="40 CelebA-HQ attribute directions for ffhq256_autoenc latents"),
    WeightsEntry(
        name="ffhq128_autoenc_cls", filename="ffhq128_autoenc_cls/last.ckpt", kind="latent_classifier",
        size=300_000, size_tolerance=0.6, sha256=None, url=None,
        source=_DIFFAE_SOURCE.format(_DRIVE + "11EYIyuK6IX44C8MqreUyMgPCNiEnwhmI"), drive_folder=_DRIVE + "11EYIyuK6IX44C8MqreUyMgPCNiEnwhmI",
        licence=_CELEBA_LICENCE, extra=None,
        loader="chatface_widgets.models.latent_classifier.load_latent_classifier",
        description="40 CelebA-HQ attribute directions for ffhq128_autoenc_130M latents"),
    WeightsEntry(
        name="ir_se50", filename="model_ir_se50.pth", kind="irse50",
        # 175,296,472 bytes of tensors plus pickle overhead.
        size=175_400_000, size_tolerance=0.01, sha256=None, url=None,
        source=("https://github.com/TreB1eN/InsightFace_Pytorch (IR-SE50 @ OneDrive/BaiduNetdisk); the copy the "
                "ID losses use is linked from https://github.com/omertov/encoder4editing#pretrained-models "
                "(Google Drive file 1KW7bjndL3QG3sxBbZxreGHigcCCpsDgn)"),
        licence=("code MIT (TreB1eN/InsightFace_Pytorch); weights trained on MS1M / MS-Celeb-1M, a data set "
                 "Microsoft withdrew: research use"),
        extra="train", loader="chatface_widgets.models.arcface.load_irse50",
        description="ArcFace IR-SE50 identity network for the ID loss (training and evaluation)"),
    WeightsEntry(
        name="clip_vit_b32_openai", filename="ViT-B-32.pt", kind="open_clip",
        size=354_000_000, size_tolerance=0.03,
        sha256="40d365715913c9da98579312b702a82c18be219cc2a73407c4526f58eba950af",
        url=("https://openaipublic.azureedge.net/clip/models/"
             "40d365715913c9da98579312b702a82c18be219cc2a73407c4526f58eba950af/ViT-B-32.pt"),
        source="https://github.com/openai/CLIP (clip/clip.py _MODELS['ViT-B/32']; open_clip tag ViT-B-32 'openai')",
        licence="MIT (openai/CLIP, code and weights)", extra="train",
        loader="open_clip.load_openai_model(str(path))  # TorchScript file, QuickGELU",
        description="CLIP ViT-B/32 (OpenAI) for the CLIP direction loss while training mappers"),
)}


def weights_home() -> Path:
    """Cache folder: ``$CHATFACE_HOME`` or the platform's user cache dir for chatface_widgets."""
    env = os.environ.get(ENV_HOME)
    if env:
        return Path(env).expanduser()
    import platformdirs

    return Path(platformdirs.user_cache_dir("chatface_widgets"))


def get_entry(name: str) -> WeightsEntry:
    """Registry entry by name."""
    try:
        return REGISTRY[name]
    except KeyError:
        raise UnknownWeightsError(f"unknown weights {name!r}; known: {', '.join(sorted(REGISTRY))}") from None


def raw_path(entry: WeightsEntry, home: Path | None = None) -> Path:
    """Where the published file is (or will be) stored."""
    return (home or weights_home()) / "downloads" / entry.name / entry.basename


def local_path(entry: WeightsEntry, home: Path | None = None) -> Path:
    """The file ``resolve`` returns: the converted safetensors, or the published file itself."""
    if entry.converts:
        return (home or weights_home()) / f"{entry.name}.safetensors"
    return raw_path(entry, home)


def url_for(entry: WeightsEntry, base_url: str | None = None) -> str | None:
    """Download URL: ``base_url`` (or ``$CHATFACE_WEIGHTS_BASE_URL``) + filename, else the entry's own URL."""
    base = base_url or os.environ.get(ENV_BASE_URL)
    if base:
        return f"{base.rstrip('/')}/{entry.filename}"
    return entry.url


def missing_message(entry: WeightsEntry, home: Path | None = None, reason: str = "") -> str:
    """The message of a MissingWeightsError: the manual steps, then what can fetch the file for you."""
    raw = raw_path(entry, home)
    size = f" (about {entry.size / 1e9:.1f} GB)" if entry.size and entry.size > 1e8 else ""
    where = entry.drive_folder or entry.url or entry.source
    lines = [f"{entry.name} weights are not available{': ' + reason if reason else ''}.",
             f"  1. Open {where}" + (f"  (the official folder; see {entry.source.split(' ')[0]})"
                                     if entry.drive_folder else ""),
             f"  2. Download the file {entry.basename}{size} from it.",
             f"  3. Put it at {raw}",
             f"  4. Run:  chatface weights download {entry.name}"
             + ("   (it checks the file and converts it to " + str(local_path(entry, home)) + ", offline)"
                if entry.converts else "   (it checks the file, offline)")]
    if entry.url is None:
        helpers = [f"set {ENV_BASE_URL} to a mirror serving {entry.filename}"]
        if entry.drive_folder:
            helpers.insert(0, 'pip install "chatface-widgets[download]" (gdown fetches public Google Drive folders)')
        lines.append(f"  To let step 4 fetch the file itself: {' or '.join(helpers)}.")
    return "\n".join(lines)


def resolve(name: str, home: Path | None = None, convert: bool = True) -> Path:
    """Local file for a registry name, converting a present published file first; else MissingWeightsError."""
    entry = get_entry(name)
    final = local_path(entry, home)
    if final.is_file():
        return final
    raw = raw_path(entry, home)
    if entry.converts and convert and raw.is_file():
        return convert_file(entry, raw, final)
    raise MissingWeightsError(missing_message(entry, home))


def _atomic_outputs(dst: Path, write) -> Path:
    """Run ``write(tmp_dst)`` in a scratch folder next to ``dst``, then move every file it wrote into place."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=".convert-", dir=dst.parent))
    try:
        write(scratch / dst.name)
        for produced in sorted(scratch.iterdir(), key=lambda p: p.name == dst.name):  # weights file last
            os.replace(produced, dst.parent / produced.name)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return dst


def convert_classifier(src, dst) -> Path:
    """Keep conds_mean, conds_std, classifier.weight/bias of a classifier .ckpt in a safetensors file."""
    from safetensors.torch import save_file

    from chatface_widgets.models.latent_classifier import CELEBA_ATTRIBUTES, read_classifier_state

    tensors = read_classifier_state(src)
    meta = {"kind": "latent_classifier", "attributes": json.dumps(list(CELEBA_ATTRIBUTES)), "source": Path(src).name}
    return _atomic_outputs(Path(dst), lambda tmp: save_file(tensors, str(tmp), metadata=meta))


def convert_diffae(src, dst, half: bool = False) -> Path:
    """Official DiffAE .ckpt -> EMA-only safetensors plus JSON config (``save_diffae``)."""
    from chatface_widgets.models.diffae import load_diffae_file, save_diffae

    loaded = load_diffae_file(src)  # official topologies need no JSON; NaN/inf weights are refused
    extra = {k: v for k, v in loaded.card.items() if k not in ("kind", "config", "dtype")}
    return _atomic_outputs(Path(dst), lambda tmp: save_diffae(loaded.model, tmp, half=half, extra=extra))


def convert_file(entry: WeightsEntry, src: Path, dst: Path | None = None) -> Path:
    """Convert a published file of a converting entry to its local safetensors form."""
    dst = Path(dst) if dst is not None else local_path(entry)
    if entry.kind == "diffae":
        return convert_diffae(src, dst)
    if entry.kind == "latent_classifier":
        return convert_classifier(src, dst)
    raise ValueError(f"{entry.name} ({entry.kind}) needs no conversion")
