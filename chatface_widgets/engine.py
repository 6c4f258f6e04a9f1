"""The editing engine: load a model once, open a photo once (z and x_T cached), render edits fast.

    engine = Engine.load("toy")
    face = engine.open(photo)
    image = face.render({"smile": 0.8, "eyeglasses": 0.4}, steps=8, sms=True)

``render`` composes ``z_edit = z + Σ s_i·Δz_i(z)`` (ChatFace Eq. 12) and decodes the cached x_T
with SMS (Eq. 13). All strengths 0 gives the reconstruction.
"""

from __future__ import annotations

import os
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Mapping, Optional, Sequence

import torch
from PIL import Image

from .contract import EditContract, StepPolicy
from .diffusion import conditioning, samplers
from .diffusion.respacing import check_steps
from .diffusion.schedule import Schedule, make_schedule
from .editing import AttributeRegistry
from .models.diffae import DiffAE
from .photo import PhotoLike, center_square, load_photo, to_pil, to_tensor

SAMPLE = "sample"  # engine.open("sample") / "sample:NAME" / "sample:INDEX": a built-in sample photo


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
    """Where a model came from and how it wants to be used (read off its catalogue entry and config)."""

    name: str
    path: Path
    align: bool  # real-photo models align faces FFHQ-style; the built-in world needs no alignment
    default_steps: int
    image_size: int


class Engine:
    """A loaded diffusion autoencoder plus its attribute registry; open photos with :meth:`open`."""

    def __init__(self, model: DiffAE, registry: AttributeRegistry, info: ModelInfo, device: torch.device, speed="off",
                 threads="auto", spec=None):
        from .speed import safe_prepare

        self.spec = spec  # the catalogue entry (chatface_widgets.catalogue.ModelSpec); None for hand-built engines

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
        """Load a model by catalogue name ("toy", "tiny", "ffhq256", "ffhq128"), file or folder; ``speed``: see speed.prepare."""
        from .catalogue import find

        spec = find(name_or_path)
        model, card = spec.load_network()
        registry = spec.registry(model.config.z_channels, mappers=mappers)
        info = ModelInfo(name=spec.name, path=spec.weights or Path(f"<{spec.name}>"),
                         align=spec.aligns(card) if align is None else bool(align),
                         default_steps=model.config.default_steps, image_size=model.config.image_size)
        return cls(model, registry, info, pick_device(device), speed=speed, threads=threads, spec=spec)

    @property
    def contract(self) -> EditContract:
        """This model's edit contract: attribute names and synonyms, recommended strengths, step policy."""
        return self.registry.contract(StepPolicy(default=self.info.default_steps))

    @property
    def attributes(self) -> list[str]:
        """The attribute names this model can edit."""
        return self.registry.names

    @property
    def image_size(self) -> int:
        return self.info.image_size

    def open(self, photo: PhotoLike, align: Optional[bool] = None, face_index: Optional[int] = None) -> "Face":
        """Read a photo, align or crop it to the model's size, and encode z (x_T is inverted on demand).

        ``photo`` is a path, a PIL image, an array, or "sample" / "sample:NAME" / "sample:INDEX" for one
        of the model's built-in sample photos.
        """
        original = load_photo(self.sample_path(photo) if is_sample(photo) else photo)
        aligned = None
        if self.info.align if align is None else align:
            from .align import align_face

            aligned = align_face(original, index=face_index, size=self.image_size)
            image = aligned.image
        else:
            image = center_square(original, self.image_size)
        x0 = to_tensor(image).to(self.device)
        return Face(self, original, image, x0, self.encode(x0), aligned)

    def sample_path(self, text: str) -> Path:
        """The file of a built-in sample photo named "sample", "sample:NAME" or "sample:INDEX"."""
        from .catalogue import find

        spec = self.spec or find("tiny")
        return spec.sample(str(text).partition(":")[2] or 0)

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


def is_sample(photo) -> bool:
    """Whether ``photo`` names a built-in sample ("sample" or "sample:NAME") rather than a file."""
    return isinstance(photo, str) and (photo == SAMPLE or photo.startswith(SAMPLE + ":"))


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
