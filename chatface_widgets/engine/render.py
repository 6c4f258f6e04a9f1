"""The one render path: rows of (face, strengths) that share one RenderSettings' decoding, as one batch.

Every door ends here: ``face.render``, ``face.render_many`` (a strength strip), ``engine.render_batch``
(``chatface batch``, ``cf.apply``) and the evaluation. Per row, ``z_edit = z + Σ s_i·Δz_i(z)``
(ChatFace Eq. 12) is decoded from the face's cached x_T with SMS (Eq. 13) or z_edit at every step; a
local row keeps the photo's own inversion trajectory outside its region (diffusion.local.KeepOutside)
and, inside, is the photo plus what the edit changes (diffusion.local.transfer); texture painters
draw last. Rows of different faces and rows of one face mix freely; a row's result depends on its
own face and strengths only (up to float rounding between batch shapes).
"""

from __future__ import annotations

from typing import Callable, Mapping, Optional, Sequence

import torch

from chatface_widgets.diffusion import conditioning, local as local_edits
from chatface_widgets.foundation.settings import RenderSettings


def render_rows(faces: Sequence, cleans: Sequence[Mapping[str, float]], settings: RenderSettings,
                callback: Optional[Callable[[dict], Optional[bool]]] = None, fixed_shape: bool = False) -> torch.Tensor:
    """Decode row i = (faces[i], cleans[i]) under ``settings``' steps, SMS, local mode and reach; (N, 3, H, W) in [-1, 1].

    ``cleans`` are strengths already validated by the registry (canonical names) and ``settings.steps``
    is a checked count: the caller validated once. The callback sees the first N rows after each step;
    returning False stops early (the latest prediction comes back and nothing is cached).

    ``fixed_shape`` (batch jobs): every network call's shape depends on the settings and the row count
    only, never on which faces share the batch or what is cached, so a row's bytes do not depend on
    its company: with local edits on, each row's masked reconstruction is decoded beside it afresh.
    """
    faces, cleans = list(faces), [dict(c) for c in cleans]
    if len(faces) != len(cleans) or not faces:
        raise ValueError(f"render_rows needs one face per row, got {len(faces)} faces and {len(cleans)} rows")
    engine, steps, sms = faces[0].engine, settings.steps, settings.sms
    n = len(faces)
    codes_list = [face._code(clean) for face, clean in zip(faces, cleans)]
    unedited = [codes is face.z for face, codes in zip(faces, codes_list)]
    regions = [face._row_region(clean, steps, settings.local, settings.reach, settings)
               for face, clean in zip(faces, cleans)]
    local_rows = [r is not None for r in regions]
    stopped: list = []
    if not any(local_rows) and not (fixed_shape and settings.local != "off"):
        x_T = _stack([face.trajectory(steps).x_T for face in faces])
        z = _stack([face._base(clean) for face, clean in zip(faces, cleans)])
        codes = z if all(unedited) and n == 1 else _codes(z, torch.cat(codes_list), sms)
        x = engine.decode(x_T, codes, steps, callback=_noting_stop(callback, n, stopped))
        return x if stopped else _paint(engine, faces, x, cleans, local_rows, settings)
    # A local row whose z does not move (a texture-only edit) decodes nothing: the photo, then painted.
    decoded = [r is not None and not u for r, u in zip(regions, unedited)]
    masks = [torch.ones_like(f.x0[:, :1]) if r is None else r[1] if d else torch.zeros_like(r[1])
             for f, r, d in zip(faces, regions, decoded)]
    if not any(bool((m > 0).any()) for m in masks) and not fixed_shape:  # nothing to decode: the photos themselves
        return _paint(engine, faces, torch.cat([f.x0 for f in faces]).clone(), cleans, local_rows, settings)
    keys = [r[0] if d else None for r, d in zip(regions, decoded)]
    missing: dict = {}  # (face id, key) -> (face, key, mask): masked reconstructions not cached yet
    for i, (face, key, mask) in enumerate(zip(faces, keys, masks)):
        if fixed_shape:  # one reconstruction per row, never from the cache (None: a global row's, unused)
            missing[i] = (face, key, mask)
        elif key is not None and (id(face), key) not in missing and not face._has_recon(key):
            missing[(id(face), key)] = (face, key, mask)
    # Each missing reconstruction (z, same mask) rides in the same batch as the edits, after them.
    row_faces = faces + [face for face, _, _ in missing.values()]
    z_all = torch.cat(codes_list + [face.z for face, _, _ in missing.values()])
    mask_all = torch.cat(masks + [mask for _, _, mask in missing.values()])
    trajectory = _stack_trajectories([face.trajectory(steps) for face in row_faces])
    z = _stack([face._base(clean) for face, clean in zip(faces, cleans)] + [face.z for face, _, _ in missing.values()])
    x = engine.decode(trajectory.x_T.expand(len(row_faces), -1, -1, -1), _codes(z, z_all, sms), steps,
                      callback=_noting_stop(callback, n, stopped), keep=local_edits.KeepOutside(trajectory, mask_all))
    if stopped:  # an early stop: the latest prediction, never cached
        return x[:n]
    recons = {}
    for j, (face, key, _) in enumerate(missing.values()):
        if fixed_shape:
            recons[j] = x[n + j:n + j + 1]
        elif key is not None:
            face._store_recon(key, x[n + j:n + j + 1])
    out = x[:n].clone()
    for i, (face, key) in enumerate(zip(faces, keys)):
        if key is not None:
            recon = recons[i] if fixed_shape else face._recon(key)
            out[i:i + 1] = local_edits.transfer(face.x0, out[i:i + 1], recon)
    return _paint(engine, faces, out, cleans, local_rows, settings)


def _stack(tensors: Sequence[torch.Tensor]) -> torch.Tensor:
    """Rows stacked along the batch axis; one tensor repeated is expanded, not copied."""
    first = tensors[0]
    if all(t is first for t in tensors):
        return first.expand(len(tensors), *first.shape[1:])
    return torch.cat(list(tensors))


def _stack_trajectories(trajectories: Sequence[local_edits.Trajectory]) -> local_edits.Trajectory:
    """One trajectory whose rows are the given ones (the same trajectory for every row stays one row: it broadcasts)."""
    first = trajectories[0]
    if all(t is first for t in trajectories):
        return first
    return local_edits.Trajectory(tuple(torch.cat([t.states[k] for t in trajectories])
                                        for k in range(len(first.states))))


def _paint(engine, faces: Sequence, images: torch.Tensor, cleans: list, local_rows: list,
           settings: RenderSettings) -> torch.Tensor:
    """Each edited attribute's texture (Engine.paint); a local row gets it only inside its face's part prior
    and where the user allows the edit (Face.allowed)."""
    def where(face, name: str) -> Optional[torch.Tensor]:
        prior, allowed = face._prior(name), face.allowed(settings)
        return prior if allowed is None else allowed if prior is None else prior * allowed

    def inside(name: str) -> Optional[torch.Tensor]:
        if not any(local_rows):
            return None
        priors = [where(face, name) if is_local else None for face, is_local in zip(faces, local_rows)]
        if all(p is None for p in priors):
            return None
        ones = torch.ones_like(images[:1, :1])
        return torch.cat([ones if p is None else p.to(images) for p in priors])

    return engine.paint(images, cleans, inside)


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
