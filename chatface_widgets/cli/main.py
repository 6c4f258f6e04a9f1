"""The ``chatface`` command: edit a photo from a sentence, and the model/weights/training tools.

    chatface edit PHOTO "make her smile a lot" -o out.png     (PHOTO may be "sample" or "sample:ben")
    chatface attributes [--model toy]
    chatface convert SRC DST.safetensors [--half]
    chatface weights list|download|path NAME
    chatface train-diffae / train-mapper / eval ...
"""

from __future__ import annotations

import argparse
import json
import sys
import warnings
from pathlib import Path
from typing import Optional, Sequence


class CLIError(Exception):
    """A user-facing failure: printed as one line, exit status 2."""


EXIT_ERROR = 2  # a user error (bad photo, path, option): one line on stderr, no file written
EXIT_NO_CHANGE = 3  # the request asks for no change (not understood, or nothing to do): no file written
EXIT_INTERRUPTED = 130  # Ctrl-C: what was finished is kept, nothing half-written
MAX_OUTPUT_SIDE = 4096  # --scale may not make the written image larger than this, a side
REAL_WEIGHTS_COMMAND = "chatface weights download ffhq256_autoenc"


def _warn(message: str) -> None:
    print(f"chatface: {message}", file=sys.stderr)


def _read_photo(text: str, model: str):
    """Check the PHOTO argument before any model work: ``(photo, path, image)``.

    ``sample`` / ``sample:NAME`` / ``sample:INDEX`` names one of the model's built-in sample photos
    (checked in the catalogue here, opened by ``engine.open``); a file is read and validated, and
    ``image`` is the RGB photo. ``path`` and ``image`` are None for a sample.
    """
    from chatface_widgets.engine.engine import is_sample
    from chatface_widgets.photos.photo import PhotoError, load_photo

    if is_sample(text):
        from chatface_widgets.engine.catalogue import find

        try:
            find(model).sample(text.partition(":")[2] or 0)
        except FileNotFoundError as exc:
            raise CLIError(str(exc)) from None
        return text, None, None
    try:
        return text, Path(text), load_photo(text)
    except PhotoError as exc:
        raise CLIError(f"{exc}; give a PNG or JPEG photo, or 'sample' for a built-in face") from None


def _check_output(out: Path, no_clobber: bool) -> None:
    """The output must be a .png file path (not a folder); --no-clobber refuses an existing one."""
    if out.suffix.lower() != ".png":
        raise CLIError(f"output must be a .png file, got {out}; name it e.g. {out.with_suffix('.png').name}")
    if out.is_dir():
        raise CLIError(f"{out} is a folder; give a file name such as {out / 'out.png'}")
    if no_clobber and out.exists():
        raise CLIError(f"{out} exists and --no-clobber was given; choose another output path")


def _check_scale(scale: int, width: Optional[int] = None, height: Optional[int] = None) -> None:
    """1 <= scale, and the scaled image at most MAX_OUTPUT_SIDE a side."""
    if width is None:
        if scale < 1:
            raise CLIError(f"--scale {scale} is invalid: it must be a whole number of at least 1 "
                           "(1 writes the image at its own size)")
        return
    side = max(width, height)
    largest = max(1, MAX_OUTPUT_SIDE // side)
    if side * scale > MAX_OUTPUT_SIDE:
        raise CLIError(f"--scale {scale} would write a {width * scale}×{height * scale} image; the limit is "
                       f"{MAX_OUTPUT_SIDE} pixels a side, so use --scale 1 to {largest} for this "
                       f"{width}×{height} result")


def _step_policy(engine):
    """The CLI's step policy: the model's default, bounded as the panel is (the edit contract's)."""
    return engine.contract.bounded().steps


def _face_report(aligned, chosen: Optional[int]) -> Optional[str]:
    """Which face was edited, when the photo has more than one (or when --face chose one)."""
    if aligned is None or (aligned.count <= 1 and chosen is None):
        return None
    box = aligned.face
    where = f"box x {box.left}-{box.right}, y {box.top}-{box.bottom}"
    text = f"found {aligned.count} face{'s' if aligned.count != 1 else ''}; edited face {aligned.index + 1} ({where})"
    if aligned.count > 1:
        others = [str(n) for n in range(1, aligned.count + 1) if n != aligned.index + 1]
        text += (f"; faces are numbered largest first (equal sizes left to right): pass --face "
                 f"{' or '.join(others)} to edit another")
    return text


def _make_interpreter(kind: str, engine):
    """The chat factory's interpreter for this model, with the interactive bounds (same as the panel's)."""
    from chatface_widgets.chat import make_interpreter

    try:
        return make_interpreter(kind, engine.contract.bounded())
    except ValueError as exc:
        raise CLIError(str(exc)) from None


def cmd_edit(args) -> int:
    """Read the photo, interpret the request, render, write the PNG (and the recipe); print the reply (or --json)."""
    from chatface_widgets.cli.options import settings_from_args
    from chatface_widgets.engine.engine import Engine, NotModelWorldError
    from chatface_widgets.foundation.files import atomic_path
    from chatface_widgets.jobs.outputs import WritePlan, model_files

    out = Path(args.output)
    _check_scale(args.scale)
    base = settings_from_args(args)  # flags checked before any work
    photo, photo_path, image = _read_photo(args.photo, args.model)  # before the model: a bad photo costs nothing
    _check_output(out, args.no_clobber)
    recipe_path = Path(args.save_recipe) if args.save_recipe else None
    if recipe_path is not None and recipe_path.suffix.lower() != ".json":
        raise CLIError(f"--save-recipe needs a .json file name, got {recipe_path}")
    from chatface_widgets.engine.catalogue import find

    spec = find(args.model)  # the model's files, before its weights are read
    sample = spec.sample(photo.partition(":")[2] or 0) if photo_path is None else None
    plan_ = WritePlan(inputs=[photo_path, sample], protected_files=model_files(spec))
    plan_.claim(out, "the output")
    if recipe_path is not None:
        plan_.claim(recipe_path, "the recipe")
    engine = Engine.load(args.model, device=args.device)
    if base.face is not None and not engine.info.align:
        raise CLIError(f"--face needs a model that finds faces (e.g. --model ffhq256); {engine.info.name!r} does not")
    interpreter = _make_interpreter(args.llm, engine)
    plan = interpreter.parse(_clip(args.request), current={})
    settings = _edit_settings(engine, base, plan, args)
    if args.json:
        print(json.dumps({"plan": plan.model_dump(), "edits": dict(settings.edits), "steps": settings.steps,
                          "settings": settings.to_dict()}, ensure_ascii=False))
    else:
        print(plan.reply or "OK.")
        if plan.note and plan.note not in (plan.reply or ""):  # said once: the reply may carry it already
            _warn(f"note: {plan.note}")
    if not settings.edits:
        _warn(f"nothing to change for {_clip(args.request, 80)!r}, so {out} was not written (exit status "
              f"{EXIT_NO_CHANGE}); `chatface attributes --model {args.model}` lists what this model can edit")
        return EXIT_NO_CHANGE
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            face = engine.open(photo if photo_path is None else image, face_index=settings.face,
                               force_builtin=args.force_builtin)
        for warning in caught:
            _warn(f"warning: {photo_path}: {warning.message}. For real photos: {REAL_WEIGHTS_COMMAND}")
    except IndexError:
        raise CLIError(f"--face {settings.face + 1}: {photo_path} has fewer faces; faces are numbered from 1, "
                       "largest first (omit --face to edit the largest)") from None
    except NotModelWorldError as exc:
        raise CLIError(f"{photo_path}: {exc}") from None
    except ValueError as exc:  # NoFaceError and other photo problems found while aligning
        raise CLIError(f"{photo_path or photo}: {exc}") from None
    report = _face_report(face.aligned, None if settings.face is None else settings.face + 1)
    if report:
        _warn(report)
    result = face.render(settings, paste=True)
    _check_scale(args.scale, result.width, result.height)
    if args.scale > 1:
        from PIL import Image

        result = result.resize((result.width * args.scale, result.height * args.scale), Image.NEAREST)
    existed = out.exists()
    with atomic_path(out) as tmp:  # complete or not at all; a link to an old output keeps the old file
        result.save(tmp, format="PNG")
    _warn(f"{'replaced' if existed else 'wrote'} {out} ({result.width}×{result.height}; {settings.describe()})")
    if recipe_path is not None:  # only after the edit it records succeeded
        from chatface_widgets.jobs.recipe import Recipe

        Recipe.from_settings(engine, settings, request=args.request, plan=plan).save(recipe_path)
        _warn(f"saved the recipe to {recipe_path}")
    return 0


def _edit_settings(engine, base, plan, args):
    """The render settings of ``chatface edit``: the plan's strengths, the flags, and the plan's steps where --steps
    is not given; checked once with the CLI's bounds (CLIError naming the fix)."""
    keep, only = plan.where(base.keep, base.only)
    settings = base.updated(edits=plan.apply({}), steps=base.steps if base.steps is not None else plan.steps,
                            keep=keep, only=only)
    try:
        return engine.settings(settings, bounded=True)
    except ValueError as exc:
        message = str(exc)
        if "steps" in message and "Python" not in message:
            policy = _step_policy(engine)
            message += (f". The command line takes valid counts from 2 to {policy.maximum} (default "
                        f"{policy.default}); for more, call face.render(steps=N) from Python")
        raise CLIError(f"--steps {args.steps}: {message}" if args.steps is not None and "steps" in message
                       else message) from None


MAX_ECHO = 200  # characters of a request echoed back in messages


def _clip(text: str, limit: int = 100_000) -> str:
    """A request as the interpreter sees it (at most ``limit`` characters; a 100 KB paste is not a request)."""
    text = str(text)
    return text if len(text) <= limit else text[:limit]


def cmd_attributes(args) -> int:
    """List what the model can edit, or say it has nothing yet and how to train a mapper for it."""
    from chatface_widgets.engine.engine import Engine

    engine = Engine.load(args.model, device=args.device)
    if not engine.attributes:
        print(f"model {args.model} has no attributes to edit yet (it reconstructs faces, and edits what mappers "
              f"are trained for it); add one with: chatface train-mapper --model {args.model} "
              '--attribute eyeglasses --target "a face with glasses"')
        return 0
    for name in engine.attributes:
        attr = engine.registry[name]
        syn = f" ({', '.join(attr.synonyms)})" if attr.synonyms else ""
        print(f"{name}{syn} [{attr.kind}]")
    return 0


def cmd_convert(args) -> int:
    """Safetensors (+ JSON config) from any DiffAE checkpoint: official .ckpt (EMA), a run's ckpt.pt, .pt."""
    from chatface_widgets.jobs.outputs import WritePlan
    from chatface_widgets.models.diffae import config_path_for, load_diffae_file, save_diffae

    src, dst = Path(args.src), Path(args.dst)
    if dst.suffix != ".safetensors":
        raise CLIError(f"destination must end in .safetensors, got {dst}")
    plan = WritePlan(inputs=[src, config_path_for(src), src.with_suffix(".json")])
    plan.claim(dst, "the converted weights")
    plan.claim(config_path_for(dst), "the converted card")
    loaded = load_diffae_file(src, verbose=True)
    # Keep what the source's card says about use (align, training record); the config is rewritten.
    extra = {k: v for k, v in loaded.card.items() if k not in ("kind", "config", "dtype")}
    extra["converted_from"] = src.name
    save_diffae(loaded.model, dst, half=args.half, extra=extra)
    n = sum(p.numel() for p in loaded.model.parameters())
    print(f"wrote {dst} and {config_path_for(dst)} ({n:,} parameters, {'float16' if args.half else 'float32'})")
    return 0


def _delegate(name: str, argv: Sequence[str]) -> int:
    """Run a sub-command that has its own parser, under its own name (``chatface NAME --help``)."""
    import importlib
    import inspect

    main = importlib.import_module(DELEGATED[name][0]).main
    prog = f"chatface {name}"
    takes_prog = "prog" in inspect.signature(main).parameters
    result = main(list(argv), prog=prog) if takes_prog else main(list(argv))
    return int(result or 0)


DELEGATED = {
    "weights": ("chatface_widgets.engine.download", "download, list and locate official checkpoints"),
    "train-diffae": ("chatface_widgets.train.diffae_trainer", "train or resume the built-in DiffAE"),
    "train-mapper": ("chatface_widgets.train.mapper_trainer", "train a ChatFace attribute mapper"),
    "eval": ("chatface_widgets.eval.cli", "evaluate attribute edits on held-out faces"),
    "batch": ("chatface_widgets.cli.batch", "apply a recipe or a request to many photos (torchrun: many GPUs)"),
    "samples": ("chatface_widgets.cli.samples", "write faces of the built-in world as PNGs to edit or batch"),
}


def build_parser() -> argparse.ArgumentParser:
    from chatface_widgets.cli.options import add_settings_arguments

    parser = argparse.ArgumentParser(prog="chatface", description="Chat-guided face editing with a diffusion autoencoder.")
    sub = parser.add_subparsers(dest="command", required=True)
    edit = sub.add_parser(
        "edit", help="edit a photo from a sentence and write a PNG",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Edit a face photo from a sentence. Prints the interpreter's reply (--json: the plan) "
                    "and writes OUT.png.",
        epilog=f"""exit status:
  0  the edited image was written (an earlier OUT.png is replaced, atomically; never the input photo)
  {EXIT_ERROR}  error: bad photo, output path or option (one line on stderr); nothing written
  {EXIT_NO_CHANGE}  the request changes nothing (not understood, or nothing to do); nothing written
  {EXIT_INTERRUPTED}  interrupted (Ctrl-C); nothing written

The built-in model (toy) edits its own illustrated faces; for real photos get the official weights
with `{REAL_WEIGHTS_COMMAND}` and add --model ffhq256.""")
    edit.add_argument("photo", help='image file, or "sample" / "sample:NAME" for a built-in face')
    edit.add_argument("request", help='what to change, e.g. "make her smile a lot and add glasses"')
    edit.add_argument("-o", "--output", required=True,
                      help="PNG to write; an existing file is replaced atomically (never the input photo)")
    edit.add_argument("--model", default="toy", help="toy (built-in), ffhq256, ffhq128 or a checkpoint path")
    edit.add_argument("--llm", default="rules", choices=["rules", "openai"], help="interpreter of the request")
    add_settings_arguments(edit)
    edit.add_argument("--scale", type=int, default=1,
                      help=f"upscale the written image by this whole factor (nearest; at most {MAX_OUTPUT_SIDE} px a side)")
    edit.add_argument("--json", action="store_true", help="print the plan as JSON instead of the reply")
    edit.add_argument("--device", default=None, help="cpu, cuda or mps (default: best available)")
    edit.add_argument("--no-clobber", action="store_true", help="refuse to replace an existing output file")
    edit.add_argument("--force-builtin", action="store_true",
                      help="edit a real photo with the built-in model anyway (its centre square, shrunk)")
    edit.add_argument("--save-recipe", metavar="R.json", default=None,
                      help="also save the edit as a recipe (for `chatface batch` or cf.Recipe.load)")
    edit.add_argument("--force", action="store_true", help=argparse.SUPPRESS)  # old scripts: replacing is the default now
    edit.set_defaults(func=cmd_edit)
    attrs = sub.add_parser("attributes", help="list the attributes a model can edit")
    attrs.add_argument("--model", default="toy")
    attrs.add_argument("--device", default=None)
    attrs.set_defaults(func=cmd_attributes)
    conv = sub.add_parser("convert", help="convert a DiffAE checkpoint to EMA-only safetensors + JSON config")
    conv.add_argument("src")
    conv.add_argument("dst")
    conv.add_argument("--half", action="store_true", help="store float16 weights")
    conv.set_defaults(func=cmd_convert)
    for name, (_, help_text) in DELEGATED.items():
        sub.add_parser(name, help=help_text, add_help=False)
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    from chatface_widgets.foundation.files import OutputError

    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] in DELEGATED:
        try:
            return _delegate(argv[0], argv[1:])
        except KeyboardInterrupt:
            print(f"chatface {argv[0]}: interrupted; finished outputs are kept and nothing is half-written. Run the "
                  "same command again to resume", file=sys.stderr)
            return EXIT_INTERRUPTED
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except KeyboardInterrupt:
        print("chatface: interrupted; nothing was written (outputs appear only complete). Run the command again "
              "to redo it", file=sys.stderr)
        return EXIT_INTERRUPTED
    except (CLIError, OutputError) as exc:
        message = exc
    except MemoryError:
        message = "out of memory; use a smaller photo, fewer steps or a smaller --scale"
    except FloatingPointError as exc:
        message = f"{exc}; the model's weights may be damaged: check or re-download them"
    except PermissionError as exc:
        message = f"permission denied: {exc.filename or exc}; choose a folder you can write to"
    except ImportError as exc:
        message = exc
    except (ValueError, FileNotFoundError, KeyError, OSError) as exc:
        message = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
    print(f"chatface: error: {message}", file=sys.stderr)
    return EXIT_ERROR


if __name__ == "__main__":
    sys.exit(main())
