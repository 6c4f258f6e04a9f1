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
from pathlib import Path
from typing import Optional, Sequence


class CLIError(Exception):
    """A user-facing failure: printed as one line, exit status 2."""


def _photo_argument(text: str, size: int):
    """A path, or ``sample`` / ``sample:NAME`` / ``sample:INDEX`` for a built-in sample photo."""
    if text == "sample" or text.startswith("sample:"):
        from .toy import SAMPLE_NAMES, sample_photo

        which = text.partition(":")[2] or 0
        if isinstance(which, str) and which.isdigit():
            which = int(which)
        try:
            return sample_photo(which, size=size), None
        except (KeyError, IndexError):
            raise CLIError(f"unknown sample {which!r}; samples: {', '.join(SAMPLE_NAMES)}") from None
    return text, Path(text)


def _make_interpreter(kind: str, attributes: list[str]):
    from .chat import RuleInterpreter

    if kind == "rules":
        return RuleInterpreter(attributes=attributes)
    if kind == "openai":
        from .chat import OpenAIInterpreter

        return OpenAIInterpreter(attributes=attributes)
    raise CLIError(f"unknown interpreter {kind!r}; use rules or openai")


def cmd_edit(args) -> int:
    """Interpret the request, print the plan as JSON, render and write the PNG."""
    from .engine import Engine
    from .photo import PhotoError, load_photo

    out = Path(args.output)
    if out.suffix.lower() != ".png":
        raise CLIError(f"output must be a .png file, got {out}")
    engine = Engine.load(args.model, device=args.device)
    photo, photo_path = _photo_argument(args.photo, engine.image_size)
    if photo_path is not None and out.resolve() == photo_path.resolve():
        raise CLIError("refusing to overwrite the input photo; choose another output path")
    if out.exists() and not args.force:
        raise CLIError(f"{out} exists; pass --force to replace it")
    try:
        load_photo(photo)  # fail fast, before any model work, on a bad photo
    except PhotoError as exc:
        raise CLIError(str(exc)) from None
    interpreter = _make_interpreter(args.llm, engine.attributes)
    plan = interpreter.parse(args.request, current={})
    steps = args.steps or plan.steps or engine.info.default_steps
    edits = plan.apply({})
    print(json.dumps({"plan": plan.model_dump(), "edits": edits, "steps": steps}, ensure_ascii=False))
    face = engine.open(photo)
    image = face.render(edits, steps=steps, sms=not args.no_sms, paste=face.aligned is not None)
    if args.scale > 1:
        from PIL import Image

        image = image.resize((image.width * args.scale, image.height * args.scale), Image.NEAREST)
    out.parent.mkdir(parents=True, exist_ok=True)
    image.save(out)
    print(f"wrote {out} ({image.width}×{image.height})", file=sys.stderr)
    return 0


def cmd_attributes(args) -> int:
    from .engine import Engine

    engine = Engine.load(args.model, device=args.device)
    for name in engine.attributes:
        attr = engine.registry[name]
        syn = f" ({', '.join(attr.synonyms)})" if attr.synonyms else ""
        print(f"{name}{syn} [{attr.kind}]")
    return 0


def cmd_convert(args) -> int:
    """Safetensors (+ JSON config) from any DiffAE checkpoint: official .ckpt (EMA), a run's ckpt.pt, .pt."""
    from .files import OutputError, check_not_input
    from .models.diffae import config_path_for, load_diffae_file, save_diffae

    src, dst = Path(args.src), Path(args.dst)
    if dst.suffix != ".safetensors":
        raise CLIError(f"destination must end in .safetensors, got {dst}")
    if dst.resolve() == src.resolve():
        raise CLIError("destination equals source; choose another path")
    try:
        check_not_input(dst, src)
        check_not_input(config_path_for(dst), src, config_path_for(src))
    except OutputError as exc:
        raise CLIError(str(exc)) from None
    loaded = load_diffae_file(src, verbose=True)
    # Keep what the source's card says about use (align, training record); the config is rewritten.
    extra = {k: v for k, v in loaded.card.items() if k not in ("kind", "config", "dtype")}
    extra["converted_from"] = src.name
    save_diffae(loaded.model, dst, half=args.half, extra=extra)
    n = sum(p.numel() for p in loaded.model.parameters())
    print(f"wrote {dst} and {config_path_for(dst)} ({n:,} parameters, {'float16' if args.half else 'float32'})")
    return 0


def _delegate(module: str, argv: Sequence[str]) -> int:
    import importlib

    result = importlib.import_module(module).main(list(argv))
    return int(result or 0)


DELEGATED = {
    "weights": ("chatface_widgets.download", "download, list and locate official checkpoints"),
    "train-diffae": ("chatface_widgets.train.diffae_trainer", "train or resume the built-in DiffAE"),
    "train-mapper": ("chatface_widgets.train.mapper_trainer", "train a ChatFace attribute mapper"),
    "eval": ("chatface_widgets.eval.cli", "evaluate attribute edits on held-out faces"),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="chatface", description="Chat-guided face editing with a diffusion autoencoder.")
    sub = parser.add_subparsers(dest="command", required=True)
    edit = sub.add_parser("edit", help="edit a photo from a sentence and write a PNG")
    edit.add_argument("photo", help='image file, or "sample" / "sample:NAME" for a built-in face')
    edit.add_argument("request", help='what to change, e.g. "make her smile a lot and add glasses"')
    edit.add_argument("-o", "--output", required=True, help="PNG to write (never the input photo)")
    edit.add_argument("--model", default="toy", help="toy (built-in), ffhq256, ffhq128 or a checkpoint path")
    edit.add_argument("--llm", default="rules", choices=["rules", "openai"], help="interpreter of the request")
    edit.add_argument("--steps", type=int, default=None, help="DDIM steps (default: the plan's or the model's)")
    edit.add_argument("--no-sms", action="store_true", help="use z_edit at every step instead of SMS")
    edit.add_argument("--scale", type=int, default=1, help="upscale the written image by this factor (nearest)")
    edit.add_argument("--device", default=None, help="cpu, cuda or mps (default: best available)")
    edit.add_argument("--force", action="store_true", help="replace an existing output file")
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
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] in DELEGATED:
        return _delegate(DELEGATED[argv[0]][0], argv[1:])
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except CLIError as exc:
        print(f"chatface: error: {exc}", file=sys.stderr)
        return 2
    except (ValueError, FileNotFoundError, KeyError, OSError) as exc:
        message = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
        print(f"chatface: error: {message}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
