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
import warnings
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Mapping, Optional, Sequence

import torch
from PIL import Image

from chatface_widgets.foundation.contract import LOCAL_REACH, EditContract, StepPolicy, check_reach
from chatface_widgets.toy.attributes import REGION_PRIORS
from chatface_widgets.diffusion import conditioning, local as local_edits, samplers
from chatface_widgets.diffusion.chroma import repainted, smooth_change, smooth_chroma
from chatface_widgets.foundation.steps import check_steps
from chatface_widgets.diffusion.schedule import Schedule, make_schedule
from chatface_widgets.editing.registry import AttributeRegistry
from chatface_widgets.engine.devices import pick_device
from chatface_widgets.models.diffae import DiffAE
from chatface_widgets.foundation.settings import RenderSettings, settings_of
from chatface_widgets.photos.photo import PhotoLike, center_square, is_model_world, load_photo, to_pil, to_tensor

SAMPLE = "sample"  # engine.open("sample") / "sample:NAME" / "sample:INDEX": a built-in sample photo
LOCAL_THRESHOLD = 0.5  # edit score (0…1, DiffEdit's normalised |Δx̂0|) at which a pixel is in the region
_UNSET = object()
RECON_CACHE_SIZE = 32  # masked reconstructions kept per face (one per set of edited attributes, sign and reach)
TEXTURES_FOLDER = "textures"  # texture painters beside a model's weights (Engine.painter)
AUTO_MAX_AREA = 0.6  # local="auto" edits locally unless the region covers more of the image than this




@dataclass(frozen=True)
class ModelInfo:
    """Where a model came from and how it wants to be used (read off its catalogue entry and config)."""

    name: str
    path: Path
    align: bool  # real-photo models align faces FFHQ-style; the built-in world needs no alignment
    default_steps: int
    image_size: int
    chroma_sigma: float = 0.0  # the card's "chroma_sigma": every decode's chroma blurred by σ px (diffusion.chroma)


class NotModelWorldError(ValueError):
    """A real photo given to a model that edits only images of its own world (the built-in model)."""


class Engine:
    """A loaded diffusion autoencoder plus its attribute registry; open photos with :meth:`open`."""

    def __init__(self, model: DiffAE, registry: AttributeRegistry, info: ModelInfo, device: torch.device, speed="off",
                 threads="auto", spec=None):
        from chatface_widgets.engine.speed import safe_prepare

        self.spec = spec  # the catalogue entry (chatface_widgets.engine.catalogue.ModelSpec); None for hand-built engines

        self.model = model.to(device).eval().requires_grad_(False)
        self.registry = registry
        self.info = info
        self.device = device
        self.speed = safe_prepare(self.model, device, speed)  # raw prediction for the samplers; "off": the model itself
        self._lock = threading.Lock()  # one network call at a time per engine (shared by panels)
        self.threads = _pick_threads(threads, self.model, device)  # intra-op threads for engine calls, None = as set
        self._parser = _UNSET  # the face parser, loaded on first use (see parser)
        self._painters: dict[str, object] = {}  # attribute -> its texture painter or None, loaded on first use
        self._schedules: dict = {}  # steps -> Schedule (diffusion.schedule), made once per step count
        self._contract: Optional[tuple] = None  # (the registry's contract, ours with the step policy), made once

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
        from chatface_widgets.engine.catalogue import find

        spec = find(name_or_path)
        model, card = spec.load_network()
        registry = spec.registry(model.config.z_channels, mappers=mappers)
        info = ModelInfo(name=spec.name, path=spec.weights or Path(f"<{spec.name}>"),
                         align=spec.aligns(card) if align is None else bool(align),
                         default_steps=model.config.default_steps, image_size=model.config.image_size,
                         chroma_sigma=float(card.get("chroma_sigma", 0.0)))
        return cls(model, registry, info, pick_device(device), speed=speed, threads=threads, spec=spec)

    @property
    def parser(self):
        """The model's face parser (models.face_parser.FaceParser) when its folder ships one, else None; loaded once."""
        if self._parser is _UNSET:
            folder = getattr(self.spec, "folder", None)
            parser = None
            if folder is not None:
                from chatface_widgets.models.face_parser import load_parser

                parser = load_parser(folder)
            self._parser = parser.to(self.device) if parser is not None else None
        return self._parser

    def painter(self, name: str):
        """The texture painter of attribute ``name`` (models.texture_painter) when the model ships one, else None; loaded once.

        Painters live in ``textures/`` beside the weights: the built-in model draws every attribute with one.
        A texture-only painter steps aside where the attribute's mapper is the user's own (one trained with
        ``chatface train-mapper``, or a ``mappers=`` folder outside the model's): the user's mapper draws it.
        """
        if name not in self._painters:
            folder = getattr(self.spec, "folder", None)
            painter = None
            if folder is not None:
                from chatface_widgets.models.texture_painter import load_painter

                painter = load_painter(Path(folder) / TEXTURES_FOLDER, name)
                if painter is not None and not painter.config.with_mapper and self._users_mapper(name, folder):
                    painter = None
            self._painters[name] = painter.to(self.device) if painter is not None else None
        return self._painters[name]

    def _users_mapper(self, name: str, folder) -> bool:
        """Whether attribute ``name`` is edited by a trained mapper from outside the model's own folder."""
        attribute = self.registry.get(name)
        path = attribute.card.get("_path") if attribute is not None and attribute.kind == "mlp" else None
        return path is not None and not Path(path).resolve().is_relative_to(Path(folder).resolve())

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
        With the card's ``chroma_sigma`` the chroma of what a painter changes is smoothed too (diffusion.chroma), or
        of the pixels it repainted (diffusion.chroma.repainted) where the painter's card says ``"chroma_of": "result"``.
        """
        for name in dict.fromkeys(k for c in cleans for k, v in c.items() if v):
            painter = self.painter(name)
            if painter is None:
                continue
            strength = torch.tensor([c.get(name, 0.0) for c in cleans], dtype=torch.float32)
            with self.compute():
                painted = painter.paint(images, strength)
            weight = inside(name) if inside is not None else None
            if self.info.chroma_sigma:  # the painter's colour noise too, on its own rows, where it may paint
                rows = (strength != 0).to(images).view(-1, 1, 1, 1)
                mask = rows if weight is None else rows * weight
                painted = (smooth_chroma(painted, self.info.chroma_sigma, mask * repainted(images, painted))
                           if painter.smooth_result else smooth_change(images, painted, self.info.chroma_sigma, mask))
            images = painted if weight is None else images + weight * (painted - images)
        return images

    @property
    def contract(self) -> EditContract:
        """This model's edit contract: attribute names and synonyms, recommended strengths, step policy."""
        base = self.registry.contract()  # cached by the registry, made anew when an attribute is added
        if self._contract is None or self._contract[0] is not base:
            self._contract = (base, self.registry.contract(StepPolicy(default=self.info.default_steps)))
        return self._contract[1]

    @property
    def attributes(self) -> list[str]:
        """The attribute names this model can edit."""
        return self.registry.names

    @property
    def image_size(self) -> int:
        return self.info.image_size

    def open(self, photo: PhotoLike, align: Optional[bool] = None, face_index: Optional[int] = None,
             force_builtin: bool = False) -> "Face":
        """Read a photo, align or crop it to the model's size, and encode z (x_T is inverted on demand).

        ``photo`` is a path, a PIL image, an array, or "sample" / "sample:NAME" / "sample:INDEX" for one
        of the model's built-in sample photos. A model that does not align faces (the built-in one)
        takes images of its own world (its size or a whole multiple); another photo is refused
        (NotModelWorldError) unless ``force_builtin=True``, which edits its centre square with a warning.
        """
        return self.encode_faces([self.read_face(photo, align, face_index, force_builtin)])[0]

    def read_face(self, photo: PhotoLike, align: Optional[bool] = None, face_index: Optional[int] = None,
                  force_builtin: bool = False, strict: bool = False) -> "Face":
        """:meth:`open` without the network: the photo read, aligned or cropped; z is encoded by :meth:`encode_faces`.

        ``strict``: refuse other photos on every model that does not align (not only the built-in one), as a
        batch does, so an album's stray landscape is skipped rather than cropped.
        """
        original = load_photo(self.sample_path(photo) if is_sample(photo) else photo)
        aligned = None
        size = self.image_size
        if self.info.align if align is None else align:
            from chatface_widgets.photos.align import align_face

            aligned = align_face(original, index=face_index, size=size)
            image = aligned.image
        elif is_model_world(original, size):
            image = original if original.width == size else original.resize((size, size), Image.NEAREST)
        elif not strict and (self.spec is None or self.spec.kind != "builtin"):  # the built-in world is known
            image = center_square(original, size)
        else:
            what = (f"the {self.info.name!r} model does not find or align faces: it edits its own illustrated "
                    f"{size}×{size} faces (or exact multiples), and this photo is {original.width}×{original.height}")
            if not force_builtin:
                raise NotModelWorldError(f"{what}. Get real DiffAE weights (`chatface weights download "
                                         "ffhq256_autoenc`, then model ffhq256), or pass force_builtin=True "
                                         "(--force-builtin) to edit its centre square anyway")
            side = min(original.size)
            warnings.warn(f"{what}; force_builtin: editing its centre {side}×{side} square, shrunk to {size}×{size}",
                          stacklevel=3)
            image = center_square(original, size)
        return Face(self, original, image, to_tensor(image).to(self.device), None, aligned)

    def encode_faces(self, faces: Sequence["Face"]) -> list["Face"]:
        """Encode z for faces read by :meth:`read_face`, as one batch (DiffAE's semantic encoder)."""
        todo = [f for f in faces if f.z is None]
        if todo:
            z = self.encode(torch.cat([f.x0 for f in todo]))
            for i, face in enumerate(todo):
                face.z = z[i:i + 1]
        return list(faces)

    def invert_faces(self, faces: Sequence["Face"], steps: int) -> None:
        """Each face's ``steps``-step inversion trajectory, computed as one batch and cached on the faces."""
        todo = list({id(f): f for f in faces if not f.has_trajectory(steps)}.values())
        if not todo:
            return
        whole = self.invert_trajectory(torch.cat([f.x0 for f in todo]), torch.cat([f.z for f in todo]), steps)
        for i, face in enumerate(todo):
            face.set_trajectory(local_edits.Trajectory(tuple(s[i:i + 1] for s in whole.states)))

    # --- rendering: the settings of a render, checked once, through the one render path ---------

    def settings(self, settings: RenderSettings, bounded: bool = False) -> RenderSettings:
        """``settings`` checked for this model: canonical names (synonyms merged, with a warning) and the step
        count (the model's default for None); ``bounded``: the interactive bound of the panel and the CLI."""
        policy = self.contract.bounded().steps if bounded else self.contract.steps
        return settings.updated(edits=self.registry.validate(settings.edits), steps=policy.or_default(settings.steps))

    def render_tensor(self, faces: Sequence["Face"], settings: RenderSettings, callback=None,
                      edits: Optional[Sequence[Mapping[str, float]]] = None, fixed_shape: bool = False) -> torch.Tensor:
        """Render ``settings`` on every face (row i: faces[i]; ``edits[i]`` overrides the strengths of row i), (N, 3, H, W)."""
        return self._render_checked(faces, self.settings(settings), callback, edits, fixed_shape)

    def _render_checked(self, faces: Sequence["Face"], settings: RenderSettings, callback=None,
                        edits: Optional[Sequence[Mapping[str, float]]] = None, fixed_shape: bool = False) -> torch.Tensor:
        """:meth:`render_tensor` for settings :meth:`settings` already checked (a render checks them once)."""
        from chatface_widgets.engine.render import render_rows

        cleans = ([self.registry.validate(e) for e in edits] if edits is not None
                  else [dict(settings.edits)] * len(faces))
        self.invert_faces(faces, settings.steps)
        return render_rows(faces, cleans, settings, callback=callback, fixed_shape=fixed_shape)

    def render_batch(self, faces: Sequence["Face"], settings: RenderSettings, paste: bool = True) -> list[Image.Image]:
        """One settings on many faces in one network batch (``chatface batch``, ``cf.apply``, the evaluation);
        ``paste``: each put back into its photo (Face.place), as ``chatface edit`` writes it.

        Network shapes depend on the settings and the number of faces only (render_rows' fixed_shape), so a
        face's bytes do not depend on which faces share its batch; pad to a fixed count for byte-stable jobs.
        """
        if not faces:
            return []
        settings = self.settings(settings)
        images = to_pil(self._render_checked(faces, settings, fixed_shape=True))
        return [face._place_checked(image, settings) if paste else image for face, image in zip(faces, images)]

    def sample_path(self, text: str) -> Path:
        """The file of a built-in sample photo named "sample", "sample:NAME" or "sample:INDEX"."""
        from chatface_widgets.engine.catalogue import find

        spec = self.spec or find("tiny")
        return spec.sample(str(text).partition(":")[2] or 0)

    # --- low-level diffusion calls: one network job each, under the engine lock ----------------
    # ``fast=True`` runs the prepared speed path (chatface_widgets.engine.speed, what renders use);
    # ``fast=False`` the plain float32 network (what training pools and parity checks want).

    def schedule(self, steps: int) -> Schedule:
        """The DDIM schedule of this model for ``steps`` (validated; ValueError names the valid counts)."""
        schedule = self._schedules.get(steps)
        if schedule is None:  # checked once per step count; a render's later calls reuse it
            schedule = self._schedules[steps] = make_schedule(check_steps(steps), self.model.config.prediction)
        return schedule

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
        A card with ``"chroma_sigma"`` blurs the result's chroma (diffusion.chroma), inside ``keep``'s
        mask only: outside it a local edit stays the photo, bit for bit.
        """
        schedule = self.schedule(steps)
        with self.compute():
            x = samplers.decode(self._net(fast), x_T, codes, schedule, callback=callback, keep=keep)
            return smooth_chroma(x, self.info.chroma_sigma, None if keep is None else keep.mask)

    def decode_differentiable(self, x_T: torch.Tensor, codes, steps: int, checkpoint: bool = True) -> torch.Tensor:
        """:meth:`decode` with gradients (plain float32 network, checkpointed steps): D(z_edit) for training.

        Only the forward pass holds the engine lock; the backward pass (and its recomputation
        of checkpointed steps) runs when the caller calls ``backward()``.
        """
        schedule = self.schedule(steps)
        with self.compute():
            x = samplers.decode_differentiable(self.model, x_T, codes, schedule, checkpoint=checkpoint)
            return smooth_chroma(x, self.info.chroma_sigma)  # as :meth:`decode`: the trainer compares the two


def _settings(edits, mask=None, **keywords) -> RenderSettings:
    """settings_of, with a mask given as an image, array, tensor or file made a PaintedMask (engine.masks.as_mask)."""
    if mask is not None and not isinstance(edits, RenderSettings):
        from chatface_widgets.engine.masks import as_mask

        mask = as_mask(mask)
    return settings_of(edits, mask=mask, **keywords)


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
        self._recons: dict[tuple, torch.Tensor] = {}  # (steps, reach, signed attributes[, where]) -> masked reconstruction
        self._allowed: dict[tuple, torch.Tensor] = {}  # the user's constraint (RenderSettings.where_key) -> its mask
        self.region_computations = 0  # how many edit scores were computed (the cache's work; tests read it)

    def has_trajectory(self, steps: int) -> bool:
        with self._noise_lock:
            return steps in self._trajectories

    def set_trajectory(self, trajectory: local_edits.Trajectory) -> None:
        """Cache a trajectory computed elsewhere (Engine.invert_faces batches the inversion of many faces)."""
        with self._noise_lock:
            self._trajectories.setdefault(trajectory.steps, trajectory)

    def trajectory(self, steps: int) -> local_edits.Trajectory:
        """The photo's DDIM inversion trajectory with ``steps`` steps, computed once and cached."""
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

    def _base(self, clean: Mapping[str, float]) -> torch.Tensor:
        """Where SMS returns to at the last step: z plus the edits whose mapper card says ``"sms": false``
        for their sign (AttributeRegistry.steady: those condition every step; the rest follow SMS from
        there, Eq. 13). z itself when there are none."""
        steady = {k: v for k, v in self.engine.z_strengths(clean).items() if self.engine.registry.steady(k, v)}
        return self.engine.registry.compose_validated(self.z, steady) if steady else self.z

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
        steps = self.engine.contract.steps.or_default(steps)
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
            from chatface_widgets.photos.landmark_parts import PARTS_NAMES, landmark_parts

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

    def local_mask(self, edits=None, steps: Optional[int] = None, local="auto",
                   reach: Optional[float] = None, keep=(), only=(), mask=None) -> Optional[torch.Tensor]:
        """The mask a render with these settings keeps the photo outside of, (1, 1, H, W); None when not local.

        ``edits`` may be a RenderSettings (then the other arguments are ignored).
        """
        settings = self.engine.settings(_settings(edits, steps=steps, local=local, reach=reach, keep=keep, only=only,
                                                  mask=mask))
        return self._mask_checked(settings)

    def _mask_checked(self, settings: RenderSettings) -> Optional[torch.Tensor]:
        """:meth:`local_mask` for settings the engine already checked (names canonical, steps valid)."""
        row = self._row_region(dict(settings.edits), settings.steps, settings.local, settings.reach, settings)
        return None if row is None else row[1]

    def _row_region(self, clean: Mapping[str, float], steps: int, local: str, reach: float,
                    settings: Optional[RenderSettings] = None) -> Optional[tuple]:
        """(cache key, mask) when a row with these validated strengths renders locally, else None (global).

        ``settings`` with a constraint (parts kept or limited to, a mask): always local, and the mask is
        where the user allows the edit (engine.masks) times the region the edit would have had without
        the constraint: the estimated region when it would have been local, everywhere when it would
        have been global ("off", or "auto" over a large region). The user's word wins, and inside what
        it allows the edit is as strong as without it.
        """
        allowed = self.allowed(settings) if settings is not None else None
        signed = tuple(sorted((name, 1.0 if v > 0 else -1.0) for name, v in clean.items() if v != 0.0))
        if not self._needs_region(local, clean):
            return None if allowed is None else ((steps, signed, settings.where_key, "global"), allowed)
        mask = self._region(clean, steps, reach)
        if not self._is_local(local, mask, clean):
            return None if allowed is None else ((steps, signed, settings.where_key, "global"), allowed)
        if allowed is None:
            return (steps, reach, signed), mask
        return (steps, reach, signed, settings.where_key), mask * allowed

    def allowed(self, settings: Optional[RenderSettings]) -> Optional[torch.Tensor]:
        """Where the user lets an edit act (engine.masks.allowed_region), (1, 1, H, W); None: anywhere; cached per constraint."""
        if settings is None or not settings.constrained:
            return None
        from chatface_widgets.engine.masks import allowed_region

        key = settings.where_key
        with self._noise_lock:
            if key in self._allowed:
                return self._allowed[key]
        found = allowed_region(self, settings)
        with self._noise_lock:
            self._allowed[key] = found
            while len(self._allowed) > RECON_CACHE_SIZE:
                self._allowed.pop(next(iter(self._allowed)))
        return found

    def _needs_region(self, local: str, clean: Mapping[str, float]) -> bool:
        """False when the render is global whatever the region: local "off", no edit, or "auto" with an edited
        attribute whose card says local edits lose it (``"local": false``: the region cut the edit off)."""
        if local == "off":
            return False
        if local == "auto":
            return not any(self.engine.registry.get(n).card.get("local") is False for n, v in clean.items() if v)
        return True

    def _is_local(self, local: str, region: torch.Tensor, clean: Mapping[str, float]) -> bool:
        """``local`` decided for a computed region: "auto" edits locally unless it covers more than AUTO_MAX_AREA
        and the edit moves z (a texture-only edit is always local: the photo, painted, beats the reconstruction)."""
        if local == "auto":
            return float(region.mean()) <= AUTO_MAX_AREA or not self.engine.z_strengths(clean)
        return local == "on"

    # --- masked reconstructions (the local path's cache) ----------------------------------------

    def _has_recon(self, key: tuple) -> bool:
        with self._noise_lock:
            return key in self._recons

    def _recon(self, key: tuple) -> torch.Tensor:
        with self._noise_lock:
            return self._recons[key]

    def _store_recon(self, key: tuple, image: torch.Tensor) -> None:
        """Keep a masked reconstruction (the newest RECON_CACHE_SIZE per face)."""
        with self._noise_lock:
            self._recons[key] = image
            while len(self._recons) > RECON_CACHE_SIZE:
                self._recons.pop(next(iter(self._recons)))

    # --- rendering: every form below builds one RenderSettings and calls engine.render ------------

    def render_tensor(self, edits=None, steps: Optional[int] = None, sms: bool = True,
                      callback: Optional[Callable[[dict], Optional[bool]]] = None, local="auto",
                      reach: Optional[float] = None, keep=(), only=(), mask=None) -> torch.Tensor:
        """The edited face as a (1, 3, H, W) tensor in [-1, 1]; the callback can stop early.

        ``edits``: strengths, or a RenderSettings (then steps, sms, local and reach are its own).
        ``local`` ("auto", "on"/True, "off"/False): keep the photo's own pixels outside the edit's region
        (see :meth:`region`; ``reach`` widens it). A local render of no edit is the photo itself.
        ``keep`` / ``only``: part names to leave alone / to limit the edit to; ``mask``: where it may act
        (an image, array or file; 1 edit, 0 keep). Any of them makes the render local (engine.masks).
        """
        settings = _settings(edits, steps=steps, sms=sms, local=local, reach=reach, keep=keep, only=only, mask=mask)
        return self.engine.render_tensor([self], settings, callback=callback)

    def render(self, edits=None, steps: Optional[int] = None, sms: bool = True,
               callback: Optional[Callable[[dict], Optional[bool]]] = None, paste: bool = False, local="auto",
               reach: Optional[float] = None, keep=(), only=(), mask=None) -> Image.Image:
        """The edited face as a PIL image (``paste=True``: put back into the whole photo, see :meth:`place`).

        ``edits``: strengths, or a RenderSettings. With a local edit only the region is pasted back:
        outside it the whole photo keeps its own pixels. ``keep``, ``only``, ``mask``: see :meth:`render_tensor`.
        """
        settings = self.engine.settings(_settings(edits, steps=steps, sms=sms, local=local, reach=reach, keep=keep,
                                                  only=only, mask=mask))
        image = to_pil(self.engine._render_checked([self], settings, callback=callback))[0]
        return self._place_checked(image, settings) if paste else image

    def place(self, image: Image.Image, settings) -> Image.Image:
        """An edited model-size face put back where it came from: pasted into the photo (aligned faces, only the
        local region when local), scaled back to the photo's size (a built-in-world image at a whole multiple),
        or as it is (a cropped photo)."""
        return self._place_checked(image, self.engine.settings(settings))

    def _place_checked(self, image: Image.Image, settings: RenderSettings) -> Image.Image:
        """:meth:`place` for settings the engine already checked."""
        if self.aligned is not None:
            mask = self._mask_checked(settings)
            return self.aligned.paste(image, mask=None if mask is None else mask[0, 0].cpu().numpy())
        side = self.original.width
        if (side != image.width and self.original.height == side and side % image.width == 0
                and is_model_world(self.original, image.width)):
            return image.resize((side, side), Image.NEAREST)
        return image

    def render_many(self, edits_list: Sequence, steps: Optional[int] = None, sms: bool = True,
                    local="auto", reach: Optional[float] = None) -> list[Image.Image]:
        """Several edits of this face decoded as one batch (e.g. a strength strip), each with its own region.

        ``edits_list``: strengths per row; ``steps`` may be a RenderSettings whose decoding all rows share.
        """
        if not edits_list:
            return []
        base = steps if isinstance(steps, RenderSettings) else settings_of({}, steps=steps, sms=sms, local=local,
                                                                             reach=reach)
        return to_pil(self.engine.render_tensor([self] * len(edits_list), base,
                                                edits=[dict(e or {}) for e in edits_list]))

    def reconstruct(self, steps: Optional[int] = None) -> Image.Image:
        """Invert and decode with no edit (never local: the model's own reconstruction, as DiffAE reports it)."""
        return self.render({}, steps=steps, local="off")
