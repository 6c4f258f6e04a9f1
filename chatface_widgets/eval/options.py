"""The command-line options every held-out report shares (model, faces, seed, steps), in one place."""

from __future__ import annotations

import argparse


def heldout_parser(module: str, doc: str, seed: int, faces: int = 30) -> argparse.ArgumentParser:
    """A parser for ``python -m chatface_widgets.eval.<module>`` with --model, --faces, --seed and --steps."""
    p = argparse.ArgumentParser(prog=f"python -m chatface_widgets.eval.{module}", description=doc.splitlines()[0])
    p.add_argument("--model", default="toy")
    p.add_argument("--faces", type=int, default=faces)
    p.add_argument("--seed", type=int, default=seed, help="first face is HELDOUT_SEED_START + seed")
    p.add_argument("--steps", type=int, default=None, help="DDIM steps (default: the model's)")
    return p
