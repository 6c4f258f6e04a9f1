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

import glob
import json
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Callable, Iterable, Optional, Sequence

from chatface_widgets.foundation.files import OutputError, atomic_path, atomic_write_bytes

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


def collect(arguments: Iterable[str], exclude: Optional[Path] = None, with_inputs: bool = False):
    """Photos from files, folders (recursive, image suffixes, hidden files left out) and globs, sorted by name.

    A file keeps its own name, a photo found in a folder or a glob its path below that folder. The
    output name is the relative name with the suffix ``.png``; where two photos would share one
    ("a.jpg", "a.png"), those not already PNG keep their suffix too ("a.jpg.png"). Anything under
    ``exclude`` (the output folder) is left out, and one file given twice is taken once.
    """
    found: list[tuple[Path, PurePosixPath]] = []
    every: list[Path] = []  # every photo the arguments name, those in ``exclude`` too (never to be written)
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
        every.extend(p for p, _ in files)
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
        if by_stem[out] > 1 and rel.suffix != ".png":
            out = rel.with_name(rel.name + ".png")
        jobs.append(Job(p, out.as_posix()))
    names = {j.name for j in jobs}
    problems = [j for j in problems if j.name not in names]
    jobs = sorted(jobs + problems, key=lambda j: j.name)
    return (jobs, every) if with_inputs else jobs


def shard(jobs: Sequence[Job], rank: int, world: int) -> list[Job]:
    """Rank ``rank``'s round-robin share of the name-sorted job list (the same on every rank)."""
    return list(jobs[rank::world])


# ------------------------------------------------------------------------------------------ photos


def read_face(engine, source, settings, force_builtin: bool = False):
    """One photo read and aligned (or taken as a built-in-world image) as an engine Face; SkipPhoto for a photo
    this model cannot edit, PhotoError / NoFaceError for a bad one."""
    from chatface_widgets.engine.engine import NotModelWorldError

    try:
        return engine.read_face(source, face_index=settings.face, force_builtin=force_builtin, strict=True)
    except NotModelWorldError as exc:
        raise SkipPhoto(str(exc).replace("force_builtin=True (--force-builtin)", "--force-builtin")) from None


def render_padded(engine, faces: Sequence, settings, batch_size: int) -> list:
    """The engine's batch render of up to ``batch_size`` faces, padded to exactly ``batch_size`` rows (copies of
    the last face) so that every network call has one shape and a face's bytes never depend on its company."""
    from chatface_widgets.engine.engine import Face

    k = len(faces)
    if not 0 < k <= batch_size:
        raise ValueError(f"expected 1 to {batch_size} faces, got {k}")
    last = faces[-1]
    pads = [Face(engine, last.original, last.image, last.x0, None, last.aligned) for _ in range(batch_size - k)]
    rows = engine.encode_faces(list(faces) + pads)
    return engine.render_batch(rows, settings)[:k]


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
    keep = ("format", "version", "model", "settings")
    return {"recipe": {k: v for k, v in recipe.to_dict().items() if k in keep}, "batch_size": batch_size}


def settle_batch_size(out_dir: Path, recipe, batch_size: Optional[int]) -> int:
    """The batch size for a (re)run into ``out_dir``: the one used before, so bytes stay the same.

    Refuses another recipe in the same folder, and a different explicit ``batch_size`` (float rounding
    makes results differ by about one grey level in a few pixels between batch sizes).
    """
    path = out_dir / HEADER
    if not path.is_file():
        return int(batch_size or DEFAULT_BATCH)
    try:
        before = json.loads(path.read_bytes().decode("utf-8"))
        used = before["batch_size"]
        if isinstance(used, bool) or not isinstance(used, int) or not 1 <= used <= 4096:
            raise ValueError(f"batch_size {used!r}")
    except (OSError, ValueError, KeyError, TypeError, RecursionError) as exc:
        raise OutputError(f"{path} is damaged ({str(exc)[:80]}); delete {path} to start this folder's batch again "
                          "(the edited photos stay; the manifest records which are done)") from None
    want = _header(recipe, 0)["recipe"]
    if not isinstance(before, dict) or before.get("recipe") != want:
        raise OutputError(f"{out_dir} holds the results of another recipe ({path}); give another --out folder, "
                          "or delete that folder to start again")
    if batch_size is not None and int(batch_size) != used:
        raise OutputError(f"{out_dir} was started with --batch-size {used}; resume with --batch-size {used} "
                          "(results depend on the batch size by rounding), or use another --out folder")
    return used


def plan_outputs(jobs: Sequence[Job], out_dir: Path, inputs: Sequence[Path], protected_files=(), records=None) -> dict:
    """Every output of a batch, decided before any work: job name -> output path.

    No output may be an input (any photo the arguments name, also those left out because they sit in
    ``--out``), a package or model file, or the output of another photo (OutputError naming both files,
    before any work). An existing file in ``--out`` that no earlier run of this batch wrote, or a
    read-only one, is not replaced: its photo gets that OutputError as its result, and the batch goes on.
    """
    from chatface_widgets.jobs.outputs import WritePlan

    plan = WritePlan(inputs=inputs, protected_files=protected_files)
    for name in (HEADER, MANIFEST):
        plan.claim(out_dir / name, f"the batch file")
    ours = {n for n, r in (records or {}).items() if r.get("status") == OK}
    outputs, by_output = {}, {}
    for job in jobs:
        if job.problem:
            continue
        output = out_dir / job.name
        key = str(plan.check(output, f"the output of {job.source}")).casefold()
        if key in by_output:
            raise OutputError(f"photos {by_output[key]} and {job.source} would both be written to {output}; "
                              "rename one, or give them separate --out folders")
        by_output[key] = job.source
        if output.is_dir():
            raise OutputError(f"{output} is a folder, so the result of {job.source} cannot be written there; "
                              "move that folder or choose another --out")
        if output.exists() and (job.name not in ours or not os.access(output, os.W_OK)):
            outputs[job.name] = OutputError(f"{output} exists and was not written by this batch (or is read-only), "
                                            "so it was not replaced; move it and run again, or choose another --out")
            continue
        outputs[job.name] = output
    return outputs


def _check_out_dir(out_dir: Path) -> None:
    """--out must be a folder this user can write (created if missing); OutputError naming the fix otherwise."""
    if out_dir.exists() and not out_dir.is_dir():
        raise OutputError(f"--out {out_dir} is a file, not a folder; give a folder for the edited photos")
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot create the --out folder {out_dir}: {exc.strerror or exc}; choose a folder you "
                          "can write to") from None
    if not os.access(out_dir, os.W_OK | os.X_OK):
        raise OutputError(f"the --out folder {out_dir} is not writable; choose a folder you can write to")


def run(engine, recipe, arguments: Sequence[str], out_dir, batch_size: Optional[int] = None, rank: int = 0,
        world: int = 1, force_builtin: bool = False, progress: bool = True,
        hook: Optional[Callable[[dict], None]] = None) -> Summary:
    """Edit every photo named by ``arguments`` into ``out_dir`` (this rank's share); see the module docstring.

    ``hook`` is called with each manifest record just written (tests raise there to simulate a crash).
    """
    from tqdm.auto import tqdm

    from chatface_widgets.jobs.outputs import model_files

    out_dir = Path(out_dir)
    recipe.check(engine)
    settings = engine.settings(recipe.settings, bounded=True)  # checked once; every photo gets this render
    if not settings.edits:
        raise ValueError("the recipe changes nothing (all strengths are 0); nothing to do")
    jobs, inputs = collect(arguments, exclude=out_dir, with_inputs=True)
    if not any(not j.problem for j in jobs):
        named = ", ".join(arguments) if len(", ".join(arguments)) < 200 else f"{len(arguments)} arguments"
        left = " (photos inside --out are left out)" if inputs else ""
        raise OutputError(f"no photos found in {named}{left}; give photo files, folders or quoted globs that match")
    _check_out_dir(out_dir)
    records = read_records(out_dir)
    outputs = plan_outputs(jobs, out_dir, inputs, model_files(engine), records)
    batch_size = settle_batch_size(out_dir, recipe, batch_size)
    mine = shard(jobs, rank, world)
    done = {n for n, r in records.items() if r.get("status") == OK and (out_dir / n).is_file()}
    todo = [j for j in mine if j.name not in done]
    if rank == 0 and not (out_dir / HEADER).is_file():
        atomic_write_bytes(out_dir / HEADER, (json.dumps(_header(recipe, batch_size), indent=1) + "\n").encode())
    manifest = Manifest(manifest_part(out_dir, rank, world), rank)
    bar = tqdm(total=len(mine), initial=len(mine) - len(todo), unit="photo", file=sys.stderr,
               disable=not progress, desc=f"rank {rank}" if world > 1 else "chatface batch", dynamic_ncols=True)

    def record(job, status, output, error, seconds):
        rec = manifest.write(job, status, output, error, seconds)
        bar.update(1)
        if hook is not None:
            hook(rec)

    pending: list = []  # (job, face, seconds spent reading it)

    def flush():
        if not pending:
            return
        started = time.perf_counter()
        try:
            images = render_padded(engine, [f for _, f, _ in pending], settings, batch_size)
        except Exception:  # noqa: BLE001 - find the photo that fails: each alone (same padded shape, same bytes)
            images = None
        share = (time.perf_counter() - started) / len(pending)
        for i, (job, face, spent) in enumerate(pending):
            t0 = time.perf_counter()
            try:
                image = images[i] if images is not None else render_padded(engine, [face], settings, batch_size)[0]
                output = outputs[job.name]
                with atomic_path(output) as tmp:
                    image.save(tmp, format="PNG")
            except Exception as exc:  # noqa: BLE001 - recorded; the batch goes on
                record(job, ERROR, None, _message(exc), spent + share + time.perf_counter() - t0)
                continue
            record(job, OK, output, None, spent + share + time.perf_counter() - t0)
        pending.clear()

    try:
        for job in todo:
            t0 = time.perf_counter()
            if job.problem or isinstance(outputs.get(job.name), OutputError):
                record(job, ERROR, None, job.problem or str(outputs[job.name]), 0.0)
                continue
            try:
                face = read_face(engine, job.source, settings, force_builtin)
            except SkipPhoto as exc:
                record(job, SKIPPED, None, str(exc), time.perf_counter() - t0)
                continue
            except Exception as exc:  # noqa: BLE001 - unreadable photo, no face, …: recorded, the batch goes on
                record(job, ERROR, None, _message(exc), time.perf_counter() - t0)
                continue
            pending.append((job, face, time.perf_counter() - t0))
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

    ``photos``: paths, folders, globs, or PIL images. The pixels are those ``chatface batch`` writes
    (the same padded batches through the engine's one render path). Nothing is written; for files on
    disk and a manifest use ``chatface batch`` (or :func:`run`).
    """
    from chatface_widgets.engine.engine import Engine

    if engine is None:
        from chatface_widgets.jobs.recipe import Recipe

        name = recipe.model["name"] if isinstance(recipe, Recipe) else None
        if name is None and (str(recipe).lower().endswith(".json") or Path(str(recipe)).is_file()):
            name = Recipe.load(recipe).model["name"]
        engine = Engine.load(name or "toy")
    recipe = as_recipe(recipe, engine).check(engine)
    settings = engine.settings(recipe.settings, bounded=True)
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
            images = render_padded(engine, [face for _, face in pending], settings, batch_size)
            for (res, _), image in zip(pending, images):
                res.after = image
            pending.clear()

    for source in sources:
        res = Result(str(source) if isinstance(source, (str, os.PathLike)) else f"<{type(source).__name__}>")
        results.append(res)
        try:
            face = read_face(engine, source, settings, force_builtin)
        except SkipPhoto as exc:
            res.status, res.error = SKIPPED, str(exc)
            continue
        except Exception as exc:  # noqa: BLE001 - shown in the result
            res.status, res.error = ERROR, _message(exc)
            continue
        res.before = face.original
        pending.append((res, face))
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
