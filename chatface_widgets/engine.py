"""The editing engine: load a model once, open a photo once (z and x_T cached), render edits fast.

    engine = Engine.load("toy")
    face = engine.open(photo)
    image = face.render({"smile": 0.8, "eyeglasses": 0.4}, steps=8, sms=True)

``render`` composes ``z_edit = z + Σ s_i·Δz_i(z)`` (ChatFace Eq. 12) and decodes the cached x_T
with SMS (Eq. 13). All strengths 0 gives the reconstruction.
"""

from __future__ import annotations

import json
import os
import sys
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Mapping, Optional, Sequence

import torch
from PIL import Image

from .diffusion import conditioning, samplers
from .diffusion.respacing import check_steps
from .diffusion.schedule import Schedule, make_schedule
from .editing import AttributeRegistry
from .models.diffae import DiffAE, load_diffae
from .photo import PhotoLike, center_square, load_photo, to_pil, to_tensor

PACKAGE_DIR = Path(__file__).resolve().parent
# Official models known to the weights registry; resolved lazily through chatface_widgets.weights.
OFFICIAL_ALIASES = {"ffhq256": "ffhq256_autoenc", "ffhq256_autoenc": "ffhq256_autoenc",
                    "ffhq128": "ffhq128_autoenc_130M", "ffhq128_autoenc_130M": "ffhq128_autoenc_130M"}
# DiffAE's latent attribute classifier for each official model: 40 CelebA attributes as directions.
CLASSIFIER_FOR = {"ffhq256_autoenc": "ffhq256_autoenc_cls", "ffhq128_autoenc_130M": "ffhq128_autoenc_cls"}


def builtin_dir(name: str = "toy") -> Path:
    """Folder of a built-in model: ``$CHATFACE_TOY_DIR``, the package's copy, or the repo's ``weights/``."""
    env = os.environ.get("CHATFACE_TOY_DIR")
    candidates = ([Path(env)] if env else []) + [PACKAGE_DIR.parent / "weights" / name,
                                                 Path(sys.prefix) / "share" / "chatface_widgets" / "weights" / name]
    for folder in candidates:
        if (folder / "diffae.safetensors").is_file():
            return folder
    raise FileNotFoundError(
        f"the built-in model {name!r} was not found (looked in: {', '.join(str(c) for c in candidates)}). "
        "Reinstall chatface-widgets from a full clone, or set CHATFACE_TOY_DIR to a folder holding diffae.safetensors."
    )


def pick_device(device: Optional[str] = None) -> torch.device:
    """CUDA, then MPS, then CPU, unless ``device`` (or ``$CHATFACE_DEVICE``) says otherwise."""
    device = device or os.environ.get("CHATFACE_DEVICE")
    if device:
        return torch.device(device)
    if torch.cuda.is_available():
        return torch.device("cuda")
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


@dataclass(frozen=True)
class ModelInfo:
    """Where a model came from and how it wants to be used."""

    name: str
    path: Path
    align: bool  # real-photo models align faces FFHQ-style; the built-in world needs no alignment
    default_steps: int
    image_size: int


def _resolve_model(name_or_path) -> tuple[Path, str, bool]:
    """Model name or checkpoint path → (weights file, display name, whether photos need alignment)."""
    text = str(name_or_path)
    if text == "toy":
        return builtin_dir("toy") / "diffae.safetensors", "toy", False
    if text in OFFICIAL_ALIASES:
        from .weights import resolve

        return Path(resolve(OFFICIAL_ALIASES[text])), text, True
    path = Path(text).expanduser()
    if path.is_dir() and (path / "diffae.safetensors").is_file():
        path = path / "diffae.safetensors"
    if path.is_file():
        meta_path = path.with_suffix(".json")
        meta = json.loads(meta_path.read_text()) if meta_path.is_file() else {}
        return path, path.stem, bool(meta.get("align", True))
    known = ", ".join(["toy", *OFFICIAL_ALIASES])
    raise FileNotFoundError(f"unknown model {text!r}: not a file, and not one of: {known}")


class Engine:
    """A loaded diffusion autoencoder plus its attribute registry; open photos with :meth:`open`."""

    def __init__(self, model: DiffAE, registry: AttributeRegistry, info: ModelInfo, device: torch.device, speed="off",
                 threads="auto"):
        from .speed import safe_prepare

        self.model = model.to(device).eval().requires_grad_(False)
        self.registry = registry
        self.info = info
        self.device = device
        self.speed = safe_prepare(self.model, device, speed)  # raw prediction for the samplers; "off": the model itself
        self._lock = threading.Lock()  # one network call at a time per engine (shared by panels)
        self.threads = _pick_threads(threads, self.model, device)  # intra-op threads for engine calls, None = as set

    @contextmanager
    def compute(self):
        """Hold the engine for one network job, with its intra-op thread count (restored afterwards)."""
        with self._lock:
            before = torch.get_num_threads()
            if self.threads is None or self.threads == before:
                yield
                return
            torch.set_num_threads(self.threads)
            try:
                yield
            finally:
                torch.set_num_threads(before)

    @classmethod
    def load(cls, name_or_path="toy", device: Optional[str] = None, mappers: Optional[str | Path] = None,
             align: Optional[bool] = None, speed="auto", threads="auto") -> "Engine":
        """Load a model by registry name ("toy", "ffhq256", "ffhq128") or checkpoint path; ``speed``: see speed.prepare."""
        path, name, needs_align = _resolve_model(name_or_path)
        model = load_diffae(path)
        folder = path.parent
        registry = AttributeRegistry.from_folder(Path(mappers) if mappers else folder / "mappers", model.config.z_channels)
        _add_stored_directions(registry, folder, model.config.z_channels)
        if str(name_or_path) in OFFICIAL_ALIASES:
            _add_classifier_directions(registry, OFFICIAL_ALIASES[str(name_or_path)])
        meta_path = path.with_suffix(".json")
        meta = json.loads(meta_path.read_text()) if meta_path.is_file() else {}
        info = ModelInfo(name=name, path=path, align=needs_align if align is None else align,
                         default_steps=int(meta.get("config", {}).get("default_steps", model.config.default_steps)),
                         image_size=int(meta.get("config", {}).get("image_size", model.config.image_size)))
        return cls(model, registry, info, pick_device(device), speed=speed, threads=threads)

    @property
    def attributes(self) -> list[str]:
        """The attribute names this model can edit."""
        return self.registry.names

    @property
    def image_size(self) -> int:
        return self.info.image_size

    def open(self, photo: PhotoLike, align: Optional[bool] = None, face_index: Optional[int] = None) -> "Face":
        """Read a photo, align or crop it to the model's size, and encode z (x_T is inverted on demand)."""
        original = load_photo(photo)
        aligned = None
        if self.info.align if align is None else align:
            from .align import align_face

            aligned = align_face(original, index=face_index, size=self.image_size)
            image = aligned.image
        else:
            image = center_square(original, self.image_size)
        x0 = to_tensor(image).to(self.device)
        return Face(self, original, image, x0, self.encode(x0), aligned)

    # --- low-level diffusion calls: one network job each, under the engine lock ----------------
    # ``fast=True`` runs the prepared speed path (chatface_widgets.speed, what renders use);
    # ``fast=False`` the plain float32 network (what training pools and parity checks want).

    def schedule(self, steps: int) -> Schedule:
        """The DDIM schedule of this model for ``steps`` (validated; ValueError names the valid counts)."""
        return make_schedule(check_steps(steps), self.model.config.prediction)

    def _net(self, fast: bool):
        return self.speed if fast else self.model

    def encode(self, x0: torch.Tensor, fast: bool = True) -> torch.Tensor:
        """z = Enc(x0) (DiffAE's semantic encoder, float32) for images (B, 3, H, W) in [-1, 1]."""
        with self.compute(), torch.no_grad():
            return self.speed.encode(x0) if fast else self.model.encode(x0)

    def invert(self, x0: torch.Tensor, z: torch.Tensor, steps: int,
               callback: Optional[Callable[[dict], Optional[bool]]] = None, fast: bool = True) -> torch.Tensor:
        """x_T by ``steps``-step deterministic DDIM inversion of x0 conditioned on z (diffusion.samplers.invert)."""
        schedule = self.schedule(steps)
        with self.compute():
            return samplers.invert(self._net(fast), x0, z, schedule, callback=callback)

    def decode(self, x_T: torch.Tensor, codes, steps: int, callback: Optional[Callable[[dict], Optional[bool]]] = None,
               fast: bool = True) -> torch.Tensor:
        """x̂0 in [-1, 1] by ``steps``-step DDIM decoding of x_T; ``codes``: z or a conditioning schedule.

        ``codes`` is a tensor (the same z at every step) or a schedule from
        ``chatface_widgets.diffusion.conditioning`` such as ``sms(z, z_edit)``. The callback gets
        ``{"i", "x", "denoised", "steps"}`` after each step; returning False stops early.
        """
        schedule = self.schedule(steps)
        with self.compute():
            return samplers.decode(self._net(fast), x_T, codes, schedule, callback=callback)

    def decode_differentiable(self, x_T: torch.Tensor, codes, steps: int, checkpoint: bool = True) -> torch.Tensor:
        """:meth:`decode` with gradients (plain float32 network, checkpointed steps): D(z_edit) for training.

        Only the forward pass holds the engine lock; the backward pass (and its recomputation
        of checkpointed steps) runs when the caller calls ``backward()``.
        """
        schedule = self.schedule(steps)
        with self.compute():
            return samplers.decode_differentiable(self.model, x_T, codes, schedule, checkpoint=checkpoint)


SMALL_MODEL_PIXELS = 64  # at this size and below a UNet op is too small to split over CPU threads


def _pick_threads(threads, model: DiffAE, device: torch.device) -> Optional[int]:
    """Intra-op threads for engine calls: an int, None (leave torch's setting), or "auto".

    "auto" (or ``$CHATFACE_THREADS``) gives 1 thread for small models on the CPU: the 48 px
    built-in model renders T = 20 in 0.43 s on 1 thread and 0.64 s on 2 (BENCHMARKS.md).
    """
    env = os.environ.get("CHATFACE_THREADS")
    if threads == "auto" and env:
        threads = int(env)
    if threads == "auto":
        small = model.config.image_size <= SMALL_MODEL_PIXELS
        return 1 if device.type == "cpu" and small else None
    if threads is not None and int(threads) < 1:
        raise ValueError(f"threads must be a positive integer, 'auto' or None; got {threads!r}")
    return None if threads is None else int(threads)


def _add_stored_directions(registry: AttributeRegistry, folder: Path, z_channels: int) -> None:
    """Add linear directions stored beside a model (``directions.safetensors`` + ``.json``)."""
    from .models.mapper import LinearDirection, read_directions

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


def _add_classifier_directions(registry: AttributeRegistry, model_name: str) -> None:
    """Add the 40 latent-classifier directions of an official model; warn (with the command) when absent."""
    import warnings

    from .weights import MissingWeightsError, resolve

    try:
        path = resolve(CLASSIFIER_FOR[model_name])
    except MissingWeightsError as exc:
        warnings.warn(f"no attribute classifier for {model_name}, so only trained mappers are editable.\n{exc}",
                      stacklevel=3)
        return
    from .models.latent_classifier import load_latent_classifier

    registry.add_directions(load_latent_classifier(path).directions())


class Face:
    """An opened photo: its aligned image, semantic code z and (per step count) noise code x_T."""

    def __init__(self, engine: Engine, original: Image.Image, image: Image.Image, x0: torch.Tensor, z: torch.Tensor, aligned=None):
        self.engine = engine
        self.original = original  # the photo as given (RGB, upright)
        self.image = image  # what the model sees (aligned or cropped, model size)
        self.x0 = x0
        self.z = z
        self.aligned = aligned
        self._noise: dict[int, torch.Tensor] = {}
        self._noise_lock = threading.Lock()

    def noise(self, steps: int) -> torch.Tensor:
        """x_T by DDIM inversion with ``steps`` steps, computed once and cached."""
        steps = check_steps(steps)
        with self._noise_lock:
            if steps not in self._noise:
                self._noise[steps] = self.engine.invert(self.x0, self.z, steps)
            return self._noise[steps]

    def edit_code(self, edits: Optional[Mapping[str, float]] = None) -> torch.Tensor:
        """z_edit for a dict of strengths (ChatFace Eq. 12); unknown names raise UnknownAttributeError."""
        clean = self.engine.registry.validate(edits or {})
        if not any(clean.values()):
            return self.z
        return self.engine.registry.compose_validated(self.z, clean)

    def render_tensor(self, edits: Optional[Mapping[str, float]] = None, steps: Optional[int] = None, sms: bool = True,
                      callback: Optional[Callable[[dict], Optional[bool]]] = None) -> torch.Tensor:
        """The edited face as a (1, 3, H, W) tensor in [-1, 1]; the callback can stop early."""
        steps = check_steps(self.engine.info.default_steps if steps is None else steps)
        x_T = self.noise(steps)
        z_edit = self.edit_code(edits)
        codes = self.z if z_edit is self.z else _codes(self.z, z_edit, sms)
        return self.engine.decode(x_T, codes, steps, callback=callback)

    def render(self, edits: Optional[Mapping[str, float]] = None, steps: Optional[int] = None, sms: bool = True,
               callback: Optional[Callable[[dict], Optional[bool]]] = None, paste: bool = False) -> Image.Image:
        """The edited face as a PIL image (``paste=True``: pasted back into the whole photo when aligned)."""
        image = to_pil(self.render_tensor(edits, steps, sms, callback))[0]
        if paste and self.aligned is not None:
            return self.aligned.paste(image)
        return image

    def render_many(self, edits_list: Sequence[Mapping[str, float]], steps: Optional[int] = None, sms: bool = True) -> list[Image.Image]:
        """Several edits of this face decoded as one batch (e.g. a strength strip)."""
        steps = check_steps(self.engine.info.default_steps if steps is None else steps)
        if not edits_list:
            return []
        x_T = self.noise(steps)
        z_edit = torch.cat([self.edit_code(e) for e in edits_list])
        n = z_edit.shape[0]
        x_T, z = x_T.expand(n, -1, -1, -1), self.z.expand(n, -1)
        return to_pil(self.engine.decode(x_T, _codes(z, z_edit, sms), steps))

    def reconstruct(self, steps: Optional[int] = None) -> Image.Image:
        """Invert and decode with no edit."""
        return self.render({}, steps=steps)


def _codes(z: torch.Tensor, z_edit: torch.Tensor, sms: bool):
    """The conditioning of an edit: SMS from z_edit to z (ChatFace Eq. 13), or z_edit at every step."""
    return conditioning.sms(z, z_edit) if sms else conditioning.constant(z_edit)
