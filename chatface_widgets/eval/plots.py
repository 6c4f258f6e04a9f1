"""Matplotlib figures of an evaluation result: per-attribute metric bars and strength-sweep lines."""

from __future__ import annotations

from pathlib import Path

import numpy as np

BAR_METRICS = ("hit_rate", "id", "sc", "s_dir")  # metrics in [0, 1] (s_dir in [-1, 1]) share one axis


def _pyplot():
    """matplotlib.pyplot on the non-interactive Agg backend."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt


def _value(v) -> float:
    """None (JSON null) → nan."""
    return np.nan if v is None else float(v)


def metrics_figure(result: dict):
    """Grouped bars of hit rate, id, sc and s_dir per attribute, and preservation (dB) beside them."""
    plt = _pyplot()
    attrs = result["attributes"]
    names = list(attrs)
    shown = [m for m in BAR_METRICS if any(attrs[n].get(m) is not None for n in names)]
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(max(8, 1.3 * len(names) + 4), 4), gridspec_kw={"width_ratios": [3, 1.4]})
    x = np.arange(len(names))
    width = 0.8 / max(len(shown), 1)
    for j, m in enumerate(shown):
        ax.bar(x + (j - (len(shown) - 1) / 2) * width, [_value(attrs[n].get(m)) for n in names], width, label=m)
    ax.set_xticks(x, names, rotation=30, ha="right")
    ax.set_ylim(min(0.0, np.nanmin([_value(attrs[n].get("s_dir")) for n in names] + [0.0])), 1.05)
    ax.set_title(f"edits at s = 1 ({result.get('meta', {}).get('faces', '?')} faces)")
    ax.legend(fontsize=8)
    ax2.bar(x, [_value(attrs[n].get("preservation")) for n in names], color="gray")
    ax2.set_xticks(x, names, rotation=30, ha="right")
    ax2.set_title("preservation (PSNR dB)")
    fig.tight_layout()
    return fig


def sweep_figure(result: dict):
    """Mean oracle reading vs strength, one line per attribute (dashed when not monotone)."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 4))
    for name, entry in result["sweep"].items():
        ax.plot(entry["strengths"], [_value(v) for v in entry["mean_reading"]], marker="o",
                linestyle="-" if entry["monotone"] else "--", label=name)
    ax.axhline(0.5, color="k", linewidth=0.8, linestyle=":")
    ax.set_xlabel("strength s")
    ax.set_ylabel("mean oracle reading")
    ax.set_ylim(-0.02, 1.02)
    ax.set_title("strength sweep (faces without the attribute)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def save_plots(result: dict, folder) -> list[Path]:
    """Write ``metrics.png`` and ``sweep.png`` into folder; return their paths."""
    plt = _pyplot()
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, make in (("metrics.png", metrics_figure), ("sweep.png", sweep_figure)):
        fig = make(result)
        fig.savefig(folder / name, dpi=120)
        plt.close(fig)
        paths.append(folder / name)
    return paths
