"""Recipes: round trip, canonical names, and the refusals (other weights, other format) with their reasons."""

from __future__ import annotations

import json
import warnings

import pytest

from chatface_widgets.foundation.settings import RenderSettings

from chatface_widgets.engine.engine import Engine
from chatface_widgets.jobs.recipe import FORMAT_VERSION, TINY_ID, Recipe, RecipeError


@pytest.fixture(scope="module")
def engine():
    return Engine.load("tiny", device="cpu")


def test_round_trip_is_equal_and_human_readable(engine, tmp_path):
    recipe = Recipe.from_edits(engine, {"smile": 0.5, "Gray_Hair": -0.25}, steps=8, sms=False,
                               request="a slight smile, less gray", plan={"edits": {"smile": 0.5}})
    path = recipe.save(tmp_path / "r.json")
    text = path.read_text()
    data = json.loads(text)
    assert data["format"] == "chatface-recipe" and data["version"] == FORMAT_VERSION
    assert data["model"] == {"name": "tiny", "sha256": TINY_ID}
    assert data["settings"]["edits"] == {"gray hair": -0.25, "smile": 0.5}  # canonical names
    assert data["settings"]["local"] == "auto" and data["settings"]["reach"] == recipe.settings.reach
    assert "\n  " in text  # indented: readable and diffable
    loaded = Recipe.load(path)
    assert loaded == recipe and loaded.check(engine) is loaded
    assert list(tmp_path.iterdir()) == [path]  # atomic: no temporary file left


def test_from_plan_uses_the_interpreter(engine):
    recipe = Recipe.from_request(engine, "add a smile")
    assert recipe.edits and "smile" in recipe.edits
    assert recipe.request == "add a smile" and recipe.plan["edits"]
    assert recipe.steps == engine.contract.steps.default


def test_another_weights_file_is_refused_with_the_reason(engine, tmp_path):
    data = Recipe.from_edits(engine, {"smile": 0.5}).to_dict()
    data["model"] = {"name": "toy", "sha256": "ab" * 32}
    (tmp_path / "r.json").write_text(json.dumps(data))
    recipe = Recipe.load(tmp_path / "r.json")
    with pytest.raises(RecipeError, match="made with model 'toy'.*--model toy"):
        recipe.check(engine)


def test_another_format_version_is_refused(engine, tmp_path):
    data = Recipe.from_edits(engine, {"smile": 0.5}).to_dict()
    data["version"] = FORMAT_VERSION + 1
    (tmp_path / "r.json").write_text(json.dumps(data))
    with pytest.raises(RecipeError, match="format version 3.*reads versions 1 and 2"):
        Recipe.load(tmp_path / "r.json")
    (tmp_path / "x.json").write_text("{not json")
    with pytest.raises(RecipeError, match="not valid JSON"):
        Recipe.load(tmp_path / "x.json")
    (tmp_path / "y.json").write_text(json.dumps({"hello": 1}))
    with pytest.raises(RecipeError, match="not a chatface recipe"):
        Recipe.load(tmp_path / "y.json")


def test_another_package_version_only_warns(engine, tmp_path):
    data = Recipe.from_edits(engine, {"smile": 0.5}).to_dict()
    data["package"] = "0.0.1"
    (tmp_path / "r.json").write_text(json.dumps(data))
    with pytest.warns(UserWarning, match="written by chatface_widgets 0.0.1"):
        recipe = Recipe.load(tmp_path / "r.json")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        recipe.check(engine)


def test_unknown_attribute_and_bad_strength_are_refused(engine):
    recipe = Recipe(model={"name": "tiny", "sha256": TINY_ID}, settings=RenderSettings(edits={"wings": 0.5}, steps=8))
    with pytest.raises(RecipeError, match="'wings'.*cannot edit"):
        recipe.check(engine)
    with pytest.raises(ValueError, match=r"\[-1, 1\]"):
        Recipe(model={"name": "tiny", "sha256": TINY_ID}, settings=RenderSettings(edits={"smile": 3}, steps=8))


@pytest.mark.parametrize("field,value,message", [
    ("sms", "no", "sms must be true or false"), ("steps", 10.7, "steps must be a whole number"),
    ("steps", 1000, "from 2 to 100"), ("steps", True, "steps must be a whole number"),
    ("local", "sometimes", "local must be one of"), ("reach", "far", "reach must be a number"),
    ("edits", {"smile": "0.5"}, "must be a number"), ("edits", {"smile": True}, "must be a number"),
    ("edits", ["smile"], "edits must be an object"), ("face", -1, "face must be a whole number"),
    ("colour", 1, "unknown field"),
])
def test_recipe_fields_are_checked_not_coerced(engine, tmp_path, field, value, message):
    data = Recipe.from_edits(engine, {"smile": 0.5}).to_dict()
    data["settings"][field] = value
    (tmp_path / "r.json").write_text(json.dumps(data))
    with pytest.raises(RecipeError, match=message) as caught:
        Recipe.load(tmp_path / "r.json")
    assert "r.json" in str(caught.value)  # names the file


def test_damaged_recipe_files_get_one_clear_error(tmp_path):
    (tmp_path / "deep.json").write_text("[" * 100_000 + "]" * 100_000)
    (tmp_path / "binary.json").write_bytes(b"\xff\xfe\x00garbage")
    for name, message in (("deep.json", "nests too deeply|not valid JSON"), ("binary.json", "not a text file")):
        with pytest.raises(RecipeError, match=message) as caught:
            Recipe.load(tmp_path / name)
        assert name in str(caught.value)


def test_settings_round_trip_whole_through_a_recipe_file(engine, tmp_path):
    settings = RenderSettings(edits={"smile": -0.25, "eyeglasses": 1.0}, steps=20, sms=False, local="on", reach=0.1)
    recipe = Recipe.from_settings(engine, settings, request="r")
    loaded = Recipe.load(recipe.save(tmp_path / "r.json"))
    assert loaded.settings == recipe.settings == engine.settings(settings, bounded=True)
    assert loaded.settings.local == "on" and loaded.settings.reach == 0.1 and loaded.settings.sms is False


def test_a_format_1_recipe_reads_as_what_batch_rendered(tmp_path):
    old = {"format": "chatface-recipe", "version": 1, "package": "0.1.0", "model": {"name": "tiny", "sha256": TINY_ID},
           "strengths": {"smile": 0.5}, "steps": 8, "sms": True, "local": None, "request": "", "plan": None}
    (tmp_path / "old.json").write_text(json.dumps(old))
    recipe = Recipe.load(tmp_path / "old.json")
    assert recipe.settings == RenderSettings(edits={"smile": 0.5}, steps=8, local="off")


def test_cli_edit_saves_a_recipe(tmp_path, capsys):
    from chatface_widgets.cli.main import main

    rc = main(["edit", "sample:ben", "add a big smile", "-o", str(tmp_path / "out.png"), "--model", "tiny",
               "--steps", "4", "--save-recipe", str(tmp_path / "r.json")])
    assert rc == 0, capsys.readouterr().err
    recipe = Recipe.load(tmp_path / "r.json")
    assert recipe.steps == 4 and recipe.request == "add a big smile" and "smile" in recipe.edits


def test_lazy_export():
    import chatface_widgets as cf

    assert cf.Recipe is Recipe


def test_panel_save_recipe_button(engine, tmp_path):
    pytest.importorskip("ipywidgets")
    from chatface_widgets.widgets import ChatFacePanel

    panel = ChatFacePanel(engine=engine, save_dir=tmp_path)
    try:
        panel.recipe_button.click()  # nothing to save yet: an error in the status line, no file
        assert panel.status_is_error and not list(tmp_path.glob("*.json"))
        panel.send("add a big smile")
        assert panel.wait_idle(60)
        panel.sliders["eyeglasses"].value = -0.3
        assert panel.wait_idle(60)
        panel.recipe_button.click()
        second = panel.save_recipe()
    finally:
        panel.close()
    first = sorted(tmp_path.glob("*-recipe-*.json"))[0]
    assert second != first and Recipe.load(second) == Recipe.load(first)
    recipe = Recipe.load(first)
    assert recipe.edits["eyeglasses"] == -0.3 and recipe.edits["smile"] > 0
    assert recipe.request == "add a big smile" and recipe.plan["edits"]
    assert recipe.steps == panel.state.snapshot().steps
