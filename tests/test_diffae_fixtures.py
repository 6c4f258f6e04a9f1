"""Parity of our DiffAE with the reference implementation, through the golden fixtures."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from chatface_widgets.diffusion import samplers
from chatface_widgets.diffusion.ddim import ddim_step
from chatface_widgets.foundation.steps import base_betas, ddim_timesteps
from chatface_widgets.diffusion.schedule import make_schedule
from chatface_widgets.models.diffae import (AttentionBlock, DiffAE, DiffAEConfig, ResBlock, diffae_from_state_dict,
                                            load_diffae, timestep_embedding)


@pytest.fixture(scope="module")
def tiny(diffae_fixtures):
    path = diffae_fixtures / "diffae_tiny_weights.safetensors"
    # Not an official topology, and no JSON beside it: say what the reference run used (ε, 64 px).
    model = load_diffae(path, config=DiffAEConfig.from_state_dict(load_file(str(path)), image_size=64))
    golden = load_file(str(diffae_fixtures / "diffae_tiny_golden.safetensors"))
    return model, golden


def maxdiff(a, b) -> float:
    return (a.double() - b.double()).abs().max().item()


def test_tiny_topology_is_inferred_with_official_key_order(tiny, diffae_fixtures):
    model, _ = tiny
    stored = load_file(str(diffae_fixtures / "diffae_tiny_weights.safetensors"))
    manifest = json.loads((diffae_fixtures / "manifest_ffhq256_autoenc.json").read_text())["model_state_dict"]
    assert list(model.state_dict()) == list(manifest)  # same 706 names, same order
    assert set(stored) == set(manifest)
    cfg = model.config
    assert (cfg.model_channels, cfg.channel_mult, cfg.num_res_blocks, cfg.attn_levels) == (4, (1, 1, 2, 2, 4, 4), 2, (4,))
    assert cfg.enc_channel_mult == (1, 1, 2, 2, 4, 4, 4) and cfg.enc_attn_levels == (4,)
    assert sum(p.numel() for p in model.parameters()) == 1_044_923
    assert not model.training


def test_tiny_encoder_and_unet(tiny):
    model, g = tiny
    with torch.no_grad():
        assert maxdiff(model.encode(g["input.x0"]), g["encoder.z_sem"]) < 1e-4
        for key in ("t_10_500", "t_999_125"):
            eps = model(g[f"unet.{key}.x_t"], g[f"unet.{key}.t"], g["encoder.z_sem"])
            assert maxdiff(eps, g[f"unet.{key}.eps"]) < 1e-3


def test_respaced_schedule_matches_reference(tiny):
    _, g = tiny
    sched = make_schedule(8)
    assert ddim_timesteps(8) == g["ddim8.timestep_map"].tolist()
    for name in ("alphas_cumprod", "alphas_cumprod_prev", "alphas_cumprod_next", "betas"):
        np.testing.assert_allclose(getattr(sched, name), g[f"ddim8.{name}"].numpy(), rtol=0, atol=1e-15)
    np.testing.assert_allclose(base_betas(), g["base1000.betas"].numpy(), rtol=0, atol=1e-15)
    np.testing.assert_allclose(np.cumprod(1 - base_betas()), g["base1000.alphas_cumprod"].numpy(), rtol=0, atol=1e-15)


def test_tiny_ddim8_encode_chain(tiny):
    model, g = tiny
    states = []
    x_T = samplers.invert(model, g["input.x0"], g["encoder.z_sem"], make_schedule(8), callback=lambda info: states.append(info))
    assert maxdiff(x_T, g["ddim8.encode.xT"]) < 3e-3
    assert [s["i"] for s in states] == list(range(8))


def test_tiny_ddim8_decode_chain_from_stored_xT(tiny):
    model, g = tiny
    seen = []
    x0 = samplers.decode(model, g["ddim8.encode.xT"], g["encoder.z_sem"], make_schedule(8),
                         callback=lambda info: seen.append(info["denoised"]))
    diff = (x0 - g["ddim8.decode.x0_hat"]).abs()
    assert diff.max().item() < 1e-2 and diff.mean().item() < 2e-4
    assert x0.abs().max().item() <= 1.0
    # live-preview predictions are the reference's pred_xstart at each step (first step is exact input)
    assert maxdiff(seen[0], g["ddim8.decode.pred_xstart_t"][0]) < 5e-3


def test_tiny_single_ddim_steps_teacher_forced(tiny):
    """Each decode step fed the reference's state reproduces the reference's next state."""
    model, g = tiny
    sched = make_schedule(8)
    states = g["ddim8.decode.sample_t"]  # after each step, respaced index 7…0
    x = g["ddim8.encode.xT"]
    z = g["encoder.z_sem"]
    with torch.no_grad():
        for k, i in enumerate(reversed(range(8))):
            nxt, x0 = ddim_step(model, x, z, sched, i)
            assert maxdiff(nxt, states[k]) < 5e-4
            assert maxdiff(x0, g["ddim8.decode.pred_xstart_t"][k]) < 5e-3
            x = states[k]


def test_unit_resblock_attention_and_timestep_embedding(diffae_fixtures):
    g = load_file(str(diffae_fixtures / "diffae_units_golden.safetensors"))
    block = ResBlock(128, 64, emb_channels=512, z_channels=512)
    block.load_state_dict({k[len("resblock.weights."):]: v for k, v in g.items() if k.startswith("resblock.weights.")}, strict=True)
    block.eval()
    attn = AttentionBlock(128)
    attn.load_state_dict({k[len("attn.weights."):]: v for k, v in g.items() if k.startswith("attn.weights.")}, strict=True)
    with torch.no_grad():
        x = torch.cat([g["resblock.input.x"], g["resblock.input.lateral"]], dim=1)
        out = block(x, g["resblock.input.emb"], g["resblock.input.cond"])
        assert maxdiff(out, g["resblock.output"]) < 1e-5
        assert maxdiff(attn(g["attn.input"]), g["attn.output"]) < 1e-5
    t = g["timestep_embedding.t"]
    assert maxdiff(timestep_embedding(t, 128), g["timestep_embedding.dim128"]) < 1e-5
    assert maxdiff(timestep_embedding(t, 4), g["timestep_embedding.dim4"]) < 1e-5


@pytest.mark.parametrize("name,params,entries", [("ffhq256_autoenc", 168_492_291, 706), ("ffhq128_autoenc_130M", 128_545_155, 608)])
def test_official_configs_have_official_keys_and_shapes(diffae_fixtures, name, params, entries):
    manifest = json.loads((diffae_fixtures / f"manifest_{name}.json").read_text())
    spec = manifest["model_state_dict"]
    meta = {k: torch.empty(v["shape"], device="meta") for k, v in spec.items()}
    cfg = DiffAEConfig.from_state_dict(meta)
    mc = manifest["model_config"]
    assert cfg.channel_mult == tuple(mc["channel_mult"]) and cfg.enc_channel_mult == tuple(mc["enc_channel_mult"])
    assert cfg.image_size == mc["image_size"] and cfg.z_channels == mc["enc_out_channels"]
    with torch.device("meta"):
        model = DiffAE(cfg)
    sd = model.state_dict()
    assert list(sd) == list(spec)
    assert all(list(sd[k].shape) == spec[k]["shape"] for k in spec)
    assert sum(p.numel() for p in model.parameters()) == params and len(sd) == entries


@pytest.mark.slow  # about 260 s on 2 CPU cores; scripts/test.sh runs it in its second pass
def test_full_size_ffhq256_with_generated_weights(diffae_fixtures):
    """The full 168.5M-parameter ffhq256 network on formula-generated weights (about a minute)."""
    from chatface_widgets.testing.hashinit import hash_state_dict

    spec = json.loads((diffae_fixtures / "diffae_ffhq256_hashinit_spec.json").read_text())["state_dict"]
    sd = hash_state_dict(spec)
    for key in list(spec)[:5]:
        assert abs(sd[key].double().sum().item() - spec[key]["check_sum_f64"]) < 1e-6 * max(1.0, abs(spec[key]["check_sum_f64"]))
    model = diffae_from_state_dict(sd)
    del sd
    g = load_file(str(diffae_fixtures / "diffae_ffhq256_hashinit_golden.safetensors"))
    with torch.no_grad():
        z = model.encode(g["input.x0"])
        assert maxdiff(z, g["encoder.z_sem"]) < 1e-4
        eps = model(g["unet.t500.x_t"], torch.tensor([500]), g["encoder.z_sem"])
        assert maxdiff(eps, g["unet.t500.eps"]) < 1e-3
    x_T = samplers.invert(model, g["input.x0"], g["encoder.z_sem"], make_schedule(8))
    assert maxdiff(x_T, g["ddim8.encode.xT"]) < 3e-3
    x0 = samplers.decode(model, g["ddim8.encode.xT"], g["encoder.z_sem"], make_schedule(8))
    diff = (x0 - g["ddim8.decode.x0_hat"]).abs()
    assert diff.max().item() < 1e-2 and diff.mean().item() < 2e-4
