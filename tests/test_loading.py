"""load_diffae on every file layout users bring, and the errors they get when a file is wrong."""

from __future__ import annotations

import contextlib
import os
import sys
import types

import pytest
import torch
from safetensors.torch import save_file

from chatface_widgets.cli import main as cli_main
from chatface_widgets.models.checkpoint_io import CheckpointError
from chatface_widgets.models.diffae import DiffAEConfig, StateDictMismatch, load_diffae, save_diffae
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


def assert_same_network(loaded, reference):
    _, x, t, z, eps = reference
    assert not loaded.training
    assert next(loaded.parameters()).dtype == torch.float32
    with torch.no_grad():
        assert torch.equal(loaded.encode(x), z)
        assert torch.equal(loaded(x, t, z), eps)


def test_bare_safetensors_without_config_infers_topology(tmp_path, reference):
    model = reference[0]
    path = tmp_path / "bare.safetensors"
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(path))
    loaded = load_diffae(path)
    assert loaded.config.channel_mult == model.config.channel_mult
    assert loaded.config.attn_levels == model.config.attn_levels
    assert_same_network(loaded, reference)


def test_bare_pt_state_dict(tmp_path, reference):
    path = tmp_path / "bare.pt"
    torch.save(reference[0].state_dict(), path)
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
