"""The diffusion core: ε/v/x̂0 conversions, conditioning schedules as data, one DDIM step for every sampler."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from chatface_widgets.diffusion import conditioning, ddim, samplers
from chatface_widgets.diffusion.schedule import (add_noise, eps_from_v, make_schedule, predict_x0, to_eps, v_from_eps,
                                                 v_target)
from chatface_widgets.testing.tiny import TINY_CONFIG, tiny_engine, tiny_model


def _randn(*shape, seed=0):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("alpha_bar", [0.9999, 0.5, 0.02])
def test_eps_v_x0_round_trip(alpha_bar):
    x0, eps = _randn(2, 3, 8, 8, seed=1).clamp(-1, 1), _randn(2, 3, 8, 8, seed=2)
    x_t = add_noise(x0, eps, alpha_bar)
    v = v_target(x0, eps, torch.tensor(alpha_bar))
    torch.testing.assert_close(eps_from_v(v, x_t, alpha_bar), eps, rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(v_from_eps(eps, x_t, alpha_bar), v, rtol=1e-4, atol=2e-3)
    torch.testing.assert_close(predict_x0(x_t, eps, alpha_bar, clip=False), x0, rtol=1e-4, atol=2e-3)
    torch.testing.assert_close(to_eps(v, x_t, alpha_bar, "v"), eps_from_v(v, x_t, alpha_bar))
    assert to_eps(eps, x_t, alpha_bar, "eps") is eps
    assert predict_x0(x_t, eps * 50, alpha_bar).abs().max() <= 1.0  # x̂0 is clipped for sampling


def test_schedule_knows_its_prediction_and_rejects_others():
    eps_schedule, v_schedule = make_schedule(8), make_schedule(8, "v")
    assert (eps_schedule.prediction, v_schedule.prediction, v_schedule.steps) == ("eps", "v", 8)
    assert (eps_schedule.timesteps == v_schedule.timesteps).all()
    with pytest.raises(ValueError, match="prediction"):
        make_schedule(8, "x0")
    with pytest.raises(ValueError, match="nearest valid"):
        make_schedule(37)


def test_sms_is_just_a_code_schedule():
    """A hand-written (i, T) -> z schedule gives exactly what conditioning.sms gives: no SMS branch."""
    model = tiny_model(1)
    z, z_edit = _randn(2, TINY_CONFIG.z_channels, seed=3), _randn(2, TINY_CONFIG.z_channels, seed=4)
    x_T, schedule = _randn(2, 3, 32, 32, seed=5), make_schedule(8)
    custom = lambda i, steps: z + ((i + 1) / steps) * (z_edit - z)  # noqa: E731
    assert torch.equal(samplers.decode(model, x_T, custom, schedule),
                       samplers.decode(model, x_T, conditioning.sms(z, z_edit), schedule))
    assert torch.equal(samplers.decode(model, x_T, z, schedule),
                       samplers.decode(model, x_T, conditioning.constant(z), schedule))


@pytest.mark.parametrize("prediction", ["eps", "v"])
def test_every_sampler_runs_the_one_ddim_step(monkeypatch, prediction):
    model = tiny_model(2, config=dataclasses.replace(TINY_CONFIG, prediction=prediction))
    schedule = make_schedule(8, prediction)
    x0 = _randn(1, 3, 32, 32, seed=6).clamp(-1, 1)
    z = model.encode(x0).detach()
    z_edit = z + 0.5 * _randn(*z.shape, seed=7)
    calls = []

    def counted(*args, **kwargs):
        calls.append(kwargs.get("inverse", False))
        return ddim.ddim_step(*args, **kwargs)

    monkeypatch.setattr(samplers, "ddim_step", counted)
    with torch.no_grad():
        x_T = samplers.invert(model, x0, z, schedule)
        plain = samplers.decode(model, x_T, conditioning.sms(z, z_edit), schedule)
    z_edit.requires_grad_(True)
    differentiable = samplers.decode_differentiable(model, x_T, conditioning.sms(z, z_edit), schedule)
    unchecked = samplers.decode_differentiable(model, x_T, conditioning.sms(z, z_edit), schedule, checkpoint=False)
    assert calls == [True] * 8 + [False] * 24
    assert torch.equal(differentiable.detach(), plain) and torch.equal(unchecked.detach(), plain)
    differentiable.square().sum().backward()
    assert z_edit.grad is not None and z_edit.grad.abs().sum() > 0


def test_engine_low_level_calls_match_the_face_api():
    engine = tiny_engine()
    x0 = _randn(1, 3, 32, 32, seed=8).clamp(-1, 1)
    face = engine.open(((x0[0].permute(1, 2, 0) + 1) * 127.5).round().to(torch.uint8).numpy())
    z = engine.encode(face.x0)
    assert torch.equal(z, face.z)
    x_T = engine.invert(face.x0, z, 8)
    assert torch.equal(x_T, face.noise(8))
    z_edit = face.edit_code({"smile": 0.7})
    assert torch.equal(engine.decode(x_T, conditioning.sms(z, z_edit), 8),
                       face.render_tensor({"smile": 0.7}, steps=8, local=False))
    assert torch.equal(engine.decode(x_T, z_edit, 8), face.render_tensor({"smile": 0.7}, steps=8, sms=False, local=False))
    assert engine.schedule(8).prediction == engine.model.config.prediction
    with pytest.raises(ValueError, match="nearest valid"):
        engine.decode(x_T, z, 37)
