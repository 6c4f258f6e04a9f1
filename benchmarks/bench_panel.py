"""Panel latency on the built-in model: slider release → final image, chat message → final image.

    OMP_NUM_THREADS=1 python benchmarks/bench_panel.py [--model toy|tiny|PATH] [--repeats 10]

Prints one JSON object. Kernel side only (widget traits set as a front-end message would set them;
the browser's transport and PNG decode are not included). Falls back to the random tiny model,
and says so in "engine", when the built-in weights are not on this machine. Targets: slider ≤ 0.5 s,
chat (rules interpreter) ≤ 1 s.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import threading
import time

import torch

from chatface_widgets.widgets.loading import load_engine
from chatface_widgets.widgets.panel import ChatFacePanel

SLIDER_TARGET_S = 0.5
CHAT_TARGET_S = 1.0
CHAT_MESSAGES = ("add a big smile and glasses", "reset", "make her look older with gray hair", "undo",
                 "remove the glasses", "reset")


def summary(seconds: list[float]) -> dict:
    """Median, 90th percentile and max of a list of durations (seconds, 3 decimals)."""
    ordered = sorted(seconds)
    p90 = ordered[min(len(ordered) - 1, round(0.9 * (len(ordered) - 1)))]
    return {"n": len(ordered), "median": round(statistics.median(ordered), 3), "p90": round(p90, 3),
            "max": round(ordered[-1], 3)}


class FinalImage:
    """Waits for the render of a given state version (or a newer one) to be published."""

    def __init__(self, panel: ChatFacePanel):
        self.panel = panel
        self.cond = threading.Condition()
        self.version = -1
        panel.controller.rendered.connect(self._on_rendered)

    def _on_rendered(self, result) -> None:
        with self.cond:
            self.version = max(self.version, result.snapshot.version)
            self.cond.notify_all()

    def wait(self, version: int, timeout: float = 60.0) -> None:
        with self.cond:
            if not self.cond.wait_for(lambda: self.version >= version, timeout):
                raise TimeoutError(f"no image for state version {version} within {timeout} s")


def bench_sliders(panel: ChatFacePanel, final: FinalImage, repeats: int) -> list[float]:
    """Set a slider (as on release) and time until the matching image is on the panel."""
    times = []
    slider = panel.sliders[panel.state.snapshot().active[0]]
    for i in range(repeats):
        value = round(((i % 8) - 3.5) / 4, 2)
        start = time.perf_counter()
        slider.value = value if slider.value != value else -value
        final.wait(panel.state.version)
        times.append(time.perf_counter() - start)
    return times


def bench_burst(panel: ChatFacePanel, final: FinalImage, moves: int) -> float:
    """Many slider moves in a row; the time from the last move to its image (newest wins)."""
    slider = panel.sliders[panel.state.snapshot().active[1]]
    for i in range(moves):
        slider.value = round((i % 20 - 10) / 10, 2)
    start = time.perf_counter()
    final.wait(panel.state.version)
    return time.perf_counter() - start


def bench_chat(panel: ChatFacePanel, repeats: int) -> list[float]:
    """Send a chat message and time until it is interpreted and its image is shown."""
    times = []
    for i in range(repeats):
        start = time.perf_counter()
        panel.send(CHAT_MESSAGES[i % len(CHAT_MESSAGES)])
        if not panel.wait_idle(60):
            raise TimeoutError("the panel did not become idle")
        times.append(time.perf_counter() - start)
    return times


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None,
                        help="toy (default; tiny when its weights are missing), tiny or a checkpoint path")
    parser.add_argument("--repeats", type=int, default=10)
    args = parser.parse_args(argv)
    engine, note = load_engine(args.model)
    panel = ChatFacePanel(engine=engine)
    if not panel.wait_idle(120):
        raise TimeoutError("the first render did not finish")
    final = FinalImage(panel)
    bench_sliders(panel, final, 2)  # warm-up (x_T inversion, allocator)
    slider = bench_sliders(panel, final, args.repeats)
    burst = bench_burst(panel, final, 30)
    panel.wait_idle(60)
    chat = bench_chat(panel, args.repeats)
    snap = panel.state.snapshot()
    result = {
        "engine": engine.info.name, "fallback_note": note, "image_size": engine.image_size, "steps": snap.steps,
        "sms": snap.sms, "torch_threads": torch.get_num_threads(), "omp_num_threads": os.environ.get("OMP_NUM_THREADS"),
        "slider_release_to_image_s": summary(slider),
        "chat_to_image_s": summary(chat),
        "burst_30_moves_last_to_image_s": round(burst, 3),
        "renders": {k: getattr(panel.controller.stats, k) for k in ("submitted", "started", "completed", "cancelled")},
        "superseded_before_start": panel.controller.stats.submitted - panel.controller.stats.started,
        "targets_s": {"slider": SLIDER_TARGET_S, "chat": CHAT_TARGET_S},
        "met": {"slider": max(slider) <= SLIDER_TARGET_S, "chat": max(chat) <= CHAT_TARGET_S},
        "scope": "kernel side: trait change to image widget updated; excludes browser transport",
    }
    panel.close()
    print(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()
