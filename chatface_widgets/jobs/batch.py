"""Apply one recipe to many photos: batched rendering, a manifest, resume, and torchrun sharding.

    chatface batch older-glasses.json photos/ "more/*.jpg" --out edited/ [--batch-size 16]
    torchrun --nproc_per_node 8 -m chatface_widgets batch RECIPE photos/ --out edited/
    chatface batch --merge edited/                      # merge the ranks' manifest parts by hand

Each face is aligned (or, for the built-in model, taken as its own image), several faces go through
one network call (encode, DDIM inversion and decoding stacked along the batch axis), and each
result is pasted back and written under ``--out`` with the photo's relative name, as PNG, atomically.

Bytes do not depend on which photos share a batch: every network call has exactly ``batch_size``
rows (a short batch is padded with copies of its last face), and with a fixed shape a row's result
depends on that row alone (checked in tests/test_batch.py). So a resumed run, a run on 2 ranks and
an uninterrupted run write the same bytes, for the same ``--batch-size`` (kept in ``batch.json``).

Files in ``--out``: ``batch.json`` (the recipe and batch size of the run), ``manifest.jsonl`` (one
line per photo: name, input, output, status ok/error/skipped, error, seconds; appended as it goes,
compacted at the end; under torchrun ``manifest.rankR.jsonl`` parts, merged by rank 0).
"""

from __future__ import annotations

import argparse
import glob
import inspect
import json
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Callable, Iterable, Optional, Sequence

from chatface_widgets.foundation.files import OutputError, atomic_path, atomic_write_bytes, check_not_input

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff", ".gif"}  # picked up from folders
DEFAULT_BATCH = 16  # faces per network call: the fastest measured on 2 idle CPU cores (1.69x one at a time; BENCHMARKS.md)
MANIFEST, HEADER = "manifest.jsonl", "batch.json"
OK, ERROR, SKIPPED = "ok", "error", "skipped"


class SkipPhoto(Exception):
    """A photo this model cannot edit (recorded as "skipped" with the reason)."""


# ------------------------------------------------------------------------------------------ inputs


@dataclass(frozen=True)
class Job:
    """One photo to edit: where it is, and its output name relative to ``--out``."""

    source: Path
    name: str  # POSIX relative output path, e.g. "2019/beach/img_001.png" (the manifest's key)
    problem: Optional[str] = None  # set for an argument that names nothing: recorded as an error


def _glob_root(pattern: str) -> Path:
    """The folder part of a glob before its first wildcard ("photos/*/x.jpg" -> "photos")."""
    parts = Path(pattern).parts
    fixed = [p for p in parts[:next((i for i, p in enumerate(parts) if glob.has_magic(p)), len(parts))]]
    return Path(*fixed) if fixed else Path(".")


def _in_folder(path: Path, folder: Optional[Path]) -> bool:
    if folder is None:
        return False
    try:
        path.resolve().relative_to(folder.resolve())
        return True
    except ValueError:
        return False


def collect(arguments: Iterable[str], exclude: Optional[Path] = None) -> list[Job]:
    """Photos from files, folders (recursive, image suffixes, hidden files left out) and globs, sorted by name.

    A file keeps its own name, a photo found in a folder or a glob its path below that folder. The
    output name is the relative name with the suffix ``.png``; where two photos would share one
    ("a.jpg", "a.png"), those not already PNG keep their suffix too ("a.jpg.png"). Anything under
    ``exclude`` (the output folder) is left out, and one file given twice is taken once.
    """
    found: list[tuple[Path, PurePosixPath]] = []
    problems: list[Job] = []
    for arg in arguments:
        path = Path(arg).expanduser()
        if path.is_dir():
            files = [(p, p.relative_to(path)) for p in sorted(path.rglob("*"))
                     if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES
                     and not any(part.startswith(".") for part in p.relative_to(path).parts)]
        elif path.is_file():
            files = [(path, Path(path.name))]
        elif glob.has_magic(arg):
            root = _glob_root(arg)
            files = [(Path(m), Path(m).relative_to(root)) for m in sorted(glob.glob(arg, recursive=True))
                     if Path(m).is_file()]
        else:
            files = []
            problems.append(Job(path, PurePosixPath(path.name or arg).as_posix(), f"no such file or folder: {arg}"))
        found.extend((p, PurePosixPath(rel.as_posix())) for p, rel in files if not _in_folder(p, exclude))
    seen, unique = set(), []
    for p, rel in found:
        key = p.resolve()
        if key not in seen:
            seen.add(key)
            unique.append((p, rel))
    by_stem: dict[PurePosixPath, int] = {}
    for _, rel in unique:
        by_stem[rel.with_suffix(".png")] = by_stem.get(rel.with_suffix(".png"), 0) + 1
    jobs = []
    for p, rel in unique:
        out = rel.with_suffix(".png")
        if by_stem[out] > 1 and rel.suffix.lower() != ".png":
            out = rel.with_name(rel.name + ".png")
        jobs.append(Job(p, out.as_posix()))
    names = {j.name for j in jobs}
    problems = [j for j in problems if j.name not in names]
    return sorted(jobs + problems, key=lambda j: j.name)


def shard(jobs: Sequence[Job], rank: int, world: int) -> list[Job]:
    """Rank ``rank``'s round-robin share of the name-sorted job list (the same on every rank)."""
    return list(jobs[rank::world])


# ------------------------------------------------------------------------------------------ photos


@dataclass
class Prepared:
    """A photo ready for the network: the model-size face tensor and how to put the result back."""

    x0: object  # (1, 3, S, S) tensor in [-1, 1]
    image: object  # the model-size face (PIL)
    place: Callable  # edited model-size face (PIL) -> the image to write (pasted back / scaled back)
    original: object = None  # the photo as read (PIL)


def prepare(engine, source, face_index: Optional[int] = None, force_builtin: bool = False) -> Prepared:
    """Read one photo and align its face (or take a built-in model image as is); PhotoError, NoFaceError, SkipPhoto."""
    from PIL import Image

    from chatface_widgets.photos.photo import center_square, is_model_world, load_photo, to_tensor

    photo = load_photo(source)
    size = engine.image_size
    if engine.info.align:
        from chatface_widgets.photos.align import align_face

        aligned = align_face(photo, index=face_index, size=size)
        return Prepared(to_tensor(aligned.image), aligned.image, aligned.paste, photo)
    if is_model_world(photo, size):
        w = photo.width
        face = photo if w == size else photo.resize((size, size), Image.NEAREST)
        place = (lambda out: out) if w == size else (lambda out: out.resize((w, w), Image.NEAREST))
        return Prepared(to_tensor(face), face, place, photo)
    if not force_builtin:
        raise SkipPhoto(f"not an image of the {engine.info.name!r} model's world ({size}×{size} or an exact "
                        f"multiple; this is {photo.width}×{photo.height}): this model does not find faces. "
                        "Use a model that aligns real photos (--model ffhq256), or --force-builtin")
    face = center_square(photo, size)
    return Prepared(to_tensor(face), face, lambda out: out, photo)


# ----------------------------------------------------------------------------------------- render


class BatchRenderer:
    """Render one recipe for up to ``batch_size`` faces per network call; rows padded to exactly ``batch_size``."""

    def __init__(self, engine, recipe, batch_size: int = DEFAULT_BATCH):
        if int(batch_size) < 1:
            raise ValueError(f"batch size must be at least 1, got {batch_size}")
        self.engine, self.recipe, self.batch_size = engine, recipe, int(batch_size)
        self.clean = engine.registry.validate(recipe.edits)
        if recipe.local is not None and not _render_takes_local():
            raise ValueError("this recipe has local-edit settings, which this version of the engine cannot render; "
                             "update chatface_widgets or remove the recipe's \"local\" field for a global edit")

    def __call__(self, faces: Sequence) -> list:
        """Edited model-size faces (PIL) for a list of (1, 3, S, S) tensors (at most ``batch_size``)."""
        import torch

        from chatface_widgets.diffusion import conditioning
        from chatface_widgets.photos.photo import to_pil

        k = len(faces)
        if not 0 < k <= self.batch_size:
            raise ValueError(f"expected 1 to {self.batch_size} faces, got {k}")
        if self.recipe.local is not None:
            return [self._render_local(x0) for x0 in faces]
        padded = list(faces) + [faces[-1]] * (self.batch_size - k)  # a fixed shape: bytes independent of company
        engine, steps = self.engine, self.recipe.steps
        x0 = torch.cat(padded).to(engine.device)
        z = engine.encode(x0)  # DiffAE semantic code, (N, 512)
        x_T = engine.invert(x0, z, steps)  # deterministic DDIM inversion conditioned on z
        moves = engine.z_strengths(self.clean)
        if moves:
            z_edit = engine.registry.compose_validated(z, moves)  # ChatFace Eq. 12
            codes = conditioning.sms(z, z_edit) if self.recipe.sms else conditioning.constant(z_edit)
        else:
            codes = z
        images = engine.paint(engine.decode(x_T, codes, steps), [self.clean] * len(padded))  # textures (curls)
        return to_pil(images[:k])

    def _render_local(self, x0):
        """A recipe with local edits: one face at a time through Face.render(local=...)."""
        from chatface_widgets.engine.engine import Face
        from chatface_widgets.photos.photo import to_pil

        engine = self.engine
        face = Face(engine, to_pil(x0)[0], to_pil(x0)[0], x0.to(engine.device), engine.encode(x0.to(engine.device)))
        return face.render(self.recipe.edits, steps=self.recipe.steps, sms=self.recipe.sms, local=self.recipe.local)


def _render_takes_local() -> bool:
    from chatface_widgets.engine.engine import Face

    return "local" in inspect.signature(Face.render).parameters


# --------------------------------------------------------------------------------------- manifest


def manifest_part(out_dir: Path, rank: int, world: int) -> Path:
    """Where a rank appends its records: ``manifest.jsonl`` alone, ``manifest.rankR.jsonl`` under torchrun."""
    return out_dir / (MANIFEST if world == 1 else f"manifest.rank{rank}.jsonl")


def read_records(out_dir: Path) -> dict[str, dict]:
    """The newest record per photo name from the manifest and any rank parts (a torn last line is ignored)."""
    latest: dict[str, dict] = {}
    paths = [out_dir / MANIFEST] + sorted(out_dir.glob("manifest.rank*.jsonl"))
    for path in paths:
        if not path.is_file():
            continue
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                record = json.loads(line)
                name = record["name"]
            except (ValueError, KeyError, TypeError):
                continue
            if name not in latest or record.get("finished", 0) >= latest[name].get("finished", 0):
                latest[name] = record
    return latest


def merge(out_dir) -> Path:
    """Merge ``manifest.jsonl`` and the ranks' parts into one ``manifest.jsonl`` (one line per photo, by name)."""
    out_dir = Path(out_dir)
    if not out_dir.is_dir():
        raise FileNotFoundError(f"{out_dir} is not a folder; give the --out folder of a batch")
    parts = sorted(out_dir.glob("manifest.rank*.jsonl"))
    records = read_records(out_dir)
    text = "".join(json.dumps(records[name], ensure_ascii=False) + "\n" for name in sorted(records))
    path = atomic_write_bytes(out_dir / MANIFEST, text.encode("utf-8"))
    for part in parts:
        part.unlink()
    return path


class Manifest:
    """Appends one JSON line per photo, flushed and synced, so a crash loses at most the photo in flight."""

    def __init__(self, path: Path, rank: int = 0):
        self.path, self.rank = Path(path), rank
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.handle = open(self.path, "a", encoding="utf-8")
        self.counts = {OK: 0, ERROR: 0, SKIPPED: 0}

    def write(self, job: Job, status: str, output: Optional[Path], error: Optional[str], seconds: float) -> dict:
        record = {"name": job.name, "input": str(job.source), "output": str(output) if output else None,
                  "status": status, "error": error, "seconds": round(seconds, 4), "rank": self.rank,
                  "finished": time.time()}
        self.handle.write(json.dumps(record, ensure_ascii=False) + "\n")
        self.handle.flush()
        os.fsync(self.handle.fileno())
        self.counts[status] += 1
        return record

    def close(self) -> None:
        self.handle.close()


# ------------------------------------------------------------------------------------------ the run


@dataclass
class Summary:
    """What one rank did: counts by status, photos already done, and where the manifest is."""

    counts: dict = field(default_factory=dict)
    already: int = 0
    total: int = 0
    manifest: Optional[Path] = None

    def line(self) -> str:
        c = self.counts
        return (f"{c.get(OK, 0)} written, {c.get(ERROR, 0)} failed, {c.get(SKIPPED, 0)} skipped, "
                f"{self.already} already done (of {self.total}); manifest: {self.manifest}")


def _header(recipe, batch_size: int) -> dict:
    keep = ("format", "version", "model", "strengths", "steps", "sms", "local")
    return {"recipe": {k: v for k, v in recipe.to_dict().items() if k in keep}, "batch_size": batch_size}


def settle_batch_size(out_dir: Path, recipe, batch_size: Optional[int]) -> int:
    """The batch size for a (re)run into ``out_dir``: the one used before, so bytes stay the same.

    Refuses another recipe in the same folder, and a different explicit ``batch_size`` (float rounding
    makes results differ by about one grey level in a few pixels between batch sizes).
    """
    path = out_dir / HEADER
    if not path.is_file():
        return int(batch_size or DEFAULT_BATCH)
    before = json.loads(path.read_text(encoding="utf-8"))
    want = _header(recipe, 0)["recipe"]
    if before.get("recipe") != want:
        raise OutputError(f"{out_dir} holds the results of another recipe ({path}); give another --out folder, "
                          "or delete that folder to start again")
    used = int(before["batch_size"])
    if batch_size is not None and int(batch_size) != used:
        raise OutputError(f"{out_dir} was started with --batch-size {used}; resume with --batch-size {used} "
                          "(results depend on the batch size by rounding), or use another --out folder")
    return used


def _check_writable(output: Path, source: Path) -> None:
    """An output must not be an input, a folder, or an existing read-only file (never replaced)."""
    check_not_input(output, source)
    if output.is_dir():
        raise OutputError(f"{output} is a folder; the photo's result cannot be written there")
    if output.exists() and not output.stat().st_mode & 0o222:
        raise OutputError(f"{output} exists and is read-only, so it was not replaced; make it writable "
                          "or delete it and run again")


def run(engine, recipe, arguments: Sequence[str], out_dir, batch_size: Optional[int] = None, rank: int = 0,
        world: int = 1, face_index: Optional[int] = None, force_builtin: bool = False, progress: bool = True,
        hook: Optional[Callable[[dict], None]] = None) -> Summary:
    """Edit every photo named by ``arguments`` into ``out_dir`` (this rank's share); see the module docstring.

    ``hook`` is called with each manifest record just written (tests raise there to simulate a crash).
    """
    from tqdm.auto import tqdm

    out_dir = Path(out_dir)
    recipe.check(engine)
    if not recipe.edits and recipe.local is None:
        raise ValueError("the recipe changes nothing (all strengths are 0); nothing to do")
    out_dir.mkdir(parents=True, exist_ok=True)
    batch_size = settle_batch_size(out_dir, recipe, batch_size)
    if rank == 0 and not (out_dir / HEADER).is_file():
        atomic_write_bytes(out_dir / HEADER, (json.dumps(_header(recipe, batch_size), indent=1) + "\n").encode())
    renderer = BatchRenderer(engine, recipe, batch_size)
    jobs = collect(arguments, exclude=out_dir)
    mine = shard(jobs, rank, world)
    records = read_records(out_dir)
    done = {n for n, r in records.items() if r.get("status") == OK and (out_dir / n).is_file()}
    todo = [j for j in mine if j.name not in done]
    manifest = Manifest(manifest_part(out_dir, rank, world), rank)
    bar = tqdm(total=len(mine), initial=len(mine) - len(todo), unit="photo", file=sys.stderr,
               disable=not progress, desc=f"rank {rank}" if world > 1 else "chatface batch", dynamic_ncols=True)

    def record(job, status, output, error, seconds):
        rec = manifest.write(job, status, output, error, seconds)
        bar.update(1)
        if hook is not None:
            hook(rec)

    pending: list[tuple[Job, Prepared, float]] = []

    def flush():
        if not pending:
            return
        started = time.perf_counter()
        try:
            images = renderer([p.x0 for _, p, _ in pending])
        except Exception:  # noqa: BLE001 - find the photo that fails: each alone (same padded shape, same bytes)
            images = None
        share = (time.perf_counter() - started) / len(pending)
        for i, (job, prep, spent) in enumerate(pending):
            t0 = time.perf_counter()
            try:
                image = images[i] if images is not None else renderer([prep.x0])[0]
                output = out_dir / job.name
                _check_writable(output, job.source)
                result = prep.place(image)
                with atomic_path(output) as tmp:
                    result.save(tmp, format="PNG")
            except Exception as exc:  # noqa: BLE001 - recorded; the batch goes on
                record(job, ERROR, None, _message(exc), spent + share + time.perf_counter() - t0)
                continue
            record(job, OK, output, None, spent + share + time.perf_counter() - t0)
        pending.clear()

    try:
        for job in todo:
            t0 = time.perf_counter()
            if job.problem:
                record(job, ERROR, None, job.problem, 0.0)
                continue
            try:
                prep = prepare(engine, job.source, face_index, force_builtin)
            except SkipPhoto as exc:
                record(job, SKIPPED, None, str(exc), time.perf_counter() - t0)
                continue
            except Exception as exc:  # noqa: BLE001 - unreadable photo, no face, …: recorded, the batch goes on
                record(job, ERROR, None, _message(exc), time.perf_counter() - t0)
                continue
            pending.append((job, prep, time.perf_counter() - t0))
            if len(pending) == batch_size:
                flush()
        flush()
    finally:
        bar.close()
        manifest.close()
    summary = Summary(dict(manifest.counts), len(mine) - len(todo), len(mine), manifest.path)
    if world == 1:
        summary.manifest = merge(out_dir)
    return summary


def _message(exc: BaseException) -> str:
    """One line for the manifest: the exception's type when its text would not say what went wrong."""
    text = str(exc.args[0] if isinstance(exc, KeyError) and exc.args else exc).strip()
    known = ("PhotoError", "NoFaceError", "OutputError")
    return text if type(exc).__name__ in known and text else f"{type(exc).__name__}: {text}"


# -------------------------------------------------------------------------------------- notebook


@dataclass
class Result:
    """One photo of :func:`apply`: the photo, its edit (pasted back), and what happened."""

    source: str
    before: object = None  # PIL: the photo as read
    after: object = None  # PIL: the edited photo (None on error)
    status: str = OK
    error: Optional[str] = None


def as_recipe(recipe, engine=None):
    """A Recipe from a Recipe, a recipe file, or a request sentence (interpreted for ``engine``'s model)."""
    from chatface_widgets.jobs.recipe import Recipe

    if isinstance(recipe, Recipe):
        return recipe
    text = str(recipe)
    if text.lower().endswith(".json") or Path(text).is_file():
        return Recipe.load(text)
    if engine is None:
        raise ValueError("a request sentence needs an engine (or pass a Recipe or a recipe file)")
    return Recipe.from_request(engine, text)


def apply(recipe, photos, engine=None, batch_size: int = DEFAULT_BATCH, show: bool = True, columns: int = 4,
          force_builtin: bool = False) -> list[Result]:
    """Apply a recipe (a Recipe, a file, or a sentence) to photos in memory; show before/after pairs.

    ``photos``: paths, folders, globs, or PIL images. Nothing is written; for files on disk and a
    manifest use ``chatface batch`` (or :func:`run`).
    """
    from chatface_widgets.engine.engine import Engine

    if engine is None:
        from chatface_widgets.jobs.recipe import Recipe

        name = recipe.model["name"] if isinstance(recipe, Recipe) else None
        if name is None and (str(recipe).lower().endswith(".json") or Path(str(recipe)).is_file()):
            name = Recipe.load(recipe).model["name"]
        engine = Engine.load(name or "toy")
    recipe = as_recipe(recipe, engine).check(engine)
    renderer = BatchRenderer(engine, recipe, batch_size)
    items = photos if isinstance(photos, (list, tuple)) else [photos]
    sources: list = []
    for item in items:
        if isinstance(item, (str, os.PathLike)):
            jobs = collect([str(item)])
            sources.extend(j.source if not j.problem else str(item) for j in jobs)
        else:
            sources.append(item)
    results, pending = [], []

    def flush():
        if pending:
            images = renderer([p.x0 for _, p in pending])
            for (res, prep), image in zip(pending, images):
                res.after = prep.place(image)
            pending.clear()

    for source in sources:
        res = Result(str(source) if isinstance(source, (str, os.PathLike)) else f"<{type(source).__name__}>")
        results.append(res)
        try:
            prep = prepare(engine, source, None, force_builtin)
        except SkipPhoto as exc:
            res.status, res.error = SKIPPED, str(exc)
            continue
        except Exception as exc:  # noqa: BLE001 - shown in the result
            res.status, res.error = ERROR, _message(exc)
            continue
        res.before = prep.original
        pending.append((res, prep))
        if len(pending) == batch_size:
            flush()
    flush()
    if show:
        show_pairs(results, columns=columns, title=recipe.describe())
    return results


def show_pairs(results: Sequence[Result], columns: int = 4, title: str = ""):
    """A matplotlib grid of before/after pairs (errors shown as text); returns the figure."""
    import matplotlib.pyplot as plt

    pairs = [r for r in results if r.after is not None]
    failed = [r for r in results if r.after is None]
    columns = max(1, min(columns, len(pairs) or 1))
    rows = max(1, -(-len(pairs) // columns))
    fig, axes = plt.subplots(rows, 2 * columns, figsize=(2.0 * 2 * columns, 2.2 * rows), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for i, r in enumerate(pairs):
        row, col = divmod(i, columns)
        for j, (image, label) in enumerate(((r.before, "before"), (r.after, "after"))):
            ax = axes[row][2 * col + j]
            ax.imshow(image)
            ax.set_title(f"{Path(r.source).stem} {label}" if j == 0 else label, fontsize=8)
    if title or failed:
        lines = [title] + [f"{Path(r.source).name}: {r.status}: {r.error}" for r in failed]
        fig.suptitle("\n".join(line for line in lines if line), fontsize=8)
    fig.tight_layout()
    if "ipykernel" in sys.modules:
        plt.show()
    return fig
