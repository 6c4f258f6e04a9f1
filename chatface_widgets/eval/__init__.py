"""Evaluation of edits on held-out toy faces: metrics, the evaluate loop, contact sheet, plots, CLI."""

from chatface_widgets.eval.evaluate import class_mean_direction, evaluate, reconstruction_report
from chatface_widgets.photos.metrics import hit, hit_rate, masked_psnr, psnr, spatial_consistency

__all__ = ["evaluate", "reconstruction_report", "class_mean_direction", "psnr", "masked_psnr",
           "spatial_consistency", "hit", "hit_rate"]
