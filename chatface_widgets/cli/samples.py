"""``chatface samples``: write faces of the built-in world as PNGs that ``chatface edit`` and ``batch`` take."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from PIL import Image, PngImagePlugin

from chatface_widgets.engine.world import WORLD_SIZE, world_face
from chatface_widgets.foundation.files import OutputError, atomic_path
from chatface_widgets.jobs.outputs import WritePlan

MAX_COUNT = 10_000
MAX_SEED = 1_000_000
MAX_SIDE = 4096  # the same bound as `chatface edit --scale`
MAX_SCALE = MAX_SIDE // WORLD_SIZE
MARK = "chatface-samples"  # a PNG text chunk: files carrying it are this command's output
EXIT_ERROR, EXIT_INTERRUPTED = 2, 130


class SamplesError(ValueError):
    """A mistake in the command; the message names the file or option and the fix."""


class _Parser(argparse.ArgumentParser):
    """An argument parser whose usage errors are one ``chatface: error:`` line and exit 2."""

    def error(self, message):
        """Print one line naming the mistake and where the usage is, then exit 2."""
        print(f"chatface: error: {message} (see `{self.prog} --help`)", file=sys.stderr)
        raise SystemExit(EXIT_ERROR)


def file_name(number: int) -> str:
    """The file name of held-out face ``number``: the same face always gets the same name."""
    return f"face-{number:07d}.png"


def is_own_output(path: Path) -> bool:
    """True for a plain file (not a link) that this command wrote: a PNG carrying its text mark."""
    if path.is_symlink() or not path.is_file():
        return False
    try:
        with Image.open(path) as image:
            return image.format == "PNG" and MARK in image.info
    except (OSError, ValueError, Image.DecompressionBombError):
        return False


def plan(out: Path, seed: int, count: int) -> list[tuple[int, Path]]:
    """The (face number, path) pairs to write, after refusing any path that holds someone else's file."""
    if out.exists() and not out.is_dir():
        raise SamplesError(f"--out {out}: is a file, not a folder; name a folder")
    jobs = [(number, out / file_name(number)) for number in range(seed, seed + count)]
    writes = WritePlan()  # never into the package's own files (its code, the built-in weights and samples)
    for _, path in jobs:
        try:
            writes.claim(path, "the sample face")
        except OutputError as exc:
            raise SamplesError(str(exc)) from None
        if (path.exists() or path.is_symlink()) and not is_own_output(path):
            raise SamplesError(f"{path} exists and was not written by `chatface samples`; it is left as it is: "
                               "choose another --out or --seed")
    return jobs


def write_face(number: int, path: Path, scale: int) -> None:
    """Render one face and write it atomically, with the mark that says it is this command's output."""
    info = PngImagePlugin.PngInfo()
    info.add_text(MARK, f"face {number}, scale {scale}")
    image = world_face(number, scale)
    with atomic_path(path) as tmp:
        image.save(tmp, format="PNG", pnginfo=info)


def _bounded(value: int, low: int, high: int, option: str) -> int:
    """``value`` when ``low <= value <= high``, else a SamplesError naming the option and its range."""
    if not low <= value <= high:
        raise SamplesError(f"{option} {value} is out of range: use {low} to {high}")
    return value


def build_parser(prog: str) -> argparse.ArgumentParser:
    """The command's options."""
    parser = _Parser(prog=prog, description="Write faces of the built-in world (held-out identities, neutral "
                                            "attributes) as PNGs that `chatface edit` and `chatface batch` take.")
    parser.add_argument("--out", required=True, type=Path, help="folder to write face-NNNNNNN.png into")
    parser.add_argument("--count", type=int, default=8, help=f"how many faces (1 to {MAX_COUNT}; default 8)")
    parser.add_argument("--seed", type=int, default=0,
                        help=f"number of the first face (0 to {MAX_SEED}); the same number is always the same face")
    parser.add_argument("--scale", type=int, default=1,
                        help=f"whole upscale factor of the {WORLD_SIZE} px faces (1 to {MAX_SCALE}; nearest)")
    return parser


def run(args) -> int:
    """Check every option and path, then write the faces; returns the exit status."""
    count = _bounded(args.count, 1, MAX_COUNT, "--count")
    seed = _bounded(args.seed, 0, MAX_SEED, "--seed")
    scale = _bounded(args.scale, 1, MAX_SCALE, "--scale")
    jobs = plan(args.out, seed, count)
    written = 0
    try:
        for number, path in jobs:
            write_face(number, path, scale)
            written += 1
    except KeyboardInterrupt:
        print(f"chatface: interrupted; {written} of {count} faces were written to {args.out}, each whole; "
              "run the same command again to finish", file=sys.stderr)
        return EXIT_INTERRUPTED
    first, last = jobs[0][1], jobs[-1][1]
    print(f"wrote {count} faces ({WORLD_SIZE * scale} px) to {args.out}: {first.name} to {last.name}")
    print(f'edit one: chatface edit {first} "add glasses" -o edited.png')
    return 0


def main(argv=None, prog: str = "chatface samples") -> int:
    """``chatface samples --out DIR [--count N] [--seed S] [--scale K]``."""
    args = build_parser(prog).parse_args(argv)
    try:
        return run(args)
    except SamplesError as exc:
        message = exc
    except PermissionError as exc:
        message = f"permission denied: {exc.filename or exc}; choose a folder you can write to"
    except OSError as exc:
        message = f"{exc.filename or args.out}: {exc.strerror or exc}"
    print(f"chatface: error: {message}", file=sys.stderr)
    return EXIT_ERROR


if __name__ == "__main__":
    sys.exit(main())
