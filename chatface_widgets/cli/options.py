"""The render-setting flags that ``chatface edit`` and ``chatface batch`` share, and the settings they build.

    add_settings_arguments(parser)
    settings = settings_from_args(args, base=RenderSettings())   # a flag not given keeps base's value
"""

from __future__ import annotations

import argparse
from typing import Optional

from chatface_widgets.foundation.contract import INTERACTIVE_MAX_STEPS, LOCAL_REACH, LOCAL_REACH_MAX
from chatface_widgets.foundation.settings import RenderSettings, SettingsError
from chatface_widgets.foundation.where import PART_NAMES


def add_settings_arguments(parser: argparse.ArgumentParser) -> None:
    """--steps, --no-sms/--sms, --local/--no-local/--auto-local, --reach, --face (each None when not given)."""
    parser.add_argument("--steps", type=int, default=None,
                        help=f"DDIM steps, a valid count up to {INTERACTIVE_MAX_STEPS} (default: the request's or the model's)")
    parser.add_argument("--no-sms", dest="sms", action="store_false", default=None,
                        help="z_edit at every step instead of SMS (ChatFace Eq. 13)")
    parser.add_argument("--sms", dest="sms", action="store_true", default=None, help=argparse.SUPPRESS)
    local = parser.add_mutually_exclusive_group()
    local.add_argument("--local", dest="local", action="store_const", const="on", default=None,
                       help="always keep the photo's own pixels outside the edited region")
    local.add_argument("--no-local", dest="local", action="store_const", const="off",
                       help="edit globally (the whole face is re-rendered)")
    local.add_argument("--auto-local", dest="local", action="store_const", const="auto",
                       help="local unless the region covers most of the image (the default)")
    parser.add_argument("--reach", type=float, default=None, metavar="R",
                        help=f"how far a local region reaches past the edit, a fraction of the side, 0 to "
                             f"{LOCAL_REACH_MAX:g} (default {LOCAL_REACH:g})")
    parser.add_argument("--face", type=int, default=None, metavar="N",
                        help="which face to edit when a photo has several: 1 = the largest (default)")
    parser.add_argument("--keep", action="append", default=None, metavar="PART",
                        help=f"leave this part as it is (repeatable): {', '.join(PART_NAMES)}")
    parser.add_argument("--only", action="append", default=None, metavar="PART",
                        help="limit the edit to this part (repeatable: to these parts)")
    parser.add_argument("--mask", default=None, metavar="FILE",
                        help="an image: white = the edit may act, black = the photo stays (alpha, or gray; soft edges "
                             "allowed), of the photo's size or the face's")


def settings_from_args(args, base: Optional[RenderSettings] = None, planned_steps: Optional[int] = None) -> RenderSettings:
    """``base`` (default settings, or a recipe's) with every flag that was given; SettingsError naming the flag.

    ``planned_steps``: the interpreter's step count, used when neither --steps nor ``base`` sets one.
    """
    base = base or RenderSettings()
    changes = {}
    if args.steps is not None:
        changes["steps"] = args.steps
    elif base.steps is None and planned_steps is not None:
        changes["steps"] = planned_steps
    if args.sms is not None:
        changes["sms"] = args.sms
    if args.local is not None:
        changes["local"] = args.local
    if args.reach is not None:
        changes["reach"] = args.reach
    if args.face is not None:
        if args.face < 1:
            raise SettingsError(f"--face {args.face}: faces are numbered from 1 (1 is the largest)")
        changes["face"] = args.face - 1
    for name in ("keep", "only"):
        given = getattr(args, name, None)
        if given:
            changes[name] = tuple(getattr(base, name)) + tuple(p.strip().lower() for p in given)
    if getattr(args, "mask", None) is not None:
        changes["mask"] = _read_mask(args.mask)
    try:
        return base.updated(**changes)
    except SettingsError as exc:
        flag = next((f"--{k}" for k in changes if k in str(exc)), "a flag")
        raise SettingsError(f"{flag}: {exc}") from None


def _read_mask(path: str):
    """The --mask file as a PaintedMask; SettingsError naming the file and the fix."""
    from chatface_widgets.engine.masks import as_mask

    try:
        return as_mask(path)
    except (OSError, ValueError) as exc:
        raise SettingsError(f"--mask {path}: cannot read it as a mask image ({exc}); give a PNG, white where the "
                            "edit may act") from None
