"""The latency benchmark CLI and the speed layer: JSON shape, fast path within 1e-2, 'off' bit-identical."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import torch

from chatface_widgets.bench import runner as bench
from chatface_widgets.engine import speed
from chatface_widgets.diffusion.schedule import make_schedule
from chatface_widgets.testing.tiny import tiny_engine, tiny_model

SCHEDULE = make_schedule(8)  # the tiny model predicts ε

KEYS = {"arch", "device", "steps", "batch", "ms_render", "ms_baseline", "speedup", "max_abs_diff", "peak_mem_mb"}


def _inputs(model, batch=1, seed=0):
    return bench.make_inputs(model, batch, torch.device("cpu"), seed)


def test_render_cli_prints_one_json_line_with_all_keys():
    cmd = [sys.executable, "-m", "chatface_widgets.bench", "render", "--arch", "tiny", "--steps", "8",
           "--repeat", "1", "--baseline", "--json"]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=300, check=True).stdout.strip().splitlines()
    assert len(out) == 1
    record = json.loads(out[0])
    assert KEYS <= set(record)
    assert record["arch"] == "tiny" and record["steps"] == 8 and record["batch"] == 1
    assert record["ms_render"] > 0 and record["ms_baseline"] > 0 and record["peak_mem_mb"] > 0
    assert record["max_abs_diff"] <= 1e-2


def test_open_benchmark_record():
    record = bench.run_benchmark("open", "tiny", steps=8, repeat=1, baseline=True)
    assert record["ms_open"] > 0 and record["max_abs_diff"] <= 1e-2


def test_fast_render_matches_float32_within_tolerance():
    model = tiny_model()
    inputs = _inputs(model, batch=3)
    fast = speed.prepare(model, "cpu", "auto")
    for _ in range(2):  # the second render follows a finished chain: the decode detection must hold
        out = bench.render_job(fast, inputs, SCHEDULE)()
        ref = bench.render_job(model, inputs, SCHEDULE)()
        assert (out - ref).abs().max() <= 1e-2


def test_reduced_precision_only_on_late_decoding_steps():
    model = tiny_model()
    accel = speed.prepare(model, "cpu", "off", autocast="bf16", reduced_max_t=250)
    seen = []
    accel._fast = lambda x, t, z: seen.append(("bf16", int(t[0]))) or model(x, t, z)
    accel._fp32 = lambda x, t, z: seen.append(("fp32", int(t[0]))) or model(x, t, z)
    inputs = _inputs(model)
    bench.open_job(accel, accel.encode, inputs, SCHEDULE)()
    bench.open_job(accel, accel.encode, inputs, SCHEDULE)()  # a second photo: inversion after inversion
    assert {kind for kind, _ in seen} == {"fp32"}
    seen.clear()
    bench.render_job(accel, inputs, SCHEDULE)()
    assert [t for kind, t in seen if kind == "bf16"] == [250, 125, 0]


@pytest.mark.parametrize("options", [{"channels_last": True}, {"autocast": "bf16"}, {"implicit_bf16": True}])
def test_each_option_runs_and_keeps_the_model_untouched(options):
    model = tiny_model()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    inputs = _inputs(model)
    t = torch.full((1,), 875, dtype=torch.int64)
    eps = speed.prepare(model, "cpu", "off", **options)(inputs["x_T"], t, inputs["z"])
    assert eps.dtype == torch.float32 and eps.is_contiguous()
    assert (eps - model(inputs["x_T"], t, inputs["z"])).abs().max() < 0.25  # bf16 is coarse; see BENCHMARKS.md
    after = model.state_dict()
    assert all(torch.equal(before[k], after[k]) and after[k].is_contiguous() for k in before)


def test_off_is_bit_identical_to_the_model():
    model = tiny_model()
    inputs = _inputs(model, batch=2)
    accel = speed.prepare(model, "cpu", mode="off")
    assert accel.options == speed.SpeedOptions()
    assert torch.equal(bench.render_job(accel, inputs, SCHEDULE)(), bench.render_job(model, inputs, SCHEDULE)())
    assert torch.equal(accel.encode(inputs["x0"]), model.encode(inputs["x0"]))


def test_engine_speed_dispatch():
    plain, fast = tiny_engine(), tiny_engine()
    fast.speed = speed.prepare(fast.model, "cpu", "cpu-fast")
    assert plain.speed.options == speed.SpeedOptions()  # Engine(...) default stays the plain model
    x = torch.randn(1, 3, 32, 32)
    t = torch.full((1,), 500, dtype=torch.int64)
    z = torch.randn(1, plain.model.config.z_channels)
    assert torch.equal(plain.speed(x, t, z), plain.model(x, t, z))
    assert (fast.speed(x, t, z) - plain.speed(x, t, z)).abs().max() < 1e-4


def test_unknown_modes_and_options_are_rejected():
    with pytest.raises(ValueError, match="unknown speed mode"):
        speed.prepare(tiny_model(), "cpu", mode="warp")
    with pytest.raises(ValueError, match="CUDA"):
        speed.prepare(tiny_model(), "cpu", mode="off", cuda_graph=True)
    with pytest.raises(TypeError):
        speed.prepare(tiny_model(), "cpu", mode="off", turbo=True)


def test_official_topologies_have_the_published_sizes():
    with torch.device("meta"):
        sizes = {arch: sum(p.numel() for p in bench.DiffAE(bench.arch_config(arch)).parameters())
                 for arch in ("ffhq128", "ffhq256")}
    assert sizes == {"ffhq128": 128_545_155, "ffhq256": 168_492_291}


def test_random_weights_are_not_trivial():
    model = bench.randomize(bench.DiffAE(bench.arch_config("tiny")))
    norms = [m.weight for m in model.modules() if isinstance(m, torch.nn.GroupNorm)]
    assert all(torch.equal(w, torch.ones_like(w)) for w in norms)
    assert model.out[2].weight.abs().min() > 0  # the zero-initialised output conv gets values too
    inputs = _inputs(model)
    assert bench.render_job(model, inputs, SCHEDULE)().std() > 0.05


def test_engine_load_speed_modes_agree(tmp_path):
    from chatface_widgets.engine.engine import Engine
    from chatface_widgets.testing.tiny import save_tiny_model
    from chatface_widgets.toy import sample_photo

    folder = save_tiny_model(tmp_path / "m")
    images = []
    for mode in ("off", "auto"):
        engine = Engine.load(str(folder), device="cpu", speed=mode)
        face = engine.open(sample_photo(0, size=32))
        images.append(face.render_tensor({"smile": 0.7}, steps=8))
    assert (images[0] - images[1]).abs().max() <= 1e-2
