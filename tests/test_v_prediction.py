"""v-predicting DiffAEs (the built-in model): the network returns v, the schedule reads it as ε, the trainer's target agrees."""

from __future__ import annotations

import dataclasses
import json

import pytest
import torch

from chatface_widgets.diffusion.schedule import eps_from_v, make_schedule, predict_x0, v_target
from chatface_widgets.models.diffae import DiffAEConfig, load_diffae, save_diffae
from chatface_widgets.testing.tiny import TINY_CONFIG, tiny_model
from chatface_widgets.train.diffae_trainer import TrainSettings, alpha_bar_table, train

V_CONFIG = dataclasses.replace(TINY_CONFIG, prediction="v")


def _inputs(batch=3, seed=0):
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(batch, 3, 32, 32, generator=gen)
    z = torch.randn(batch, TINY_CONFIG.z_channels, generator=gen)
    return x, z


def test_forward_returns_v_and_the_schedule_reads_it_as_eps():
    model = tiny_model(config=V_CONFIG)
    x_t, z = _inputs()
    t = torch.tensor([0, 500, 950])
    ab = alpha_bar_table()[t].float()[:, None, None, None]
    with torch.no_grad():
        v = model(x_t, t, z)
    eps = torch.cat([eps_from_v(v[i:i + 1], x_t[i:i + 1], float(alpha_bar_table()[t[i]])) for i in range(3)])
    torch.testing.assert_close(eps, ab.sqrt() * v + (1 - ab).sqrt() * x_t, rtol=1e-5, atol=1e-5)
    # the sampler's x̂0 from that ε is √ā·x_t − √(1−ā)·v, the v-parametrisation's own x̂0
    for i in range(3):
        x0 = predict_x0(x_t[i:i + 1], eps[i:i + 1], float(ab[i]), clip=False)
        expect = ab[i].sqrt() * x_t[i:i + 1] - (1 - ab[i]).sqrt() * v[i:i + 1]
        torch.testing.assert_close(x0, expect, rtol=1e-4, atol=1e-4)


def test_v_loss_is_eps_loss_weighted_by_one_plus_inverse_snr():
    x0, _ = _inputs(seed=1)
    noise, guess = _inputs(seed=2)[0], _inputs(seed=3)[0]
    ab = alpha_bar_table()[torch.tensor([50, 500, 900])].float()[:, None, None, None]
    x_t = ab.sqrt() * x0 + (1 - ab).sqrt() * noise
    v_err = (guess - v_target(x0, noise, ab)).pow(2).mean(dim=(1, 2, 3))
    eps = torch.cat([eps_from_v(guess[i:i + 1], x_t[i:i + 1], float(ab[i])) for i in range(3)])
    eps_err = (eps - noise).pow(2).mean(dim=(1, 2, 3))
    snr = (ab / (1 - ab)).view(-1)
    torch.testing.assert_close(v_err, eps_err * (1 + 1 / snr), rtol=1e-3, atol=0)


def test_config_round_trips_and_rejects_unknown_prediction(tmp_path):
    model = tiny_model(config=V_CONFIG)
    path = save_diffae(model, tmp_path / "m.safetensors")
    assert json.loads(path.with_suffix(".json").read_text())["config"]["prediction"] == "v"
    loaded = load_diffae(path)
    assert loaded.config.prediction == "v"
    assert not any("v_coefs" in k for k, _ in loaded.named_buffers())  # the network knows no schedule
    x_t, z = _inputs()
    t = torch.tensor([10, 400, 875])
    with torch.no_grad():
        torch.testing.assert_close(loaded(x_t, t, z), model(x_t, t, z))
    with pytest.raises(ValueError, match="prediction"):
        DiffAEConfig(prediction="x0")


def test_bf16_autocast_still_gives_the_sampler_float32_eps():
    model = tiny_model(config=V_CONFIG)
    x_t, z = _inputs()
    schedule = make_schedule(8, "v")
    t = torch.full((3,), int(schedule.timesteps[2]))
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        eps = schedule.to_eps(model(x_t, t, z), x_t, 2)
    assert eps.dtype == torch.float32


def test_trainer_switches_and_keeps_prediction(tmp_path):
    settings = TrainSettings(image_size=32, images_per_batch=2, warmup_steps=2, bf16=False)
    train(tmp_path / "run", minutes=0.02, settings=settings, config=TINY_CONFIG, log_every=1)
    eps_ck = torch.load(tmp_path / "run" / "ckpt.pt", weights_only=True)
    assert eps_ck["config"]["prediction"] == "eps"
    train(tmp_path / "run", minutes=0.02, settings=settings, config=TINY_CONFIG, log_every=1, prediction="v")
    train(tmp_path / "run", minutes=0.02, settings=settings, config=TINY_CONFIG, log_every=1)  # no flag: keeps v
    ck = torch.load(tmp_path / "run" / "ckpt.pt", weights_only=True)
    assert ck["config"]["prediction"] == "v"
    assert [h["prediction"] for h in ck["state"]["history"]] == ["eps", "v", "v"]
