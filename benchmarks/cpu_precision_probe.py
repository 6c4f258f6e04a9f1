"""Where a reduced-precision CPU render loses accuracy: one ε forward per precision, then T = 8 decodes.

    OMP_NUM_THREADS=1 python benchmarks/cpu_precision_probe.py --arch ffhq128

Prints (1) one UNet forward at t = 500 in float32 (NCHW, channels-last), bf16 and fp16 autocast,
and oneDNN's implicit tf32 / bf16, with its max |Δε| against float32; (2) the error split at
t = 125 between rounding the weights and rounding the activations; (3) T = 8 SMS decodes with
bf16 on the last decoding steps, with and without float32 islands (input conv + output head, and
the last decoder level). Times are process CPU seconds. Random weights as in ``bench``.
"""

from __future__ import annotations

import argparse
import copy
import time

import torch
from torch import nn

from chatface_widgets.bench import runner as bench
from chatface_widgets.engine import speed


class Float32Island(nn.Module):
    """Runs the wrapped module in float32 even inside a bf16 autocast region."""

    def __init__(self, module: nn.Module):
        super().__init__()
        self.module = module

    def forward(self, *args):
        with torch.autocast("cpu", enabled=False):
            return self.module(*[a.float() if torch.is_tensor(a) and a.is_floating_point() else a for a in args])


def cpu_seconds(fn, repeat: int = 3):
    """(best process CPU seconds over ``repeat`` calls after one warm-up, last result)."""
    out = fn()
    best = float("inf")
    for _ in range(repeat):
        start = time.process_time()
        out = fn()
        best = min(best, time.process_time() - start)
    return best, out


def forwards(model, inputs) -> None:
    x, z, t = inputs["x_T"], inputs["z"], torch.tensor([500])
    nhwc = copy.deepcopy(model).to(memory_format=torch.channels_last)
    xc = x.contiguous(memory_format=torch.channels_last)
    base, ref = cpu_seconds(lambda: model(x, t, z))
    print(f"forward t=500  float32 NCHW        {base:.2f} s")
    rows = [("float32 channels-last", lambda: nhwc(xc, t, z))]
    for name, dtype in (("bf16", torch.bfloat16), ("fp16", torch.float16)):
        def run(dtype=dtype):
            with torch.autocast("cpu", dtype=dtype):
                return nhwc(xc, t, z).float()
        rows.append((f"{name} autocast, channels-last", run))
    for name, prec in (("implicit tf32", "tf32"), ("implicit bf16", "bf16")):
        def run(prec=prec):
            saved = torch.backends.mkldnn.fp32_precision
            torch.backends.mkldnn.fp32_precision = prec
            try:
                return nhwc(xc, t, z)
            finally:
                torch.backends.mkldnn.fp32_precision = saved
        rows.append((name, run))
    for name, fn in rows:
        sec, out = cpu_seconds(fn)
        print(f"forward t=500  {name:28s} {sec:.2f} s  ×{base / sec:.2f}  max|Δε| {(out - ref).abs().max().item():.1e}")


def error_split(model, inputs) -> None:
    x, z, t = inputs["x_T"] * 0.5, inputs["z"], torch.tensor([125])
    rounded = copy.deepcopy(model)
    for p in rounded.parameters():
        if p.ndim > 1:
            p.copy_(p.bfloat16().float())
    ref = model(x, t, z)
    print(f"t=125 max|Δε|  weights rounded to bf16 only: {(rounded(x, t, z) - ref).abs().max().item():.1e}")
    with torch.autocast("cpu", dtype=torch.bfloat16):
        print(f"t=125 max|Δε|  bf16 autocast:                {(model(x, t, z).float() - ref).abs().max().item():.1e}")


def with_islands(model, last_level: bool):
    m = copy.deepcopy(model)
    m.input_blocks[0][0] = Float32Island(m.input_blocks[0][0])
    m.out = Float32Island(m.out)
    if last_level:
        per_level = m.config.num_res_blocks + 1
        for k in range(len(m.output_blocks) - per_level, len(m.output_blocks)):
            m.output_blocks[k] = Float32Island(m.output_blocks[k])
    return m


def decodes(model, inputs) -> None:
    base, ref = cpu_seconds(bench.render_job(model, inputs, 8), repeat=1)
    print(f"T=8 decode float32 {base:.2f} s")
    variants = [("plain", model, (0, 125, 250, 375)),
                ("input conv + head float32", with_islands(model, False), (125, 250, 375)),
                ("+ last decoder level float32", with_islands(model, True), (250, 375))]
    for name, m, limits in variants:
        for limit in limits:
            accel = speed.Accelerator(m, "cpu", speed.SpeedOptions(channels_last=True, autocast="bf16",
                                                                    reduced_max_t=limit))
            sec, out = cpu_seconds(bench.render_job(accel, inputs, 8), repeat=1)
            print(f"T=8 bf16 at t<={limit:3d}  {name:30s} {sec:.2f} s  ×{base / sec:.2f}  "
                  f"max_abs_diff {(out - ref).abs().max().item():.2e}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arch", default="ffhq128", choices=bench.ARCHS)
    args = parser.parse_args()
    model, _ = bench.build_model(args.arch, random_weights=True)
    inputs = bench.make_inputs(model, 1, torch.device("cpu"))
    with torch.no_grad():
        forwards(model, inputs)
        error_split(model, inputs)
        decodes(model, inputs)


if __name__ == "__main__":
    main()
