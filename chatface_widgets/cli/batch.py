"""``chatface batch``: apply one recipe or request to many photos (the door; the work is jobs.batch).

    chatface batch older-glasses.json photos/ "more/*.jpg" --out edited/ [--batch-size 16]
    torchrun --nproc_per_node 8 -m chatface_widgets batch RECIPE photos/ --out edited/
    chatface batch --merge edited/
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Optional, Sequence

from chatface_widgets.foundation.files import OutputError
from chatface_widgets.jobs.batch import DEFAULT_BATCH, ERROR, merge, run

def build_parser(prog: str = "chatface batch") -> argparse.ArgumentParser:
    from chatface_widgets.cli.options import add_settings_arguments

    p = argparse.ArgumentParser(
        prog=prog, formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Apply one edit (a recipe file or a request sentence) to many photos.",
        epilog="""Outputs go under --out with each photo's relative name (.png), written atomically; inputs are
never written. manifest.jsonl in --out gets one line per photo (ok / error / skipped, with the
reason and the time). Run the same command again to do only what is missing or failed.

Several GPUs or machines: the same command under torchrun shards the photos over the ranks:
  torchrun --standalone --nproc_per_node 8 -m chatface_widgets batch RECIPE PHOTOS --out DIR
exit status: 0 all written (or already done), 1 some photos failed or none was written (see the
manifest), 2 error, 130 interrupted (run again to resume).""")
    p.add_argument("recipe", nargs="?", help="a recipe .json (from --save-recipe or the panel) or a request sentence")
    p.add_argument("photos", nargs="*", help="photo files, folders (searched recursively) and globs (quote them)")
    p.add_argument("--out", help="output folder (created)")
    p.add_argument("--model", default=None, help="model name or path (default: the recipe's; for a sentence: toy)")
    p.add_argument("--batch-size", type=int, default=None,
                   help=f"faces per network call (default {DEFAULT_BATCH}, or the one this --out folder was started with)")
    add_settings_arguments(p)  # the same setting flags as `chatface edit`; over a recipe file they replace its own
    p.add_argument("--llm", default="rules", choices=["rules", "openai"], help="interpreter for a request sentence")
    p.add_argument("--device", default=None, help="cpu, cuda or mps (under torchrun with CUDA: cuda:LOCAL_RANK)")
    p.add_argument("--force-builtin", action="store_true", help="built-in model: edit the centre square of other photos")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--merge", metavar="DIR", default=None, help="only merge the manifest parts in DIR and exit")
    return p


def main(argv: Optional[Sequence[str]] = None, prog: str = "chatface batch") -> int:
    from chatface_widgets.cli.main import CLIError

    parser = build_parser(prog)
    args = parser.parse_args(list(sys.argv[1:] if argv is None else argv))
    try:
        return _main(args, parser)
    except KeyboardInterrupt:
        print(f"{prog}: interrupted; photos already written and their manifest lines are kept. Run the same command "
              "again to do only what is missing", file=sys.stderr)
        return 130
    except (OutputError, ValueError, FileNotFoundError, ImportError, CLIError, OSError) as exc:
        print(f"chatface: error: {exc}", file=sys.stderr)
        return 2


def _main(args, parser) -> int:
    from chatface_widgets.cli.options import settings_from_args
    from chatface_widgets.jobs.recipe import Recipe

    if args.merge:
        print(f"merged into {merge(args.merge)}", file=sys.stderr)
        return 0
    if not args.recipe or not args.photos or not args.out:
        parser.error("give RECIPE_OR_REQUEST, one or more PHOTOS and --out DIR (or --merge DIR)")
    from chatface_widgets.foundation.contract import INTERACTIVE_MAX_BATCH

    if args.batch_size is not None and not 1 <= args.batch_size <= INTERACTIVE_MAX_BATCH:
        parser.error(f"--batch-size {args.batch_size}: choose 1 to {INTERACTIVE_MAX_BATCH}")
    flags = settings_from_args(args)  # checked before any work
    from chatface_widgets.engine.devices import pick_device, ranks

    rank, world, local = ranks()
    device = pick_device(args.device, local if world > 1 else None)
    is_file = args.recipe.lower().endswith(".json") or Path(args.recipe).is_file()
    recipe = Recipe.load(args.recipe) if is_file else None
    from chatface_widgets.engine.engine import Engine

    engine = Engine.load(args.model or (recipe.model["name"] if recipe else "toy"), device=str(device))
    if recipe is None:
        recipe = Recipe.from_request(engine, args.recipe[:100_000], llm=args.llm, settings=flags)
        if rank == 0:
            print(f"{args.recipe[:200]!r} -> {recipe.describe()}", file=sys.stderr)
    else:
        given = [k for k in ("steps", "sms", "local", "reach", "face", "keep", "only", "mask")
                 if getattr(args, k, None) is not None]
        if given:
            recipe = Recipe.from_settings(engine, settings_from_args(args, base=recipe.settings),
                                          request=recipe.request, plan=recipe.plan)
            if rank == 0:
                print(f"flags over the recipe: {recipe.describe()}", file=sys.stderr)
    if engine.info.align is False and recipe.settings.face is not None:
        parser.error(f"--face needs a model that finds faces; {engine.info.name!r} does not")
    summary = run(engine, recipe, args.photos, args.out, batch_size=args.batch_size, rank=rank, world=world,
                  force_builtin=args.force_builtin, progress=not args.no_progress)
    failed = summary.counts.get(ERROR, 0)
    written = summary.counts.get("ok", 0) + summary.already
    if world > 1:
        import torch
        import torch.distributed as dist

        totals = torch.tensor([failed, written])
        dist.all_reduce(totals)  # also the barrier: every rank has finished its part
        failed, written = int(totals[0]), int(totals[1])
        if rank == 0:
            summary.manifest = merge(args.out)
        dist.barrier()
        dist.destroy_process_group()
    print(f"chatface batch{f' rank {rank}' if world > 1 else ''}: {summary.line()}", file=sys.stderr)
    if not written and rank == 0:
        print("chatface batch: no photo was written (each failed or was skipped; see the manifest)", file=sys.stderr)
    return 1 if failed or not written else 0


if __name__ == "__main__":
    sys.exit(main())
