"""The editing engine: load a model once, open a photo once (z and x_T cached), render edits fast.

    engine = Engine.load("toy")
    face = engine.open(photo)
    image = face.render({"smile": 0.8, "eyeglasses": 0.4}, steps=8, sms=True)

``render`` composes ``z_edit = z + Σ s_i·Δz_i(z)`` (ChatFace Eq. 12) and decodes the cached x_T
with SMS (Eq. 13). All strengths 0 gives the reconstruction (``local=False``) or the photo itself.

Local edits (``local=True``, or "auto", the default): each attribute's region is estimated once per
face by the network itself (DiffEdit-style, :mod:`chatface_widgets.diffusion.local`), regions of
several attributes are united, and outside the region the decoder follows the photo's own stored
inversion trajectory, so the pixels there are the photo's.
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

from .contract import LOCAL_REACH, REGION_PRIORS, EditContract, StepPolicy, check_reach
from .diffusion import conditioning, local as local_edits, samplers
from .diffusion.respacing import check_steps
from .diffusion.schedule import Schedule, make_schedule
from .editing import AttributeRegistry
from .models.diffae import DiffAE
from .photo import PhotoLike, center_square, load_photo, to_pil, to_tensor

SAMPLE = "sample"  # engine.open("sample") / "sample:NAME" / "sample:INDEX": a built-in sample photo
LOCAL_THRESHOLD = 0.5  # edit score (0…1, DiffEdit's normalised |Δx̂0|) at which a pixel is in the region
_UNSET = object()
RECON_CACHE_SIZE = 32  # masked reconstructions kept per face (one per set of edited attributes, sign and reach)
TEXTURES_FOLDER = "textures"  # texture painters beside a model's weights (Engine.painter)
AUTO_MAX_AREA = 0.6  # local="auto" edits locally unless the region covers more of the image than this


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
        self._parser = _UNSET  # the face parser, loaded on first use (see parser)
        self._painters: dict[str, object] = {}  # attribute -> its texture painter or None, loaded on first use

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
    def parser(self):
        """The model's face parser (models.face_parser.FaceParser) when its folder ships one, else None; loaded once."""
        if self._parser is _UNSET:
            folder = getattr(self.spec, "folder", None)
            parser = None
            if folder is not None:
                from .models.face_parser import load_parser

                parser = load_parser(folder)
            self._parser = parser.to(self.device) if parser is not None else None
        return self._parser

    def painter(self, name: str):
        """The texture painter of attribute ``name`` (models.texture_painter) when the model ships one, else None; loaded once.

        Painters live in ``textures/`` beside the weights: the built-in model's curls, which its z does not carry.
        """
        if name not in self._painters:
            folder = getattr(self.spec, "folder", None)
            painter = None
            if folder is not None:
                from .models.texture_painter import load_painter

                painter = load_painter(Path(folder) / TEXTURES_FOLDER, name)
            self._painters[name] = painter.to(self.device) if painter is not None else None
        return self._painters[name]

    def moves_z(self, name: str) -> bool:
        """Whether an edit of ``name`` moves z (False for an attribute drawn by its texture painter alone)."""
        painter = self.painter(name)
        return painter is None or painter.config.with_mapper

    def z_strengths(self, clean: Mapping[str, float]) -> dict[str, float]:
        """The validated strengths that move z (ChatFace Eq. 12): non-zero, and not drawn by a painter alone."""
        return {k: v for k, v in clean.items() if v and self.moves_z(k)}

    def paint(self, images: torch.Tensor, cleans: Sequence[Mapping[str, float]],
              inside: Optional[Callable[[str], Optional[torch.Tensor]]] = None) -> torch.Tensor:
        """Decoded images (B, 3, H, W) with each edited attribute's texture added by its painter (row i: cleans[i]).

        ``inside(name)``: where that texture may go, (B or 1, 1, H, W) in [0, 1], or None for everywhere.
        """
        for name in dict.fromkeys(k for c in cleans for k, v in c.items() if v):
            painter = self.painter(name)
            if painter is None:
                continue
            strength = torch.tensor([c.get(name, 0.0) for c in cleans], dtype=torch.float32)
            with self.compute():
                painted = painter.paint(images, strength)
            weight = inside(name) if inside is not None else None
            images = painted if weight is None else images + weight * (painted - images)
        return images

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

    def invert_trajectory(self, x0: torch.Tensor, z: torch.Tensor, steps: int,
                          fast: bool = True) -> local_edits.Trajectory:
        """Every state of :meth:`invert` (s_0 = x0 … s_T = x_T): what a local edit follows outside its region."""
        schedule = self.schedule(steps)
        with self.compute():
            return samplers.invert_trajectory(self._net(fast), x0, z, schedule)

    def edit_score(self, trajectory: local_edits.Trajectory, z: torch.Tensor, z_edit: torch.Tensor,
                   fast: bool = True) -> torch.Tensor:
        """Where each z_edit acts on this photo, (B, 1, H, W) in [0, 1] (diffusion.local.edit_score, DiffEdit)."""
        schedule = self.schedule(trajectory.steps)
        with self.compute():
            return local_edits.edit_score(self._net(fast), trajectory, z, z_edit, schedule)

    def decode(self, x_T: torch.Tensor, codes, steps: int, callback: Optional[Callable[[dict], Optional[bool]]] = None,
               fast: bool = True, keep: Optional[local_edits.KeepOutside] = None) -> torch.Tensor:
        """x̂0 in [-1, 1] by ``steps``-step DDIM decoding of x_T; ``codes``: z or a conditioning schedule.

        ``codes`` is a tensor (the same z at every step) or a schedule from
        ``chatface_widgets.diffusion.conditioning`` such as ``sms(z, z_edit)``. The callback gets
        ``{"i", "x", "denoised", "steps"}`` after each step; returning False stops early. ``keep``
        (diffusion.local.KeepOutside): a local edit, the photo's trajectory outside a mask.
        """
        schedule = self.schedule(steps)
        with self.compute():
            return samplers.decode(self._net(fast), x_T, codes, schedule, callback=callback, keep=keep)

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
    """An opened photo: its aligned image, semantic code z and (per step count) its inversion trajectory to x_T."""

    def __init__(self, engine: Engine, original: Image.Image, image: Image.Image, x0: torch.Tensor, z: torch.Tensor, aligned=None):
        self.engine = engine
        self.original = original  # the photo as given (RGB, upright)
        self.image = image  # what the model sees (aligned or cropped, model size)
        self.x0 = x0
        self.z = z
        self.aligned = aligned
        self._trajectories: dict[int, local_edits.Trajectory] = {}  # steps -> s_0 … s_T of DDIM inversion
        self._scores: dict[tuple, torch.Tensor] = {}  # (attribute, sign, steps) -> edit score (1, 1, H, W)
        self._noise_lock = threading.Lock()  # guards both caches
        self._parts = _UNSET  # (part names, probabilities) once parts() has looked
        self._priors: dict[str, Optional[torch.Tensor]] = {}  # attribute -> its part prior (per face, not per tick)
        self._recons: dict[tuple, torch.Tensor] = {}  # (steps, reach, signed attributes) -> masked reconstruction
        self.region_computations = 0  # how many edit scores were computed (the cache's work; tests read it)

    def trajectory(self, steps: int) -> local_edits.Trajectory:
        """The photo's DDIM inversion trajectory with ``steps`` steps, computed once and cached."""
        steps = check_steps(steps)
        with self._noise_lock:
            if steps not in self._trajectories:
                self._trajectories[steps] = self.engine.invert_trajectory(self.x0, self.z, steps)
            return self._trajectories[steps]

    def noise(self, steps: int) -> torch.Tensor:
        """x_T by DDIM inversion with ``steps`` steps, computed once and cached."""
        return self.trajectory(steps).x_T

    def edit_code(self, edits: Optional[Mapping[str, float]] = None) -> torch.Tensor:
        """z_edit for a dict of strengths (ChatFace Eq. 12); unknown names raise UnknownAttributeError."""
        return self._code(self.engine.registry.validate(edits or {}))

    def _code(self, clean: Mapping[str, float]) -> torch.Tensor:
        """z_edit for strengths the registry already validated (canonical names); texture-only attributes leave z."""
        clean = self.engine.z_strengths(clean)
        if not clean:
            return self.z
        return self.engine.registry.compose_validated(self.z, clean)

    # --- local edits -------------------------------------------------------------------------

    def _attribute_scores(self, keys: Sequence[tuple], steps: int) -> list[torch.Tensor]:
        """Edit scores of (attribute, sign) pairs at full strength, computed once per face and step count."""
        trajectory = self.trajectory(steps)
        with self._noise_lock:
            missing = [k for k in dict.fromkeys(keys) if (k[0], k[1], steps) not in self._scores]
        if missing:
            z_edit = torch.cat([self.engine.registry.compose_validated(self.z, {name: sign * 1.0})
                                for name, sign in missing])
            scores = self.engine.edit_score(trajectory, self.z, z_edit)
            with self._noise_lock:
                for k, score in zip(missing, scores):
                    self._scores[(k[0], k[1], steps)] = score[None]
                self.region_computations += len(missing)
        with self._noise_lock:
            return [self._scores[(k[0], k[1], steps)] for k in keys]

    def region(self, edits: Optional[Mapping[str, float]] = None, steps: Optional[int] = None,
               reach: Optional[float] = None) -> torch.Tensor:
        """Where a local edit may change the photo, (1, 1, H, W) in [0, 1]: the union of each attribute's region.

        An attribute's region is its edit score at strength ±1 (the sign of the edit) thresholded at
        LOCAL_THRESHOLD, grown by ``reach`` (a fraction of the side, default LOCAL_REACH) and feathered;
        the score is computed once per face, so moving a slider re-uses it.
        """
        steps = check_steps(self.engine.info.default_steps if steps is None else steps)
        return self._region(self.engine.registry.validate(edits or {}), steps, reach)

    def _region(self, clean: Mapping[str, float], steps: int, reach: Optional[float]) -> torch.Tensor:
        """:meth:`region` for validated strengths and a checked step count."""
        clean = {k: v for k, v in clean.items() if v != 0.0}
        reach = LOCAL_REACH if reach is None else check_reach(reach)
        if not clean:
            return torch.zeros_like(self.x0[:, :1])
        moving = [name for name in clean if self.engine.moves_z(name)]
        scores = dict(zip(moving, self._attribute_scores([(n, 1.0 if clean[n] > 0 else -1.0) for n in moving], steps)))
        regions = []
        for name in clean:
            prior = self._prior(name)
            if name not in scores:  # drawn by its texture painter alone: where the painter may act
                score = torch.zeros_like(self.x0[:, :1]) if prior is None else prior
            else:
                score = scores[name] if prior is None else local_edits.restrict(scores[name], prior)
            regions.append(local_edits.soft_region(score, reach, LOCAL_THRESHOLD))
        return local_edits.union(regions)

    def parts(self) -> Optional[tuple[tuple[str, ...], torch.Tensor]]:
        """(part names, per-pixel probabilities (1, P, H, W)) of this face, or None when nothing can tell.

        A photo aligned with dlib gets maps drawn from its 68 landmarks; a photo of the built-in world
        gets the model's face parser (``parser.safetensors`` beside the weights). Computed once.
        """
        with self._noise_lock:
            if self._parts is _UNSET:
                self._parts = self._find_parts()
            return self._parts

    def _find_parts(self):
        """:meth:`parts`, uncached."""
        size = self.x0.shape[-1]
        if self.aligned is not None:
            from .landmark_parts import PARTS_NAMES, landmark_parts

            points = self.aligned.to_crop(self.aligned.landmarks, size)
            maps = torch.from_numpy(landmark_parts(points, size)).to(self.x0.device)[None]
            return tuple(PARTS_NAMES), maps
        parser = self.engine.parser
        if parser is None:
            return None
        return tuple(parser.config.parts), parser.probabilities(self.x0).to(self.x0.device)

    def _prior(self, name: str) -> Optional[torch.Tensor]:
        """Where attribute ``name`` may act on this face (diffusion.local.part_prior), None without parts or a prior; computed once."""
        if name not in self._priors:
            self._priors[name] = self._find_prior(name)
        return self._priors[name]

    def _find_prior(self, name: str) -> Optional[torch.Tensor]:
        """:meth:`_prior`, uncached."""
        rule = self.engine.registry.get(name).card.get("region") or REGION_PRIORS.get(name)
        found = self.parts() if rule else None
        if found is None:
            return None
        names, maps = found
        wanted, grow = (rule["parts"], rule.get("grow", 0.0)) if isinstance(rule, Mapping) else rule
        indices = [names.index(p) for p in wanted if p in names]
        return local_edits.part_prior(maps, indices, grow) if indices else None

    def local_mask(self, edits: Optional[Mapping[str, float]] = None, steps: Optional[int] = None, local="auto",
                   reach: Optional[float] = None) -> Optional[torch.Tensor]:
        """The mask a render with these settings keeps the photo outside of, (1, 1, H, W); None when not local."""
        steps = check_steps(self.engine.info.default_steps if steps is None else steps)
        clean = self.engine.registry.validate(edits or {})
        if not self._needs_region(local, clean):
            return None
        mask = self._region(clean, steps, reach)
        return mask if self._is_local(local, mask, clean) else None

    def _needs_region(self, local, clean: Mapping[str, float]) -> bool:
        """False when the render is global whatever the region: local off, or "auto" with an edited
        attribute whose card says local edits lose it (``"local": false``: the region cut the edit off)."""
        if local is False:
            return False
        if local == "auto":
            return not any(self.engine.registry.get(n).card.get("local") is False for n, v in clean.items() if v)
        return True

    def _is_local(self, local, region: torch.Tensor, clean: Mapping[str, float]) -> bool:
        """``local`` as a bool for a computed region: "auto" edits locally unless it covers more than AUTO_MAX_AREA
        and the edit moves z (a texture-only edit is always local: the photo, painted, beats the reconstruction)."""
        if local == "auto":
            return float(region.mean()) <= AUTO_MAX_AREA or not self.engine.z_strengths(clean)
        if isinstance(local, bool):
            return local
        raise ValueError(f"local must be True, False or 'auto', got {local!r}")

    # --- rendering ---------------------------------------------------------------------------

    def render_tensor(self, edits: Optional[Mapping[str, float]] = None, steps: Optional[int] = None, sms: bool = True,
                      callback: Optional[Callable[[dict], Optional[bool]]] = None, local="auto",
                      reach: Optional[float] = None) -> torch.Tensor:
        """The edited face as a (1, 3, H, W) tensor in [-1, 1]; the callback can stop early.

        ``local`` (True, False or "auto"): keep the photo's own pixels outside the edit's region
        (see :meth:`region`; ``reach`` widens it). A local render of no edit is the photo itself.
        """
        return self._render_batch([edits or {}], steps, sms, callback, local, reach)

    def render(self, edits: Optional[Mapping[str, float]] = None, steps: Optional[int] = None, sms: bool = True,
               callback: Optional[Callable[[dict], Optional[bool]]] = None, paste: bool = False, local="auto",
               reach: Optional[float] = None) -> Image.Image:
        """The edited face as a PIL image (``paste=True``: pasted back into the whole photo when aligned).

        With a local edit, only the region is pasted back: outside it the whole photo keeps its own pixels.
        """
        image = to_pil(self._render_batch([edits or {}], steps, sms, callback, local, reach))[0]
        if paste and self.aligned is not None:
            mask = self.local_mask(edits, steps, local, reach)
            return self.aligned.paste(image, mask=None if mask is None else mask[0, 0].cpu().numpy())
        return image

    def render_many(self, edits_list: Sequence[Mapping[str, float]], steps: Optional[int] = None, sms: bool = True,
                    local="auto", reach: Optional[float] = None) -> list[Image.Image]:
        """Several edits of this face decoded as one batch (e.g. a strength strip), each with its own region."""
        if not edits_list:
            return []
        return to_pil(self._render_batch(list(edits_list), steps, sms, None, local, reach))

    def _render_batch(self, edits_list: list, steps, sms: bool, callback, local, reach) -> torch.Tensor:
        """Decode a batch of edits; local ones keep the photo outside their (united) regions and, inside,
        are the photo plus what the edit changes (diffusion.local.transfer)."""
        steps = check_steps(self.engine.info.default_steps if steps is None else steps)
        trajectory = self.trajectory(steps)
        cleans = [self.engine.registry.validate(e or {}) for e in edits_list]  # once per edit
        codes_list = [self._code(c) for c in cleans]
        z_edit = torch.cat(codes_list)
        n = z_edit.shape[0]
        regions = self._batch_regions(cleans, steps, local, reach)
        if regions is None:
            x_T, z = trajectory.x_T.expand(n, -1, -1, -1), self.z.expand(n, -1)
            codes = self.z if n == 1 and codes_list[0] is self.z else _codes(z, z_edit, sms)
            stopped = []
            x = self.engine.decode(x_T, codes, steps, callback=_noting_stop(callback, n, stopped))
            return x if stopped else self._paint(x, cleans, [False] * n)
        # A local row whose z does not move (a texture-only edit) decodes nothing: the photo, then painted.
        decoded = [r is not None and codes is not self.z for r, codes in zip(regions, codes_list)]
        masks = [torch.ones_like(self.x0[:, :1]) if r is None else r[1] if d else torch.zeros_like(r[1])
                 for r, d in zip(regions, decoded)]
        local_rows = [r is not None for r in regions]
        if not any(bool((m > 0).any()) for m in masks):  # nothing to decode anywhere: the photo itself
            return self._paint(self.x0.expand(n, -1, -1, -1).clone(), cleans, local_rows)
        keys = [r[0] if d else None for r, d in zip(regions, decoded)]
        with self._noise_lock:
            missing = {k: m for k, m in zip(keys, masks) if k is not None and k not in self._recons}
        # Each missing reconstruction (z, same mask) rides in the same batch as the edits, after them.
        z_all = torch.cat([z_edit] + [self.z] * len(missing))
        mask_all = torch.cat(masks + list(missing.values()))
        total = z_all.shape[0]
        x_T, z = trajectory.x_T.expand(total, -1, -1, -1), self.z.expand(total, -1)
        stopped = []
        x = self.engine.decode(x_T, _codes(z, z_all, sms), steps, callback=_noting_stop(callback, n, stopped),
                               keep=local_edits.KeepOutside(trajectory, mask_all))
        if stopped:  # an early stop: the latest prediction, never cached
            return x[:n]
        with self._noise_lock:
            for j, key in enumerate(missing):
                self._recons[key] = x[n + j:n + j + 1]
            while len(self._recons) > RECON_CACHE_SIZE:
                self._recons.pop(next(iter(self._recons)))
            recons = [None if k is None else self._recons[k] for k in keys]
        out = x[:n].clone()
        for i, recon in enumerate(recons):
            if recon is not None:
                out[i:i + 1] = local_edits.transfer(self.x0, out[i:i + 1], recon)
        return self._paint(out, cleans, local_rows)

    def _paint(self, images: torch.Tensor, cleans: list, local_rows: list) -> torch.Tensor:
        """Each edited attribute's texture (Engine.paint); a local row gets it only inside the attribute's part prior."""
        def inside(name: str) -> Optional[torch.Tensor]:
            prior = self._prior(name) if any(local_rows) else None
            if prior is None:
                return None
            rows = torch.tensor(local_rows, device=images.device).reshape(-1, 1, 1, 1)
            return torch.where(rows, prior.to(images), torch.ones_like(prior).to(images))

        return self.engine.paint(images, cleans, inside)

    def _batch_regions(self, cleans: list, steps: int, local, reach) -> Optional[list]:
        """Per edit: None (decoded globally) or (cache key, mask); None for the whole batch when nothing is local."""
        wanted = [self._needs_region(local, c) for c in cleans]
        if not any(wanted):
            return None
        reach = LOCAL_REACH if reach is None else check_reach(reach)
        regions = []
        for clean, w in zip(cleans, wanted):
            mask = self._region(clean, steps, reach) if w else None
            if mask is None or not self._is_local(local, mask, clean):
                regions.append(None)
                continue
            signed = tuple(sorted((name, 1.0 if v > 0 else -1.0) for name, v in clean.items() if v != 0.0))
            regions.append(((steps, reach, signed), mask))
        return regions if any(r is not None for r in regions) else None

    def reconstruct(self, steps: Optional[int] = None) -> Image.Image:
        """Invert and decode with no edit (never local: the model's own reconstruction)."""
        return self.render({}, steps=steps, local=False)


def _noting_stop(callback, n: int, stopped: list):
    """The decoder's step callback: ``callback`` shown the first n rows; a False answer is noted in ``stopped``."""
    if callback is None:
        return None

    def step_callback(info: dict):
        answer = callback({**info, "x": info["x"][:n], "denoised": info["denoised"][:n]})
        if answer is False:
            stopped.append(True)
        return answer

    return step_callback


def _codes(z: torch.Tensor, z_edit: torch.Tensor, sms: bool):
    """The conditioning of an edit: SMS from z_edit to z (ChatFace Eq. 13), or z_edit at every step."""
    return conditioning.sms(z, z_edit) if sms else conditioning.constant(z_edit)
