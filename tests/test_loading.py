"""load_diffae on every file layout users bring, and the errors they get when a file is wrong."""

from __future__ import annotations

import contextlib
import json
import os
import pickle
import sys
import types

import pytest
import torch
from safetensors.torch import save_file

from chatface_widgets.cli.main import main as cli_main
from chatface_widgets.models.checkpoint_io import CheckpointError, NonFiniteWeightsError, check_finite
from chatface_widgets.models.diffae import (OFFICIAL_CONFIGS, DiffAE, DiffAEConfig, ModelCardError, StateDictMismatch,
                                            UnidentifiedCheckpointError, _config_from_card_or_weights, load_diffae,
                                            save_diffae)
from chatface_widgets.testing.tiny import tiny_model


@pytest.fixture(scope="module")
def reference():
    model = tiny_model(3)
    x = torch.rand(2, 3, 32, 32) * 2 - 1
    t = torch.tensor([10, 700])
    with torch.no_grad():
        z = model.encode(x)
        eps = model(x, t, z)
    return model, x, t, z, eps


def write_card(weights_path, **settings):
    """The JSON a user adds beside weights that are not an official topology (what the error asks for)."""
    card = {"prediction": "eps", "image_size": 32, "default_steps": 8, **settings}
    weights_path.with_suffix(".json").write_text(json.dumps(card))


def assert_same_network(loaded, reference):
    _, x, t, z, eps = reference
    assert not loaded.training
    assert next(loaded.parameters()).dtype == torch.float32
    with torch.no_grad():
        assert torch.equal(loaded.encode(x), z)
        assert torch.equal(loaded(x, t, z), eps)


def test_bare_safetensors_with_settings_only_json_infers_topology(tmp_path, reference):
    model = reference[0]
    path = tmp_path / "bare.safetensors"
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(path))
    write_card(path)
    loaded = load_diffae(path)
    assert loaded.config.channel_mult == model.config.channel_mult
    assert loaded.config.attn_levels == model.config.attn_levels
    assert_same_network(loaded, reference)


def test_bare_pt_state_dict(tmp_path, reference):
    path = tmp_path / "bare.pt"
    torch.save(reference[0].state_dict(), path)
    write_card(path)
    assert_same_network(load_diffae(path), reference)


def test_lightning_ckpt_uses_ema_and_ignores_garbage_raw_weights_and_extras(tmp_path, reference, capsys):
    model = reference[0]
    sd = {}
    for k, v in model.state_dict().items():
        sd[f"model.{k}"] = torch.randn_like(v) * 100  # garbage: must not be used
        sd[f"ema_model.{k}"] = v.clone()
    sd["x_T"] = torch.randn(4, 3, 32, 32)
    sd["conds_mean"] = torch.zeros(1, 32)
    sd["conds_std"] = torch.ones(1, 32)
    ckpt = {"state_dict": sd, "global_step": 1234, "epoch": 3, "pytorch-lightning_version": "1.4.5",
            # Lightning files name Lightning's own classes; they are read as inert stand-ins, never imported.
            "hyper_parameters": {"conf": _FakeLightningDict(lr=1e-4, name="ffhq256_autoenc")}}
    path = tmp_path / "last.ckpt"
    with _fake_lightning_module():
        torch.save(ckpt, path)
    write_card(path)
    loaded = load_diffae(path, verbose=True)
    assert_same_network(loaded, reference)
    report = capsys.readouterr().out
    assert "ema_model" in report and "x_T" in report and "conds_mean" in report


class _FakeLightningDict(dict):
    """Stands for pytorch_lightning's AttributeDict, which real hyper_parameters carry."""


@contextlib.contextmanager
def _fake_lightning_module():
    """Make _FakeLightningDict picklable as ``pytorch_lightning.utilities.parsing.AttributeDict``."""
    names = ("pytorch_lightning", "pytorch_lightning.utilities", "pytorch_lightning.utilities.parsing")
    modules = {name: types.ModuleType(name) for name in names}
    modules[names[-1]].AttributeDict = _FakeLightningDict
    old = (_FakeLightningDict.__module__, _FakeLightningDict.__qualname__)
    _FakeLightningDict.__module__, _FakeLightningDict.__qualname__ = names[-1], "AttributeDict"
    sys.modules.update(modules)
    try:
        yield
    finally:
        for name in names:
            sys.modules.pop(name, None)
        _FakeLightningDict.__module__, _FakeLightningDict.__qualname__ = old


class _Exploit:
    def __reduce__(self):
        return (os.system, ("touch " + str(_Exploit.marker),))


def test_pickled_code_is_never_run(tmp_path, reference):
    marker = tmp_path / "pwned"
    _Exploit.marker = marker
    sd = {f"ema_model.{k}": v for k, v in reference[0].state_dict().items()}
    path = tmp_path / "evil.ckpt"
    with open(path, "wb") as fh:
        torch.save({"state_dict": sd, "hyper_parameters": _Exploit()}, fh, pickle_protocol=2)
    with pytest.raises(CheckpointError, match="refusing"):
        load_diffae(path)
    assert not marker.exists()


def test_missing_and_unexpected_keys_are_listed(tmp_path, reference):
    sd = dict(reference[0].state_dict())
    sd.pop("out.2.weight")
    sd["input_blocks.1.0.bogus.weight"] = torch.zeros(3)
    path = tmp_path / "broken.pt"
    torch.save(sd, path)
    with pytest.raises((StateDictMismatch, ValueError)) as info:
        load_diffae(path)
    assert "out.2.weight" in str(info.value)


def test_shape_mismatch_against_explicit_config_is_reported(tmp_path, reference):
    path = tmp_path / "m.pt"
    torch.save(reference[0].state_dict(), path)
    write_card(path)
    wrong = DiffAEConfig(**{**reference[0].config.to_json(), "model_channels": 32})
    with pytest.raises(StateDictMismatch) as info:
        load_diffae(path, config=wrong)
    assert "wrong shape" in str(info.value)


def test_not_a_checkpoint_is_a_clear_error(tmp_path):
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"this is not a checkpoint")
    with pytest.raises(CheckpointError):
        load_diffae(junk)
    with pytest.raises(FileNotFoundError):
        load_diffae(tmp_path / "missing.safetensors")


def test_convert_cli_writes_ema_only_safetensors_with_config(tmp_path, reference):
    model = reference[0]
    sd = {**{f"model.{k}": torch.zeros_like(v) for k, v in model.state_dict().items()},
          **{f"ema_model.{k}": v for k, v in model.state_dict().items()}}
    src = tmp_path / "last.ckpt"
    torch.save({"state_dict": sd, "global_step": 1}, src)
    write_card(src)
    dst = tmp_path / "out" / "model.safetensors"
    assert cli_main(["convert", str(src), str(dst)]) == 0
    assert dst.is_file() and dst.with_suffix(".json").is_file()
    assert_same_network(load_diffae(dst), reference)
    half = tmp_path / "half.safetensors"
    assert cli_main(["convert", str(src), str(half), "--half"]) == 0
    assert half.stat().st_size < dst.stat().st_size * 0.6
    loaded = load_diffae(half)
    assert next(loaded.parameters()).dtype == torch.float32


def test_save_and_reload_roundtrip_keeps_config(tmp_path, reference):
    path = save_diffae(reference[0], tmp_path / "m.safetensors")
    assert load_diffae(path).config == reference[0].config


# --- A checkpoint without its config: identified (official topology) or refused with the JSON to add ---


def test_weights_without_config_are_refused_with_the_json_to_add(tmp_path, reference):
    path = tmp_path / "mine.safetensors"
    save_file({k: v.contiguous() for k, v in reference[0].state_dict().items()}, str(path))
    with pytest.raises(UnidentifiedCheckpointError) as info:
        load_diffae(path)
    message = str(info.value)
    assert str(path) in message and str(tmp_path / "mine.json") in message and "\n" not in message
    assert all(field in message for field in ('"prediction"', '"image_size"', '"default_steps"'))
    assert cli_main(["convert", str(path), str(tmp_path / "out.safetensors")]) == 2
    assert not (tmp_path / "out.safetensors").exists()
    write_card(path, prediction="v", image_size=48, default_steps=10)
    cfg = load_diffae(path).config
    assert (cfg.prediction, cfg.image_size, cfg.default_steps) == ("v", 48, 10)
    assert cfg.channel_mult == reference[0].config.channel_mult


@pytest.mark.parametrize("name", sorted(OFFICIAL_CONFIGS))
def test_official_topologies_match_the_reference_manifests(name, diffae_fixtures):
    manifest = json.loads((diffae_fixtures / f"manifest_{name}.json").read_text())
    with torch.device("meta"):
        sd = DiffAE(OFFICIAL_CONFIGS[name]).state_dict()
    assert {k: list(v.shape) for k, v in sd.items()} == {k: e["shape"] for k, e in manifest["model_state_dict"].items()}
    assert sum(v.numel() for v in sd.values()) == manifest["param_count"]["total"]
    assert OFFICIAL_CONFIGS[name].image_size == manifest["model_config"]["image_size"]


@pytest.mark.parametrize("name", sorted(OFFICIAL_CONFIGS))
def test_official_topology_needs_no_json_and_is_eps(name, tmp_path):
    with torch.device("meta"):  # shapes only: the identification reads no values
        sd = DiffAE(OFFICIAL_CONFIGS[name]).state_dict()
    cfg, official = _config_from_card_or_weights(tmp_path / "last.ckpt", sd, {}, tmp_path / "last.json", False)
    assert official == name and cfg == OFFICIAL_CONFIGS[name] and cfg.prediction == "eps"
    # a JSON beside it may still change the settings (e.g. a fine-tune that predicts v)
    cfg, _ = _config_from_card_or_weights(tmp_path / "last.ckpt", sd, {"prediction": "v"}, tmp_path / "last.json", True)
    assert cfg.prediction == "v" and cfg.image_size == OFFICIAL_CONFIGS[name].image_size


# --- Non-finite weights are refused when loading and converting (issue 17.13) ---


@pytest.mark.parametrize("damage", ["all-nan", "all-inf", "one-nan"])
def test_non_finite_weights_are_refused_on_load_and_convert(tmp_path, reference, damage):
    sd = {k: v.clone() for k, v in reference[0].state_dict().items()}
    bad = "input_blocks.1.0.in_layers.2.weight"
    if damage == "all-nan":
        sd = {k: torch.full_like(v, float("nan")) for k, v in sd.items()}
        bad = sorted(sd)[0]  # safetensors stores tensors sorted by name
    elif damage == "all-inf":
        sd = {k: torch.full_like(v, float("inf")) for k, v in sd.items()}
        bad = sorted(sd)[0]
    else:
        sd[bad].view(-1)[3] = float("nan")
    path = tmp_path / "w.safetensors"
    save_file(sd, str(path))
    write_card(path)
    with pytest.raises(NonFiniteWeightsError) as info:
        load_diffae(path)
    assert str(path) in str(info.value) and repr(bad) in str(info.value)
    dst = tmp_path / "out.safetensors"
    assert cli_main(["convert", str(path), str(dst)]) == 2
    assert not dst.exists() and not dst.with_suffix(".json").exists()


def test_check_finite_passes_large_finite_values():
    check_finite({"big": torch.full((4,), 3e38), "half": torch.full((70000,), 60000.0, dtype=torch.float16)})


def test_save_refuses_non_finite_weights_and_writes_nothing(tmp_path):
    model = tiny_model(1)
    with torch.no_grad():
        next(model.parameters()).view(-1)[0] = float("inf")
    with pytest.raises(NonFiniteWeightsError):
        save_diffae(model, tmp_path / "m.safetensors")
    assert list(tmp_path.iterdir()) == []


# --- Hostile pickles and broken side files: one-line errors that name the file (17.14, 17.16) ---


class _StorageBomb:
    def __reduce__(self):
        return (torch.FloatStorage, (2_500_000_000,))


@pytest.mark.parametrize("lightning", [False, True])
def test_pickle_calling_a_storage_type_is_a_clear_refusal(tmp_path, lightning):
    path = tmp_path / "bomb.ckpt"
    ckpt = {"state_dict": {"w": _StorageBomb()}}
    if lightning:  # names a Lightning global first, so the restricted unpickler reads the rest
        ckpt = {"hyper_parameters": _FakeLightningDict(a=1), **ckpt}
    with _fake_lightning_module():
        torch.save(ckpt, path)
    with pytest.raises(CheckpointError) as info:
        load_diffae(path)
    message = str(info.value)
    assert message.startswith(f"{path}: refusing to load") and "TypeError" not in message and "\n" not in message


@pytest.mark.parametrize("lightning", [False, True])
def test_plain_pickle_is_refused_with_the_fix(tmp_path, lightning):
    path = tmp_path / "old.pt"
    obj = {"w": torch.zeros(2), **({"hyper_parameters": _FakeLightningDict(a=1)} if lightning else {})}
    with open(path, "wb") as fh, _fake_lightning_module():
        pickle.dump(obj, fh)
    with pytest.raises(CheckpointError) as info:
        load_diffae(path)
    message = str(info.value)
    assert message.startswith(f"{path}: not a checkpoint written by torch.save") and "torch.save(state_dict" in message
    assert "Expected input" not in message and "\n" not in message


def test_broken_json_card_names_the_file(tmp_path, reference, capsys):
    path = tmp_path / "m.safetensors"
    save_file({k: v.contiguous() for k, v in reference[0].state_dict().items()}, str(path))
    path.with_suffix(".json").write_text('{"prediction": "eps",\n')
    with pytest.raises(ModelCardError, match=r"m\.json: not valid JSON"):
        load_diffae(path)
    assert cli_main(["convert", str(path), str(tmp_path / "o.safetensors")]) == 2
    err = capsys.readouterr().err
    assert str(path.with_suffix(".json")) in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_impossible_json_settings_name_the_file(tmp_path, reference):
    model = reference[0]
    path = tmp_path / "m.safetensors"
    save_diffae(model, path)
    card = json.loads(path.with_suffix(".json").read_text())
    card["config"]["model_channels"] = 48  # GroupNorm(32, 48) cannot be built
    path.with_suffix(".json").write_text(json.dumps(card))
    with pytest.raises(ModelCardError) as info:
        load_diffae(path)
    assert str(path.with_suffix(".json")) in str(info.value) and "divisible" in str(info.value)
    card["config"]["prediction"] = "x0"
    card["config"]["model_channels"] = 8
    path.with_suffix(".json").write_text(json.dumps(card))
    with pytest.raises(ModelCardError, match=r"m\.json: field \"config\.prediction\" must be one of"):
        load_diffae(path)


def test_engine_load_names_a_broken_json(tmp_path, reference):
    from chatface_widgets.engine.engine import Engine

    path = save_diffae(reference[0], tmp_path / "diffae.safetensors", extra={"align": False})
    path.with_suffix(".json").write_text("{")
    with pytest.raises(ModelCardError, match="diffae.json"):
        Engine.load(str(tmp_path), device="cpu")


def test_convert_never_writes_onto_its_source_through_a_link(tmp_path, reference):
    src = save_diffae(reference[0], tmp_path / "a.safetensors")
    link = tmp_path / "b.safetensors"
    os.link(src, link)
    before = src.read_bytes()
    assert cli_main(["convert", str(src), str(link)]) == 2
    assert src.read_bytes() == before
