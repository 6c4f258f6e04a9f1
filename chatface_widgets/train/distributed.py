"""Train many mappers at once: shard a list of recipes over ranks with torch.distributed (one mapper per job).

Mappers are independent, so there is no gradient all-reduce: rank r trains recipes r, r + W, r + 2W, …
on its own device, and the ranks only meet to gather a summary.

    torchrun --standalone --nproc_per_node 8 -m chatface_widgets.train.distributed \\
        --model ffhq256 --recipes recipes.json --images faces/ --id-weights model_ir_se50.pth --iters 2000
"""

from __future__ import annotations

import argparse
import json
import os
from dataclasses import asdict
from pathlib import Path
from typing import Optional, Sequence, TypeVar

import torch
import torch.distributed as dist

from chatface_widgets.engine.devices import pick_device, ranks

T = TypeVar("T")


def shard(items: Sequence[T], rank: int, world: int) -> list[T]:
    """Round-robin share of ``items`` for ``rank`` of ``world``."""
    return list(items[rank::world])




def build_engine_and_judges(args, local_rank: int):
    """The tiny random engine and judges (tests), or a real/toy engine with its judges."""
    device = pick_device(args.device, local_rank)
    from chatface_widgets.engine.engine import Engine

    engine = Engine.load(args.model, device=device)
    if args.model == "tiny":
        from chatface_widgets.train.judges import tiny_random_judges

        return engine, tuple(j.to(engine.device) for j in tiny_random_judges(image_size=engine.image_size))
    from chatface_widgets.train.mapper_trainer import load_judges_for

    return engine, load_judges_for(engine, args)


def main(argv: Optional[Sequence[str]] = None) -> int:
    from chatface_widgets.train.mapper_trainer import folder_images, train_mapper
    from chatface_widgets.train.toy_recipes import recipes_from

    p = argparse.ArgumentParser(description="Shard mapper recipes over torchrun ranks.")
    p.add_argument("--model", default="toy", help="toy, tiny (random test engine), ffhq256, ffhq128 or a path")
    p.add_argument("--recipes", default="toy", help="a model name or folder ('toy': its recipes.json), or a recipes JSON file")
    p.add_argument("--only", nargs="*")
    p.add_argument("--iters", type=int, default=1000)
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--pool-size", type=int, default=64)
    p.add_argument("--images")
    p.add_argument("--judges")
    p.add_argument("--clip-model", default="ViT-B-32")
    p.add_argument("--clip-pretrained", default="openai")
    p.add_argument("--id-weights")
    p.add_argument("--out", required=True)
    p.add_argument("--checkpoint-dir")
    p.add_argument("--summary", help="rank 0 writes the gathered results here (JSON)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device")
    p.add_argument("--threads", type=int)
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)

    rank, world, local = ranks()
    engine, judges = build_engine_and_judges(args, local)
    images = folder_images(args.images, engine.image_size, args.pool_size) if args.images else None
    mine = shard(recipes_from(args.recipes).select(args.only), rank, world)
    done = []
    for r in mine:
        res = train_mapper(engine, r.attribute, r.target, r.source, args.iters, judges, args.out, r.synonyms,
                           batch=args.batch, seed=args.seed, progress=rank == 0, images=images,
                           pool_size=args.pool_size, checkpoint_dir=args.checkpoint_dir)
        done.append({"rank": rank, "recipe": asdict(r), "path": res["path"],
                     "losses": res["card"]["losses"]["final_mean_last_20"]})
    gathered = [done]
    if world > 1:
        gathered = [None] * world
        dist.all_gather_object(gathered, done)
    if rank == 0:
        summary = {"world_size": world, "results": [d for part in gathered for d in part]}
        if args.summary:
            Path(args.summary).write_text(json.dumps(summary, indent=1) + "\n")
        print(json.dumps(summary))
    if dist.is_initialized():
        dist.destroy_process_group()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
