"""Edit evaluation on held-out toy faces (seeds ≥ HELDOUT_SEED_START + seed), read by the attribute oracle.

Per attribute at s = 1: hit rate, identity similarity, CLIP directional similarity, spatial
consistency and preservation (definitions in :mod:`chatface_widgets.photos.metrics`), plus an SMS
ablation, multi-attribute edits and a strength sweep. :func:`reconstruction_report` and
:func:`class_mean_direction` give the built-in model's acceptance numbers.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional, Sequence

import numpy as np
import torch

from chatface_widgets.foundation.steps import check_steps
from chatface_widgets.engine.engine import Engine, Face
from chatface_widgets.photos.photo import to_tensor
from chatface_widgets.toy.attributes import PAINTED_PARTS, PHRASES, TEXTURE_PARTS
from chatface_widgets.toy import ATTRIBUTES, HELDOUT_SEED_START, PARTS, FaceParams, ToyFace, attribute_labels, render_face, sample_params
from chatface_widgets.toy.oracle import Oracle, identity_features, load_oracle
from chatface_widgets.photos import metrics as M

STRENGTHS = (0.25, 0.5, 0.75, 1.0)  # strength sweep
MULTI_EDITS = (("smile", "eyeglasses"), ("gray hair", "beard", "blue eyes"))
METRICS = ("hit_rate", "id", "s_dir", "sc", "preservation")
# Parts an attribute repaints, texture parts, caption phrases: the built-in world's one table (toy.attributes).
ATTRIBUTE_PARTS, TEXTURE_PARTS = PAINTED_PARTS, TEXTURE_PARTS
DEFINITIONS = {
    "hit": f"faces whose reconstruction reads the attribute absent (oracle < {M.THRESHOLD}) and whose render with "
           f"the attribute = 1 reads it present (attainable without changing the identity) are eligible; a hit "
           f"reads >= {M.THRESHOLD} after the edit and rose by >= {M.HIT_MARGIN}",
    "sc": f"edited region = pixels whose part id (renderer masks of the face and of the face with the attribute = 1) "
          f"is one of the attribute's parts, or where those two renders differ by >= {M.SC_TOLERANCE}, dilated by "
          f"1 px; sc = fraction of the other pixels whose max-channel |edit - recon| < {M.SC_TOLERANCE} ([0, 1] units)",
    "preservation": f"PSNR (peak 1) between recon and edit outside the edited region, capped at {M.PSNR_CAP} dB",
    "texture_hit": f"for texture attributes ({', '.join(TEXTURE_PARTS)}): hits whose luma high-pass energy inside the "
                   f"part (1 px in from its edge) rose over the photo's by >= {M.TEXTURE_SHARE} of the rise the renderer "
                   f"draws for that face, over the eligible faces",
    "id_judge": "cosine of the identity judge's unit embeddings of recon and edit",
    "id_oracle": "1 - mean |difference| of the oracle's identity readings (scaled to [0, 1], hues circular)",
    "s_dir": "cos(E_I(edit) - E_I(recon), E_T('a face with <attr>') - E_T('a face')), embeddings unit-normalised",
}


@dataclass
class OpenedFace:
    """A held-out face: its parameters, ground-truth render (image + part mask) and the opened engine Face."""

    params: FaceParams
    truth: ToyFace
    face: Face
    _drawn: dict = field(default_factory=dict, repr=False)

    def drawn_with(self, attribute: str) -> ToyFace:
        """The renderer's own image of this identity with ``attribute`` = 1 (cached: sc and eligibility share it)."""
        if attribute not in self._drawn:
            self._drawn[attribute] = render_face(self.params.with_attributes({attribute: 1.0}), self.truth.mask.shape[0])
        return self._drawn[attribute]


def default_oracle_folder(engine: Optional[Engine] = None) -> Path:
    """The model's folder when it holds an oracle, else the built-in model's folder (the catalogue's)."""
    from chatface_widgets.engine.catalogue import builtin_folder

    folder = getattr(getattr(engine, "spec", None), "folder", None)
    if folder is not None and (folder / "oracle.safetensors").is_file():
        return folder
    return builtin_folder()


def open_faces(engine: Engine, faces: int, seed: int = 0) -> list[OpenedFace]:
    """Render held-out faces HELDOUT_SEED_START + seed + i at the model's size and encode them."""
    out = []
    for i in range(faces):
        p = sample_params(HELDOUT_SEED_START + seed + i)
        truth = render_face(p, engine.image_size)
        out.append(OpenedFace(p, truth, engine.open(truth.image, align=False)))
    return out


def _as_array(image) -> np.ndarray:
    """PIL image → float (H, W, 3) in [0, 1]."""
    return np.asarray(image.convert("RGB"), np.float64) / 255.0


def _judge_device(judge) -> torch.device:
    """Where a judge wants its inputs."""
    if getattr(judge, "device", None) is not None:
        return torch.device(judge.device)
    params = getattr(judge, "parameters", None)
    if callable(params):
        for p in params():
            return p.device
    return torch.device("cpu")


def _judge_name(judge) -> Optional[str]:
    """A judge's display name (None when absent)."""
    return None if judge is None else str(getattr(judge, "name", "") or type(judge).__name__)


@torch.no_grad()
def _embed(fn, judge, images) -> np.ndarray:
    """Run a judge's image embedding on PIL images; (N, D) float64."""
    x = torch.cat([to_tensor(im) for im in images]).to(_judge_device(judge))
    return fn(x).detach().float().cpu().numpy().astype(np.float64)


def attribute_pairs(engine: Engine, attributes: Optional[Sequence[str]] = None) -> list[tuple[str, str]]:
    """(engine name, oracle name) for attributes both the model edits and the oracle reads."""
    wanted = [engine.registry.resolve(a) for a in attributes] if attributes else engine.attributes
    if not wanted:
        raise ValueError(f"model {engine.info.name!r} has no editable attributes (no mappers or directions found)")
    pairs = []
    for name in wanted:
        key = name.replace("_", " ").lower()
        if key in ATTRIBUTES:
            pairs.append((name, key))
    if not pairs:
        raise ValueError(f"none of {wanted} is an attribute the oracle reads ({', '.join(ATTRIBUTES)})")
    return pairs


def attainable(oracle: Oracle, opened: Sequence[OpenedFace], keys: Sequence[str]) -> dict[str, np.ndarray]:
    """{attribute: bool per face}: the renderer drawing the attribute (= 1) on that identity reads present."""
    out = {}
    for key in keys:
        drawn = [op.drawn_with(key).image for op in opened]
        out[key] = np.asarray(oracle.predict(drawn)[key]) >= M.THRESHOLD if drawn else np.zeros(0, bool)
    return out


def _edited_outside(op: OpenedFace, attribute: str) -> np.ndarray:
    """Boolean (H, W) map of the pixels outside the attribute's edited region (see DEFINITIONS['sc'])."""
    after = op.drawn_with(attribute)
    changed = np.abs(_as_array(after.image) - _as_array(op.truth.image)).max(-1) >= M.SC_TOLERANCE
    ids = [PARTS.index(part) for part in ATTRIBUTE_PARTS.get(attribute, ())]
    return ~M.edited_region(op.truth.mask, after.mask, ids, changed)


def texture_shown(op: OpenedFace, attribute: str, image) -> float:
    """Whether an edit shows the attribute's texture (curls) inside the part, as the renderer draws it (nan: not a texture)."""
    part = TEXTURE_PARTS.get(attribute)
    if part is None:
        return math.nan
    inside = ~M.dilate(op.truth.mask != PARTS.index(part), 1)  # the part, one pixel in from its edge
    target = op.drawn_with(attribute).image
    return M.texture_shown(M.texture(_as_array(image), inside), M.texture(_as_array(op.truth.image), inside),
                           M.texture(_as_array(target), inside))


def texture_hit_rate(before: np.ndarray, after: np.ndarray, shown: np.ndarray, attainable: np.ndarray) -> float:
    """Hits (metrics.hit on eligible faces) that also show the texture, over the eligible faces; nan for no texture."""
    shown = np.asarray(shown, np.float64)
    ok = M.eligible(before, attainable=attainable)
    if not ok.any() or np.isnan(shown[ok]).all():
        return math.nan
    return float((M.hit(before[ok], after[ok]) & (np.nan_to_num(shown[ok]) > 0)).mean())


class _Collector:
    """Per-face readings and metrics, keyed by tuples, averaged at the end."""

    def __init__(self):
        self.values: dict[tuple, list] = {}

    def add(self, key: tuple, value) -> None:
        self.values.setdefault(key, []).append(float(value))

    def array(self, key: tuple) -> np.ndarray:
        return np.asarray(self.values.get(key, []), np.float64)

    def mean(self, key: tuple) -> float:
        return M.nanmean(self.values.get(key, []))


def _edit_list(names: list[str], combos: list[tuple[str, ...]]) -> list[dict]:
    """Edits decoded with SMS per face: reconstruction, s = 1 per attribute, the sweep, the combinations."""
    edits = [{}] + [{a: 1.0} for a in names]
    edits += [{a: s} for s in STRENGTHS[:-1] for a in names]
    edits += [dict.fromkeys(c, 1.0) for c in combos]
    return edits


def _face_metrics(col: _Collector, variant: str, op: OpenedFace, pairs, recon, edits, read, recon_read,
                  ident_fn, clip_fn, texts) -> None:
    """id, s_dir, sc and preservation (and the readings) of one face's s = 1 edits under one variant."""
    rec = _as_array(recon)
    ids = ident_fn([recon] + edits)
    dirs = clip_fn([recon] + edits) if clip_fn else None
    for k, (name, key) in enumerate(pairs):
        img = _as_array(edits[k])
        outside = _edited_outside(op, key)
        col.add((variant, name, "before"), recon_read[key])
        col.add((variant, name, "after"), read[key][k])
        col.add((variant, name, "id"), ids[k])
        col.add((variant, name, "sc"), M.spatial_consistency(rec, img, outside))
        col.add((variant, name, "preservation"), M.capped(M.masked_psnr(rec, img, outside)))
        col.add((variant, name, "texture"), texture_shown(op, key, edits[k]))
        if dirs is not None:
            col.add((variant, name, "s_dir"), M.directional_similarity(dirs[k + 1], dirs[0], texts[name], texts[""]))


def _identity_fn(oracle: Oracle, ident):
    """images → identity similarity of images[1:] to images[0] (judge cosine or oracle readings)."""
    if ident is not None:
        def fn(images):
            e = _embed(ident.embed, ident, images)
            return M.cosine(e[1:], np.broadcast_to(e[0], e[1:].shape))
        return fn

    def fn(images):
        feats, circular = identity_features(oracle.predict(images))
        return M.identity_similarity(feats[1:], np.broadcast_to(feats[0], feats[1:].shape), circular)
    return fn


def _phrase(key: str) -> str:
    """'a face with <phrase>' wording of an attribute."""
    return PHRASES.get(key, key)


def _summaries(col: _Collector, variant: str, pairs, reach: dict[str, np.ndarray]) -> dict:
    """Per-attribute metric dict for one variant (``reach``: :func:`attainable` per attribute key)."""
    out = {}
    for name, key in pairs:
        before = col.array((variant, name, "before"))
        rate, n = M.hit_rate(before, col.array((variant, name, "after")), attainable=reach[key])
        texture = texture_hit_rate(before, col.array((variant, name, "after")), col.array((variant, name, "texture")),
                                   reach[key])
        out[name] = {"hit_rate": rate, "texture_hit_rate": texture, "id": col.mean((variant, name, "id")), "s_dir": col.mean((variant, name, "s_dir")),
                     "sc": col.mean((variant, name, "sc")), "preservation": col.mean((variant, name, "preservation")),
                     "eligible_faces": n, "unattainable_faces": int((M.eligible(before) & ~reach[key]).sum()),
                     "mean_reading_before": col.mean((variant, name, "before")),
                     "mean_reading_after": col.mean((variant, name, "after"))}
    return out


def _average(per_attribute: dict) -> dict:
    """Each metric averaged over attributes (nan-aware)."""
    return {m: M.nanmean(v[m] for v in per_attribute.values()) for m in METRICS}


def _sweep(col: _Collector, pairs, reach: dict[str, np.ndarray]) -> dict:
    """Mean oracle reading per strength on the eligible faces (all faces when none is)."""
    out = {}
    for name, key in pairs:
        before = col.array(("sms", name, "before"))
        ok = M.eligible(before, attainable=reach[key])
        ok = ok if ok.any() else np.ones(len(before), bool)
        means = [float(before[ok].mean()) if ok.any() else math.nan]
        means += [float(col.array(("sweep", name, s))[ok].mean()) if ok.any() else math.nan for s in STRENGTHS]
        out[name] = {"strengths": [0.0, *STRENGTHS], "mean_reading": means, "monotone": M.monotone(means),
                     "faces": int(ok.sum())}
    return out


def _multi(col: _Collector, combos, alone: dict, reach: dict[str, np.ndarray]) -> dict:
    """Hit rate of each attribute inside a combined edit vs the same attribute alone (``reach`` by name)."""
    out = {}
    for combo in combos:
        label = "+".join(combo)
        per, all_hit = {}, None
        for name in combo:
            before, after = col.array(("sms", name, "before")), col.array(("multi", label, name))
            rate, n = M.hit_rate(before, after, attainable=reach[name])
            per[name] = {"combined": rate, "alone": alone[name]["hit_rate"], "eligible_faces": n}
            h, e = M.hit(before, after), M.eligible(before, attainable=reach[name])
            all_hit = (h, e) if all_hit is None else (all_hit[0] & h, all_hit[1] & e)
        n_all = int(all_hit[1].sum())
        out[label] = {"attributes": per, "all_hit_rate": float(all_hit[0][all_hit[1]].mean()) if n_all else math.nan,
                      "all_eligible_faces": n_all}
    return out


def jsonable(obj):
    """Nested dict/list with numpy scalars → plain Python; nan and ±inf → None."""
    if isinstance(obj, dict):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [jsonable(v) for v in obj]
    if isinstance(obj, (bool, np.bool_)):
        return bool(obj)
    if isinstance(obj, (int, np.integer)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        return float(obj) if math.isfinite(obj) else None
    return obj


def _progress(items, enabled: bool, desc: str):
    """tqdm when enabled and installed, else the plain iterable."""
    if not enabled:
        return items
    try:
        from tqdm.auto import tqdm
    except ImportError:  # pragma: no cover
        return items
    return tqdm(items, desc=desc)


def evaluate(engine: Engine, faces: int = 20, seed: int = 0, steps: Optional[int] = None, judges=None,
             oracle: Optional[Oracle] = None, attributes: Optional[Sequence[str]] = None, progress: bool = True,
             images: Optional[list] = None, recon: bool = True, class_mean: bool = True,
             class_mean_per_class: int = 200, local: str = "off") -> dict:
    """Evaluate edits on held-out faces; ``judges`` = (ClipJudge, IdentityJudge) or None; JSON-ready dict.

    ``images``, when a list, receives one dict per face (column name → PIL image) for the sheet.
    """
    started = time.time()
    oracle = oracle if oracle is not None else load_oracle(default_oracle_folder(engine))
    steps = engine.contract.steps.or_default(steps)
    pairs = attribute_pairs(engine, attributes)
    names = [n for n, _ in pairs]
    keys = dict(pairs)
    combos = [c for c in MULTI_EDITS if all(a in keys.values() for a in c)]
    combos = [tuple(n for a in c for n, k in pairs if k == a) for c in combos]
    clip, ident = judges if judges is not None else (None, None)
    texts = {}
    if clip is not None:
        emb = clip.encode_text(["a face"] + [f"a face with {_phrase(k)}" for k in keys.values()])
        emb = emb.detach().float().cpu().numpy()
        texts = {"": emb[0], **{n: emb[j + 1] for j, n in enumerate(names)}}
    ident_fn = _identity_fn(oracle, ident)
    clip_fn = (lambda ims: _embed(clip.encode_image, clip, ims)) if clip is not None else None
    col, opened = _Collector(), open_faces(engine, faces, seed)
    edit_list = _edit_list(names, combos)
    for op in _progress(opened, progress, "eval faces"):
        sms_images = op.face.render_many(edit_list, steps, sms=True, local=local)  # row 0: the reconstruction
        plain_images = op.face.render_many(edit_list[1:1 + len(names)], steps, sms=False, local=local)
        read = oracle.predict(sms_images + plain_images)
        recon_read = {k: read[k][0] for k in keys.values()}
        at = lambda j: {k: read[k][j] for k in keys.values()}  # noqa: E731
        n = len(names)
        s1 = {k: read[k][1:1 + n] for k in keys.values()}
        plain = {k: read[k][len(edit_list):] for k in keys.values()}
        _face_metrics(col, "sms", op, pairs, sms_images[0], sms_images[1:1 + n], s1, recon_read, ident_fn, clip_fn, texts)
        _face_metrics(col, "plain", op, pairs, sms_images[0], plain_images, plain, recon_read, ident_fn, clip_fn, texts)
        for j, s in enumerate(STRENGTHS[:-1]):
            for k, (name, key) in enumerate(pairs):
                col.add(("sweep", name, s), at(1 + n * (j + 1) + k)[key])
        for k, (name, key) in enumerate(pairs):
            col.add(("sweep", name, 1.0), s1[key][k])
        for c, combo in enumerate(combos):
            j = 1 + n * len(STRENGTHS) + c
            for name in combo:
                col.add(("multi", "+".join(combo), name), at(j)[keys[name]])
        if images is not None:
            row = {"original": op.truth.image, "reconstruction": sms_images[0]}
            for k, (name, key) in enumerate(pairs):  # each edit, then the renderer's true picture of it
                row[name], row[f"{name} true"] = sms_images[1 + k], op.drawn_with(key).image
            images.append(row)
    reach = attainable(oracle, opened, list(keys.values()))
    per_attribute = _summaries(col, "sms", pairs, reach)
    plain_per_attribute = _summaries(col, "plain", pairs, reach)
    result = {
        "attributes": per_attribute,
        "sms_ablation": {"with_sms": _average(per_attribute), "without_sms": _average(plain_per_attribute)},
        "without_sms_attributes": plain_per_attribute,
        "multi": _multi(col, combos, per_attribute, {name: reach[key] for name, key in pairs}),
        "sweep": _sweep(col, pairs, reach),
    }
    if recon:
        result["recon"] = reconstruction_report(engine, faces, seed, oracle, opened=opened)
    if class_mean and "eyeglasses" in keys.values():
        result["class_mean_glasses"] = class_mean_direction(engine, oracle, "eyeglasses", class_mean_per_class,
                                                            steps=steps, opened=opened)
    result["meta"] = {
        "model": engine.info.name, "image_size": engine.image_size, "faces": faces, "seed": seed,
        "first_seed": HELDOUT_SEED_START + seed, "steps": steps, "strength": 1.0, "local": local,
        "attributes": names,
        "identity": "judge" if ident is not None else "oracle", "clip": clip is not None,
        "judges": {"clip": _judge_name(clip), "identity": _judge_name(ident)},
        "multi_edits": ["+".join(c) for c in combos], "definitions": DEFINITIONS, "seconds": time.time() - started,
        "device": str(engine.device),
    }
    return jsonable(result)


def _decode(engine: Engine, x_T: torch.Tensor, z: torch.Tensor, steps: int) -> torch.Tensor:
    """Plain DDIM decode (no SMS) under the engine lock."""
    return engine.decode(x_T, z, steps)


def reconstruction_report(engine: Engine, faces: int = 20, seed: int = 0, oracle: Optional[Oracle] = None,
                          steps_list: Sequence[int] = (8, 20), opened: Optional[list[OpenedFace]] = None) -> dict:
    """Mean PSNR of invert + decode at each T (and the default), and random-x_T attribute retention."""
    from chatface_widgets.photos.photo import to_pil

    oracle = oracle if oracle is not None else load_oracle(default_oracle_folder(engine))
    opened = opened if opened is not None else open_faces(engine, faces, seed)
    default = engine.info.default_steps
    grid = sorted({check_steps(t) for t in steps_list} | {default})
    # The model's own decode (never local: a local render of no edit is the photo itself), as DiffAE reports it.
    psnrs = {t: [M.psnr(_as_array(op.face.image), _as_array(op.face.reconstruct(steps=t))) for op in opened] for t in grid}
    gen = torch.Generator().manual_seed(seed)
    shape = (len(opened), 3, engine.image_size, engine.image_size)
    x_rand = torch.randn(shape, generator=gen).to(engine.device)
    z = torch.cat([op.face.z for op in opened])
    decoded = to_pil(_decode(engine, x_rand, z, default))
    before = oracle.predict([op.face.image for op in opened])
    after = oracle.predict(decoded)
    agree = {k: float(np.mean((before[k] >= M.THRESHOLD) == (after[k] >= M.THRESHOLD))) for k in ATTRIBUTES}
    return jsonable({
        "faces": len(opened), "default_steps": default,
        "psnr": {str(t): M.capped(float(np.mean(v))) for t, v in psnrs.items()},
        "psnr_default": M.capped(float(np.mean(psnrs[default]))),
        "random_xT_retention": float(np.mean(list(agree.values()))), "random_xT_retention_per_attribute": agree,
    })


@torch.no_grad()
def class_means(engine: Engine, attribute: str, per_class: int = 200, first_seed: int = 0,
                batch: int = 64) -> tuple[torch.Tensor, torch.Tensor, int]:
    """Mean z of training faces with and without an attribute (ground-truth labels); returns (with, without, seen)."""
    sums, counts, seed = [0.0, 0.0], [0, 0], first_seed
    while min(counts) < per_class and seed - first_seed < 50 * per_class:
        params = [sample_params(s) for s in range(seed, seed + batch)]
        seed += batch
        x = torch.cat([to_tensor(render_face(p, engine.image_size).image) for p in params]).to(engine.device)
        z = engine.encode(x, fast=False)
        labels = torch.tensor([attribute_labels(p)[attribute] for p in params], device=z.device)
        for cls, sel in ((0, labels), (1, ~labels)):
            sums[cls] = sums[cls] + z[sel].sum(0)
            counts[cls] += int(sel.sum())
    if min(counts) == 0:
        raise RuntimeError(f"found no training faces {'with' if counts[0] == 0 else 'without'} {attribute!r}")
    return sums[0] / counts[0], sums[1] / counts[1], seed - first_seed


def class_mean_direction(engine: Engine, oracle: Optional[Oracle] = None, attribute: str = "eyeglasses",
                         per_class: int = 200, faces: int = 20, seed: int = 0, steps: Optional[int] = None,
                         opened: Optional[list[OpenedFace]] = None) -> dict:
    """Add mean z(with) − mean z(without) to held-out faces lacking the attribute; fraction the oracle sees it."""
    from chatface_widgets.photos.photo import to_pil

    oracle = oracle if oracle is not None else load_oracle(default_oracle_folder(engine))
    steps = engine.contract.steps.or_default(steps)
    opened = opened if opened is not None else open_faces(engine, faces, seed)
    with_z, without_z, seen = class_means(engine, attribute, per_class)
    targets = [op for op in opened if not attribute_labels(op.params)[attribute]]
    result = {"attribute": attribute, "per_class": per_class, "training_faces_encoded": seen, "faces": len(targets),
              "steps": steps, "direction_norm": float((with_z - without_z).norm())}
    if not targets:
        return jsonable({**result, "hit_fraction": math.nan, "mean_reading_before": math.nan, "mean_reading_after": math.nan})
    x_T = torch.cat([op.face.noise(steps) for op in targets])
    z = torch.cat([op.face.z for op in targets]) + (with_z - without_z)
    after = oracle.predict(to_pil(_decode(engine, x_T, z, steps)))[attribute]
    before = oracle.predict([op.face.image for op in targets])[attribute]
    return jsonable({**result, "hit_fraction": float(np.mean(after >= M.THRESHOLD)),
                     "mean_reading_before": float(before.mean()), "mean_reading_after": float(after.mean())})
