"""DiffAE latent classifier as linear directions, checked against the official ClsModel fixture."""

import io
import math
import sys
import types

import pytest
import torch

from conftest import fixture_path
from chatface_widgets.models.latent_classifier import (ATTRIBUTES, CELEBA_ATTRIBUTES, CHAT_NAMES, DEFAULT_AMPLITUDE,
                                                       attribute_index, load_latent_classifier,
                                                       load_lightning_checkpoint)

GOLDEN = fixture_path("diffae", "diffae_cls_golden.safetensors")


@pytest.fixture(scope="module")
def golden():
    from safetensors.torch import load_file

    return load_file(str(GOLDEN))


@pytest.fixture(scope="module")
def ckpt(golden, tmp_path_factory):
    """The fixture's classifier saved as a PL-1.4-style checkpoint (callbacks keyed by a Lightning class)."""
    names = ["pytorch_lightning", "pytorch_lightning.callbacks", "pytorch_lightning.callbacks.model_checkpoint"]
    for name in names:
        sys.modules[name] = types.ModuleType(name)
    ModelCheckpoint = type("ModelCheckpoint", (), {"__module__": names[-1]})
    sys.modules[names[-1]].ModelCheckpoint = ModelCheckpoint
    state = {k: v for k, v in golden.items() if not k.startswith("golden.")}
    obj = {"state_dict": state, "global_step": 0, "epoch": 1, "pytorch-lightning_version": "1.4.5",
           "callbacks": {ModelCheckpoint: {"best_model_score": torch.tensor(0.5)}},
           "optimizer_states": [{"state": {}, "param_groups": [{"lr": 1e-3, "betas": (0.9, 0.999)}]}],
           "hyper_parameters": {"lr": 1e-3, "manipulate_znormalize": True}}
    path = tmp_path_factory.mktemp("cls") / "last.ckpt"
    try:
        torch.save(obj, path)
    finally:
        for name in names:
            del sys.modules[name]
    return path


def test_matches_official_clsmodel(ckpt, golden):
    cls = load_latent_classifier(ckpt)
    z = golden["golden.input.z_sem"]
    assert cls.dim == 512 and cls.weight.shape == (40, 512)
    torch.testing.assert_close(cls.normalize(z), golden["golden.normalize.z_norm"], atol=1e-6, rtol=0)
    torch.testing.assert_close(cls.denormalize(cls.normalize(z)), z, atol=1e-6, rtol=0)
    torch.testing.assert_close(cls.logits(z), golden["golden.classifier.logits"], atol=1e-5, rtol=0)
    assert int(golden["golden.manipulate.Wavy_Hair.cls_id"]) == attribute_index("wavy hair")[0] == 33
    assert int(golden["golden.manipulate.No_Beard.cls_id"]) == attribute_index("No_Beard")[0] == 24
    wavy = golden["golden.manipulate.Wavy_Hair.amp+0.3.z"]
    no_beard = golden["golden.manipulate.No_Beard.amp-0.3.z"]
    torch.testing.assert_close(cls.manipulate(z, "Wavy_Hair", 0.3), wavy, atol=1e-5, rtol=0)
    torch.testing.assert_close(cls.manipulate(z, "wavy hair"), wavy, atol=1e-5, rtol=0)
    torch.testing.assert_close(cls.manipulate(z, "No_Beard", -0.3), no_beard, atol=1e-5, rtol=0)
    torch.testing.assert_close(cls.manipulate(z, "beard", 0.3), no_beard, atol=1e-5, rtol=0)  # sign flipped
    torch.testing.assert_close(cls.manipulate(z, "Beard", 0.3), no_beard, atol=1e-5, rtol=0)  # predict.py rule


def test_directions_are_the_recipe_at_the_default_amplitude(ckpt, golden):
    cls = load_latent_classifier(ckpt)
    dirs = cls.directions()
    assert set(dirs) == set(CHAT_NAMES) and len(dirs) == 40
    z = golden["golden.input.z_sem"]
    with torch.no_grad():
        torch.testing.assert_close(z + dirs["wavy hair"].delta(z), golden["golden.manipulate.Wavy_Hair.amp+0.3.z"],
                                   atol=1e-5, rtol=0)
        torch.testing.assert_close(z + dirs["beard"].delta(z), golden["golden.manipulate.No_Beard.amp-0.3.z"],
                                   atol=1e-5, rtol=0)
        smile = dirs["smile"].delta(z)
    expected = DEFAULT_AMPLITUDE * math.sqrt(512) * cls.unit_direction("Smiling") * cls.conds_std
    torch.testing.assert_close(smile, expected.expand_as(smile), atol=1e-5, rtol=0)
    assert (cls.logits(z + smile) - cls.logits(z))[:, CELEBA_ATTRIBUTES.index("Smiling")].gt(0).all()


def test_converted_safetensors_loads_the_same(ckpt, tmp_path):
    from chatface_widgets.engine.weights import convert_classifier

    out = convert_classifier(ckpt, tmp_path / "cls.safetensors")
    a, b = load_latent_classifier(ckpt), load_latent_classifier(out)
    for field in ("conds_mean", "conds_std", "weight", "bias"):
        assert torch.equal(getattr(a, field), getattr(b, field))


def test_vocabulary_is_complete():
    assert len(ATTRIBUTES) == 40 and len(set(CHAT_NAMES)) == 40
    table = dict((celeba, chat) for celeba, chat, _ in ATTRIBUTES)
    assert table["Smiling"] == "smile" and table["Heavy_Makeup"] == "makeup" and table["Wearing_Hat"] == "hat"
    assert table["5_o_Clock_Shadow"] == "5 o'clock shadow" and table["Wearing_Lipstick"] == "lipstick"
    assert [sign for _, _, sign in ATTRIBUTES].count(-1) == 1  # only No_Beard -> "beard"
    for i, name in enumerate(CELEBA_ATTRIBUTES):
        assert attribute_index(name) == (i, 1)
        assert attribute_index(name.lower().replace("_", " "))[0] == i
    with pytest.raises(KeyError, match="known"):
        attribute_index("purple hair")


def test_refuses_code_in_pickles(golden, tmp_path):
    import os

    class Evil:
        def __reduce__(self):
            return (os.system, ("echo should-not-run",))

    path = tmp_path / "evil.ckpt"
    torch.save({"state_dict": {}, "x": Evil()}, path)
    with pytest.raises(ValueError, match="refusing"):
        load_lightning_checkpoint(path)
    buf = io.BytesIO()
    torch.save({"state_dict": {"conds_mean": torch.zeros(1, 512)}}, buf)
    (tmp_path / "partial.ckpt").write_bytes(buf.getvalue())
    with pytest.raises(KeyError, match="classifier.weight"):
        load_latent_classifier(tmp_path / "partial.ckpt")
