"""``chatface eval``: evaluate a model's edits on held-out toy faces and write JSON, a sheet and plots."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch


def build_parser() -> argparse.ArgumentParser:
    """Arguments of ``chatface eval``."""
    p = argparse.ArgumentParser(prog="chatface eval", description="Evaluate edits on held-out toy faces with the attribute oracle.")
    p.add_argument("--model", default="toy", help="model name or checkpoint path (default: toy)")
    p.add_argument("--faces", type=int, default=20, help="held-out faces to evaluate")
    p.add_argument("--seed", type=int, default=0, help="first face is HELDOUT_SEED_START + seed")
    p.add_argument("--steps", type=int, default=None, help="DDIM steps (default: the model's)")
    p.add_argument("--attributes", default=None, help="comma-separated attributes (default: all the oracle reads)")
    p.add_argument("--oracle", type=Path, default=None, help="folder with oracle.safetensors (default: beside the model)")
    p.add_argument("--judges", type=Path, default=None, help="folder for load_toy_judges (default: the oracle's folder)")
    p.add_argument("--no-judges", action="store_true", help="skip CLIP / identity judges (oracle identity only)")
    p.add_argument("--local", choices=("off", "auto", "on"), default="off",
                   help="local mode of the edits measured (default off: global edits, as the paper reports them; "
                        "`python -m chatface_widgets.eval.local` compares global and local side by side)")
    p.add_argument("--no-recon", action="store_true", help="skip the reconstruction and class-mean reports")
    p.add_argument("--class-mean-per-class", type=int, default=200, help="training faces per class for the glasses test")
    p.add_argument("--no-truth", action="store_true", help="skip the true-picture report (eval/truth.py)")
    p.add_argument("--truth-faces", type=int, default=None, help="faces of the true-picture report (default: --faces)")
    p.add_argument("--json", type=Path, default=None, help="write the result here")
    p.add_argument("--sheet", type=Path, default=None, help="write the contact sheet PNG here")
    p.add_argument("--sheet-faces", type=int, default=8, help="rows of the sheet")
    p.add_argument("--plots", type=Path, default=None, help="folder for metrics.png and sweep.png")
    p.add_argument("--device", default=None, help="torch device (default: CUDA, MPS, then CPU)")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    return p


def load_judges(folder: Path):
    """(ClipJudge, IdentityJudge) from ``chatface_widgets.train.judges``, or None when unavailable."""
    try:
        from chatface_widgets.train.judges import load_toy_judges
    except ImportError:
        return None
    try:
        return load_toy_judges(folder)
    except ImportError as exc:  # the toy CLIP is an open_clip model: the [clip] extra
        print(f"judges unavailable ({exc.name or exc} is not installed: the [clip] extra, see scripts/setup.sh); "
              f"identity falls back to the oracle and s_dir is not measured", file=sys.stderr)
        return None
    except (FileNotFoundError, OSError) as exc:
        print(f"judges unavailable ({exc}); identity falls back to the oracle", file=sys.stderr)
        return None


def _fmt(v) -> str:
    """Number or null for the summary table."""
    return "  n/a" if v is None else f"{v:5.2f}" if abs(v) < 10 else f"{v:5.1f}"


def summary(result: dict) -> str:
    """Plain-text table of the per-attribute metrics and the acceptance numbers."""
    meta = result.get("meta", {})
    lines = [f"edits at strength {meta.get('strength', 1.0)}, {meta.get('steps')} steps, local {meta.get('local', 'off')} "
             f"(reconstruction: the model's own decode, never local)",
             f"{'attribute':17s} {'hit':>5s} {'id':>5s} {'s_dir':>5s} {'sc':>5s} {'pres':>5s}  eligible (unattainable)"]
    for name, m in result["attributes"].items():
        shown = m.get("texture_hit_rate")
        lines.append(f"{name:17s} {_fmt(m['hit_rate'])} {_fmt(m['id'])} {_fmt(m['s_dir'])} {_fmt(m['sc'])} "
                     f"{_fmt(m['preservation'])}  {m['eligible_faces']} ({m.get('unattainable_faces', 0)})"
                     + (f"  hits that show the texture: {_fmt(shown)}" if shown is not None else ""))
    for variant, m in result["sms_ablation"].items():
        lines.append(f"{'mean ' + variant:17s} {_fmt(m['hit_rate'])} {_fmt(m['id'])} {_fmt(m['s_dir'])} {_fmt(m['sc'])} "
                     f"{_fmt(m['preservation'])}")
    if "recon" in result:
        r = result["recon"]
        psnr = ", ".join(f"T={t}: {v:.2f} dB" for t, v in r["psnr"].items() if v is not None)
        lines.append(f"reconstruction PSNR {psnr}; random x_T attribute retention {r['random_xT_retention']:.3f}")
    if "class_mean_glasses" in result:
        c = result["class_mean_glasses"]
        lines.append(f"class-mean glasses direction: {_fmt(c['hit_fraction'])} of {c['faces']} faces")
    lines.append(f"identity: {result['meta']['identity']}; CLIP judge: {result['meta']['clip']}; "
                 f"{result['meta']['seconds']:.0f} s")
    return "\n".join(lines)


def main(argv=None) -> int:
    """Run the evaluation; return a process exit code."""
    from chatface_widgets.engine.engine import Engine
    from chatface_widgets.toy.oracle import load_oracle
    from chatface_widgets.eval.evaluate import default_oracle_folder, evaluate
    from chatface_widgets.eval.plots import save_plots
    from chatface_widgets.eval.sheet import save_sheet

    args = build_parser().parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    engine = Engine.load(args.model, device=args.device)
    oracle_folder = args.oracle or default_oracle_folder(engine)
    oracle = load_oracle(oracle_folder)
    judges = None if args.no_judges else load_judges(args.judges or oracle_folder)
    attributes = [a.strip() for a in args.attributes.split(",")] if args.attributes else None
    rows = [] if args.sheet else None
    result = evaluate(engine, faces=args.faces, seed=args.seed, steps=args.steps, judges=judges, oracle=oracle,
                      attributes=attributes, progress=not args.quiet, images=rows, recon=not args.no_recon,
                      class_mean=not args.no_recon, class_mean_per_class=args.class_mean_per_class,
                      local=args.local)
    if not args.no_truth:
        from chatface_widgets.eval.truth import truth_report

        result["truth"] = truth_report(engine, args.truth_faces or args.faces, args.seed, args.steps, oracle=oracle,
                                       attributes=attributes)
    result["meta"]["command"] = "chatface eval " + " ".join(sys.argv[1:] if argv is None else argv)
    result["meta"]["oracle"] = str(oracle_folder)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    if args.sheet:
        save_sheet(rows[: args.sheet_faces], args.sheet)
    if args.plots:
        save_plots(result, args.plots)
    print(summary(result))
    if "truth" in result:
        from chatface_widgets.eval.truth import summary as truth_summary

        print("\nagainst the true picture (the renderer's face with the attribute at 1), local edits off and auto:")
        print(truth_summary(result["truth"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
