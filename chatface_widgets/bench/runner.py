"""Latency benchmark of rendering (DDIM decode) and opening (encode + inversion), fast path vs float32.

    python -m chatface_widgets.bench render --arch ffhq128 --steps 8 --repeat 2 --baseline --json
    python -m chatface_widgets.bench open --arch toy --steps 8 --repeat 3 --baseline --json

Prints one JSON line. Wall-clock ``ms_*`` are the best of ``--repeat`` runs; ``cpu_ms_*`` are the
process CPU time of the same runs (robust when other programs share the cores). The fast path and
the float32 baseline alternate within one run on the same weights and inputs.
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import sys
import time
from pathlib import Path
from typing import Callable

import torch

from chatface_widgets.engine import speed
from chatface_widgets.diffusion import conditioning, samplers
from chatface_widgets.foundation.steps import check_steps
from chatface_widgets.diffusion.schedule import Schedule, make_schedule
from chatface_widgets.models.diffae import DiffAE, DiffAEConfig

ARCHS = ("tiny", "toy", "ffhq128", "ffhq256")


def arch_config(arch: str) -> DiffAEConfig:
    """The DiffAEConfig of a benchmark architecture name (the catalogue's named configs)."""
    from chatface_widgets.models.configs import NAMED

    return NAMED[arch]


@torch.no_grad()
def randomize(model: DiffAE, seed: int = 0) -> DiffAE:
    """Unit-gain random weights everywhere (N(0, 1/fan_in)), biases N(0, 0.02²), GroupNorm (1, 0)."""
    gen = torch.Generator().manual_seed(seed)
    for p in model.parameters():
        std = p[0].numel() ** -0.5 if p.ndim > 1 else 0.02
        p.copy_(torch.randn(p.shape, generator=gen) * std)
    for module in model.modules():
        if isinstance(module, torch.nn.GroupNorm):
            module.weight.fill_(1.0)
            module.bias.zero_()
    return model


def _stored_weights(arch: str) -> Path | None:
    """A local checkpoint for the arch if the catalogue finds one on disk (never downloads)."""
    from chatface_widgets.engine.catalogue import find

    if arch == "tiny":
        return None
    try:
        return find(arch).weights
    except FileNotFoundError:
        return None


def build_model(arch: str, seed: int = 0, random_weights: bool = False) -> tuple[DiffAE, str]:
    """(eval float32 model, weights description): stored weights when present (unless asked not to), else random."""
    if arch == "tiny":
        from chatface_widgets.engine.catalogue import tiny_network

        return tiny_network(seed), "random (tiny_network)"
    path = None if random_weights else _stored_weights(arch)
    if path is not None:
        from chatface_widgets.models.diffae import load_diffae

        return load_diffae(path), str(path)
    return randomize(DiffAE(arch_config(arch)), seed).eval(), "random"


def make_inputs(model: DiffAE, batch: int, device: torch.device, seed: int = 0) -> dict:
    """Photo x0, its code z, a noise code x_T and one edited code per batch item (a strength strip)."""
    gen = torch.Generator().manual_seed(seed)
    size = model.config.image_size
    x0 = (torch.rand(1, 3, size, size, generator=gen) * 2 - 1).to(device)
    with torch.no_grad():
        z = model.encode(x0)
    direction = torch.randn(1, z.shape[1], generator=gen).to(device)
    strengths = torch.linspace(0.2, 1.0, batch, device=device)[:, None]
    return {"x0": x0, "z": z, "x_T": torch.randn(1, 3, size, size, generator=gen).to(device).expand(batch, -1, -1, -1),
            "z_batch": z.expand(batch, -1), "z_edit": z + strengths * direction * z.std()}


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def time_call(fn: Callable, device: torch.device) -> tuple[float, float, object]:
    """(wall ms, process CPU ms, result) of one call, synchronised on CUDA."""
    _sync(device)
    wall, cpu = time.perf_counter(), time.process_time()
    out = fn()
    _sync(device)
    return (time.perf_counter() - wall) * 1e3, (time.process_time() - cpu) * 1e3, out


# The jobs time the network itself (``net``: a speed.Accelerator or its baseline) through the same
# diffusion-core samplers the Engine uses, so the engine lock and thread policy stay out of the numbers.

def render_job(net: Callable, inputs: dict, schedule: Schedule) -> Callable:
    """A zero-argument render: SMS decode of x_T from z towards z_edit (what a slider release runs)."""
    codes = conditioning.sms(inputs["z_batch"], inputs["z_edit"])
    return lambda: samplers.decode(net, inputs["x_T"], codes, schedule)


def open_job(net: Callable, encode: Callable, inputs: dict, schedule: Schedule) -> Callable:
    """A zero-argument photo open: z = Enc(x0), then x_T by DDIM inversion (both once per photo)."""
    def run():
        with torch.no_grad():
            z = encode(inputs["x0"])
        return samplers.invert(net, inputs["x0"], z, schedule)
    return run


def warmup_job(accel: speed.Accelerator, inputs: dict, baseline: bool) -> Callable:
    """One network call of the fast path (and of the baseline): pays compilation/tracing before timing."""
    x, z = inputs["x_T"], inputs["z_edit"]
    t = torch.full((x.shape[0],), 500, dtype=torch.int64, device=x.device)

    def run():
        with torch.no_grad():
            accel(x, t, z)
            accel(x[:1], t[:1], z[:1])
            accel.encode(inputs["x0"])
            if baseline:
                accel.baseline(x, t, z)
    return run


def peak_mem_mb(device: torch.device) -> float:
    """Peak memory: CUDA allocator peak on GPU, the process's max RSS on CPU."""
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _best(samples: list) -> float | None:
    return round(min(samples), 2) if samples else None


def measure(fast: Callable, base: Callable | None, repeat: int, device: torch.device, warmup: Callable) -> dict:
    """Warm up (one network call each: compiles, traces), alternate the paths ``repeat`` times; best times, diff."""
    warmup_ms, _, _ = time_call(warmup, device)
    walls, cpus, base_walls, base_cpus = [], [], [], []
    ref = None
    for _ in range(repeat):
        wall, cpu, out = time_call(fast, device)
        walls.append(wall)
        cpus.append(cpu)
        if base is not None:
            wall, cpu, ref = time_call(base, device)
            base_walls.append(wall)
            base_cpus.append(cpu)
    result = {"ms_warmup": round(warmup_ms, 2), "ms": _best(walls), "ms_baseline": _best(base_walls),
              "cpu_ms": _best(cpus), "cpu_ms_baseline": _best(base_cpus), "max_abs_diff": None}
    if ref is not None:
        result["max_abs_diff"] = float((out.float() - ref.float()).abs().max())
    return result


def _speedup(base, fast):
    return round(base / fast, 3) if base and fast else None


def run_benchmark(kind: str, arch: str, steps: int = 8, repeat: int = 3, batch: int = 1, device: str = "cpu",
                  baseline: bool = False, mode: str = "auto", overrides: dict | None = None, seed: int = 0,
                  random_weights: bool = False) -> dict:
    """Build the model and inputs, time ``kind`` ('render' or 'open') and return the JSON record."""
    dev = torch.device(device)
    if dev.type == "cuda":
        torch.cuda.reset_peak_memory_stats(dev)
    model, weights = build_model(arch, seed, random_weights)
    model = model.to(dev).eval().requires_grad_(False)
    inputs = make_inputs(model, batch, dev, seed)
    t0 = time.perf_counter()
    accel = speed.prepare(model, dev, mode, **(overrides or {}))
    prepare_ms = (time.perf_counter() - t0) * 1e3
    schedule = make_schedule(check_steps(steps), model.config.prediction)
    if kind == "render":
        fast = render_job(accel, inputs, schedule)
        base = render_job(accel.baseline, inputs, schedule) if baseline else None
    else:
        fast = open_job(accel, accel.encode, inputs, schedule)
        base = open_job(accel.baseline, accel.baseline_encode, inputs, schedule) if baseline else None
    m = measure(fast, base, repeat, dev, warmup_job(accel, inputs, baseline))
    return {
        "bench": kind, "arch": arch, "device": str(dev), "steps": steps, "batch": batch if kind == "render" else 1,
        f"ms_{kind}": m["ms"], "ms_baseline": m["ms_baseline"], "speedup": _speedup(m["ms_baseline"], m["ms"]),
        "max_abs_diff": m["max_abs_diff"], "peak_mem_mb": round(peak_mem_mb(dev), 1),
        "cpu_ms": m["cpu_ms"], "cpu_ms_baseline": m["cpu_ms_baseline"],
        "cpu_speedup": _speedup(m["cpu_ms_baseline"], m["cpu_ms"]),
        "ms_warmup": m["ms_warmup"], "ms_prepare": round(prepare_ms, 1), "mode": mode, "options": accel.name,
        "repeat": repeat, "threads": torch.get_num_threads(), "weights": weights, "torch": torch.__version__,
        "machine": machine_name(dev),
    }


def machine_name(device: torch.device) -> str:
    """CPU model (or GPU name) for the record."""
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _parse_override(text: str) -> tuple[str, object]:
    """'channels_last=1' / 'autocast=bf16' / 'autocast_max_t=250' / 'compile=none' → (name, value)."""
    key, _, value = text.partition("=")
    low = value.lower()
    if low in ("1", "true", "yes", "on"):
        return key, True
    if low in ("0", "false", "no", "off"):
        return key, False
    if low in ("none", ""):
        return key, None
    return key, int(value) if value.isdigit() else value


def build_parser() -> argparse.ArgumentParser:
    """The ``render`` / ``open`` command line."""
    parser = argparse.ArgumentParser(prog="python -m chatface_widgets.bench", description=__doc__.splitlines()[0])
    parser.add_argument("kind", choices=("render", "open"))
    parser.add_argument("--arch", choices=ARCHS, default="toy")
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--baseline", action="store_true", help="also time the plain float32 eager path")
    parser.add_argument("--mode", choices=speed.MODES, default="auto")
    parser.add_argument("--opt", action="append", default=[], metavar="NAME=VALUE",
                        help="override one SpeedOptions field, e.g. --opt autocast=bf16 --opt compile=default")
    parser.add_argument("--threads", type=int, default=None, help="torch.set_num_threads before running")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--random-weights", action="store_true", help="ignore stored checkpoints (toy, ffhq*)")
    parser.add_argument("--json", action="store_true", help="print one JSON line (otherwise key: value lines)")
    return parser


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    record = run_benchmark(args.kind, args.arch, check_steps(args.steps), args.repeat, args.batch, args.device,
                           args.baseline, args.mode, dict(map(_parse_override, args.opt)), args.seed,
                           args.random_weights)
    if args.json:
        print(json.dumps(record), flush=True)
    else:
        for key, value in record.items():
            print(f"{key}: {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
