"""Mapper training on the tiny random engine with tiny random judges: learning, files, registry, resume."""

from __future__ import annotations

import json

import pytest
import torch

from chatface_widgets.editing.registry import AttributeRegistry
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


@pytest.mark.needs("open_clip", "pytorch_optimizer")
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


@pytest.mark.needs("open_clip", "pytorch_optimizer")
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


@pytest.mark.needs("open_clip", "pytorch_optimizer")
def test_context_training_judges_each_row_against_its_own_context_image(setup, tmp_path):
    from chatface_widgets.train.mapper_trainer import EditContext, _context_references, load_context

    engine, judges, pool = setup
    train_mapper(engine, "smile", "a face with a smile", "a face", 2, judges, tmp_path / "others", batch=1,
                 pool=pool, progress=False)
    train_mapper(engine, "beard", "a face with a beard", "a face", 2, judges, tmp_path / "others", batch=1,
                 pool=pool, progress=False)
    ctx = load_context(tmp_path / "others", exclude="Beard")
    assert sorted(ctx.mappers) == ["smile"] and ctx.without("smile") is None
    with pytest.raises(FileNotFoundError):
        load_context(tmp_path / "nothing-here")

    b = pool.batch(torch.zeros(4, dtype=torch.long))
    always = EditContext(ctx.mappers, prob=1.0)
    z_base, x_ref, clip_ref, id_ref = _context_references(engine, b, always, torch.Generator().manual_seed(0), 8, judges)
    smile_step = ctx.mappers["smile"].delta(b.z)
    torch.testing.assert_close(z_base, b.z + smile_step)  # Eq. 12: the other step is taken at the original z
    assert not torch.allclose(x_ref, b.x0)  # judged against the context image, not the input
    never = EditContext(ctx.mappers, prob=0.0)
    z_base, x_ref, clip_ref, _ = _context_references(engine, b, never, torch.Generator().manual_seed(0), 8, judges)
    assert torch.equal(z_base, b.z) and torch.equal(x_ref, b.x0) and torch.equal(clip_ref, b.clip_rec)

    out = train_mapper(engine, "curly hair", "a face with curly hair", "a face", 2, judges, tmp_path / "mappers",
                       batch=2, pool=pool, progress=False, context=ctx)
    assert out["card"]["training"]["context"] == {"attributes": ["smile"], "prob": 0.5, "max_edits": 2}
    with pytest.raises(ValueError, match="resume=False"):  # the context is part of the recipe
        train_mapper(engine, "curly hair", "a face with curly hair", "a face", 3, judges, tmp_path / "mappers",
                     batch=2, pool=pool, progress=False)


@pytest.mark.needs("open_clip", "pytorch_optimizer")
def test_cosine_lr_runs_from_lr_to_lr_final_and_the_card_records_the_optimiser(setup, tmp_path):
    from chatface_widgets.train.mapper_trainer import cosine_lr

    assert cosine_lr(0.2, None, 50, 80) == 0.2
    values = [cosine_lr(0.2, 0.01, i, 80) for i in range(80)]
    assert values[0] == pytest.approx(0.2) and values[-1] == pytest.approx(0.01)
    assert all(a >= b for a, b in zip(values, values[1:]))
    engine, judges, pool = setup
    out = train_mapper(engine, "smile", "a face with a smile", "a face", 2, judges, tmp_path, batch=1, pool=pool,
                       progress=False, lr_final=0.02, beta2=0.99)
    assert out["card"]["training"]["lr_final"] == 0.02 and out["card"]["training"]["betas"] == [0.95, 0.99]


def test_recipe_defaults_fill_only_what_the_command_line_left_out():
    from types import SimpleNamespace

    from chatface_widgets.engine.catalogue import find
    from chatface_widgets.train.mapper_trainer import build_parser, recipe_defaults
    from chatface_widgets.train.recipes import RecipeBook

    toy_spec = find("toy")
    shipped = toy_spec.recipes()["defaults"]
    toy_engine = SimpleNamespace(spec=toy_spec, info=SimpleNamespace(name="toy"))
    real_engine = SimpleNamespace(spec=None, info=SimpleNamespace(name="ffhq256"))  # a model without recipes.json
    base = ["--attribute", "smile", "--target", "a face with a smile"]
    ours = recipe_defaults(toy_engine, build_parser().parse_args(base))
    assert ours == shipped and ours["iters"] == 80 and ours["train_strength"] == 0.5
    paper = recipe_defaults(real_engine, build_parser().parse_args(base))
    assert paper == {"iters": 1000, "lr_mul": 0.01, "lambda_global": 0.0, "global_margin": None, "lr_final": None,
                     "train_strength": 1.0}
    chosen = recipe_defaults(toy_engine, build_parser().parse_args(base + ["--global-margin", "none", "--iters", "5"]))
    assert chosen["global_margin"] is None and chosen["iters"] == 5 and chosen["lr_final"] == shipped["lr_final"]
    # an attribute with its own recipe settings gets them unless the command line says otherwise
    book = RecipeBook.from_data({"defaults": {"train_strength": 0.5},
                                 "attributes": [{"attribute": "Red Lipstick", "target": "x", "iters": 7,
                                                 "lambda_global": 3.0}]})
    assert {k: book.settings("red lipstick")[k] for k in ("iters", "lambda_global", "train_strength")} == \
        {"iters": 7, "lambda_global": 3.0, "train_strength": 0.5}
    assert book.settings("red  lipstick", iters=9, train_strength=0.25)["iters"] == 9
    assert book.get("freckles") is None and book.get("Red-Lipstick").attribute == "red lipstick"
    lip = recipe_defaults(toy_engine, build_parser().parse_args(["--attribute", "red lipstick", "--target", "x"]))
    assert (lip["iters"], lip["lambda_global"]) == (160, 4.0)
    assert recipe_defaults(real_engine, build_parser().parse_args(["--attribute", "red lipstick", "--target", "x"])
                           )["iters"] == 1000


def test_a_trained_mapper_goes_to_the_user_folder_never_the_package(tmp_path, monkeypatch):
    from types import SimpleNamespace

    from chatface_widgets.engine.catalogue import builtin_folder, find
    from chatface_widgets.train.mapper_trainer import default_output

    monkeypatch.setenv("CHATFACE_HOME", str(tmp_path))
    out = default_output(SimpleNamespace(spec=find("toy"), info=SimpleNamespace(name="toy")))
    assert out == tmp_path / "models" / "toy" / "mappers"
    assert builtin_folder() not in out.parents


@pytest.mark.needs("open_clip", "pytorch_optimizer")
def test_training_at_half_strength_judges_half_the_mapper_step(setup, tmp_path):
    engine, judges, pool = setup
    args = dict(batch=1, pool=pool, progress=False, resume=False)
    full = train_mapper(engine, "smile", "a face with a smile", "a face", 1, judges, tmp_path / "a", **args)
    half = train_mapper(engine, "smile", "a face with a smile", "a face", 1, judges, tmp_path / "b",
                        train_strength=0.5, **args)
    # same initial mapper and batch: the step the losses judge is half the mapper's output
    assert half["history"][0]["delta_z"] == pytest.approx(0.5 * full["history"][0]["delta_z"], rel=1e-4)
    assert half["card"]["training"]["decode"]["strength"] == 0.5
    assert full["card"]["training"]["decode"]["strength"] == 1.0
    with pytest.raises(ValueError, match="train_strength"):
        train_mapper(engine, "smile", "a face with a smile", "a face", 1, judges, tmp_path / "c",
                     train_strength=0.0, **args)
