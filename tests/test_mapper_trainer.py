"""Mapper training on the tiny random engine with tiny random judges: learning, files, registry, resume."""

from __future__ import annotations

import json

import pytest
import torch

from chatface_widgets.editing import AttributeRegistry
from chatface_widgets.testing.tiny import tiny_engine
from chatface_widgets.train.judges import tiny_random_judges
from chatface_widgets.train.mapper_trainer import (encode_pool, equalize_lr, main, mapper_file_name, plain_mapper,
                                                   toy_training_images, train_mapper)
from chatface_widgets.models.mapper import MLPMapper, load_mapper


@pytest.fixture(scope="module")
def setup():
    engine = tiny_engine()
    judges = tiny_random_judges(image_size=engine.image_size)
    faces = toy_training_images(1, engine.image_size, seed=0)
    pool = encode_pool(engine, faces, judges)
    return engine, judges, pool


def test_training_lowers_the_loss_and_writes_a_registry_card(setup, tmp_path):
    engine, judges, pool = setup
    out = train_mapper(engine, "Curly hair", "a face with curly hair", "a face", 4, judges, tmp_path / "mappers",
                       synonyms=("curls", "curly"), batch=2, pool=pool, progress=False)
    hist = out["history"]
    assert [h["iteration"] for h in hist] == [1, 2, 3, 4]
    assert {"total", "pre", "id", "dir", "delta_z", "grad_norm", "seconds"} <= set(hist[0])
    assert min(h["dir"] for h in hist[2:]) < hist[0]["dir"] - 0.05  # one face, so the objective is fixed
    assert hist[-1]["delta_z"] > 0.0  # the mapper moved off the identity edit

    path = tmp_path / "mappers" / "curly_hair.safetensors"
    card = json.loads(path.with_suffix(".json").read_text())
    assert card["kind"] == "mlp_mapper" and card["attribute"] == "curly hair"
    assert card["synonyms"] == ["curls", "curly"] and card["iterations"] == 4
    assert card["prompts"] == {"target": ["a face with curly hair"], "source": ["a face"]}
    assert card["model"]["name"] == "tiny" and card["model"]["z_channels"] == engine.model.config.z_channels
    assert set(card["losses"]["final_mean_last_20"]) == {"total", "pre", "id", "dir"}

    registry = AttributeRegistry.from_folder(tmp_path / "mappers", engine.model.config.z_channels)
    assert registry.resolve("curls") == "curly hair"
    z = pool.z[:1]
    assert not torch.allclose(registry.compose(z, {"curly hair": 1.0}), z)


def test_resume_reproduces_an_uninterrupted_run(setup, tmp_path):
    engine, judges, pool = setup
    args = dict(batch=1, pool=pool, progress=False, checkpoint_every=1)
    straight = train_mapper(engine, "smile", "a face with a smile", "a face", 3, judges, tmp_path / "a", **args)
    train_mapper(engine, "smile", "a face with a smile", "a face", 2, judges, tmp_path / "b", **args)
    resumed = train_mapper(engine, "smile", "a face with a smile", "a face", 3, judges, tmp_path / "b", **args)
    assert len(resumed["history"]) == 3
    for h1, h2 in zip(straight["history"], resumed["history"]):
        assert h1["total"] == pytest.approx(h2["total"], rel=1e-5)
    m1, _ = load_mapper(tmp_path / "a" / "smile.safetensors")
    m2, card = load_mapper(tmp_path / "b" / "smile.safetensors")
    assert card["iterations"] == 3
    for p1, p2 in zip(m1.parameters(), m2.parameters()):
        torch.testing.assert_close(p1, p2)
    with pytest.raises(ValueError, match="resume=False"):  # a different recipe must not continue this checkpoint
        train_mapper(engine, "smile", "a face with a big smile", "a face", 4, judges, tmp_path / "b", **args)


def test_equalised_lr_view_keeps_the_function_and_saves_plain_weights():
    torch.manual_seed(0)
    mapper = MLPMapper(16)
    torch.nn.init.normal_(mapper.net[-1].weight, std=0.1)
    z = torch.randn(3, 16)
    before = mapper(z)
    view = equalize_lr(mapper, 0.01)
    torch.testing.assert_close(view(z), before)
    plain = plain_mapper(view)
    assert set(plain.state_dict()) == set(MLPMapper(16).state_dict())
    torch.testing.assert_close(plain(z), before)


def test_file_names_and_cli_parser():
    assert mapper_file_name("Red lipstick") == "red_lipstick"
    assert mapper_file_name("gray-hair") == "gray_hair"
    with pytest.raises(SystemExit):
        main(["--help"])
