"""One edit, one image: the API, `chatface edit`, a recipe applied by `chatface batch` and `cf.apply`, and the
panel's saved recipe give the same pixels (within 1/255) for combinations of requests and settings (issue 26)."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from chatface_widgets.cli.main import main as cli
from chatface_widgets.engine.engine import Engine
from chatface_widgets.foundation.settings import RenderSettings
from chatface_widgets.jobs.batch import apply
from chatface_widgets.jobs.recipe import Recipe

CASES = [  # (request, flags, settings the flags mean)
    ("add glasses and gray hair", [], {}),
    ("a big smile", ["--no-sms"], {"sms": False}),
    ("add a beard", ["--steps", "20"], {"steps": 20}),
    ("add glasses", ["--local"], {"local": "on"}),
    ("red lipstick and blue eyes", ["--no-local"], {"local": "off"}),
    ("curly hair", ["--reach", "0.08"], {"reach": 0.08}),
    ("gray hair but keep the beard", ["--keep", "mouth"], {"keep": ("beard", "mouth")}),  # issue 30
]


@pytest.fixture(scope="module")
def engine():
    return Engine.load("toy", device="cpu")


@pytest.fixture(scope="module")
def photo(tmp_path_factory, engine):
    path = tmp_path_factory.mktemp("album") / "ben.png"
    Image.open(engine.sample_path("sample:ben")).save(path)
    return path


def _pixels(path_or_image) -> np.ndarray:
    image = path_or_image if isinstance(path_or_image, Image.Image) else Image.open(path_or_image)
    return np.asarray(image.convert("RGB"), np.int16)


@pytest.mark.parametrize("request_text,flags,meaning", CASES)
def test_every_door_renders_the_same_pixels(engine, photo, tmp_path, request_text, flags, meaning, capsys):
    out, recipe_path = tmp_path / "edit.png", tmp_path / "r.json"
    assert cli(["edit", str(photo), request_text, "-o", str(out), "--save-recipe", str(recipe_path), *flags]) == 0
    recipe = Recipe.load(recipe_path)
    for key, value in meaning.items():  # the flag is stored whole, with its meaning
        assert getattr(recipe.settings, key) == value
    assert Recipe.load(recipe.save(tmp_path / "again.json")).settings == recipe.settings

    api = engine.open(photo).render(recipe.settings, paste=True)
    assert cli(["batch", str(recipe_path), str(photo), "--out", str(tmp_path / "batch"), "--no-progress"]) == 0
    batch = tmp_path / "batch" / "ben.png"
    applied = apply(recipe, [str(photo)], engine=engine, show=False)[0].after
    sentence = tmp_path / "sentence"
    assert cli(["batch", request_text, str(photo), "--out", str(sentence), "--no-progress", *flags]) == 0
    reference = _pixels(out)
    for name, image in (("API", api), ("batch", batch), ("cf.apply", applied), ("batch sentence", sentence / "ben.png")):
        diff = np.abs(_pixels(image) - reference).max()
        assert diff <= 1, f"{name} differs from `chatface edit` by {diff}/255 for {request_text!r} {flags}"


def test_the_panel_recipe_renders_like_the_panel(engine, photo, tmp_path):
    pytest.importorskip("ipywidgets")
    from chatface_widgets.widgets.panel import ChatFacePanel

    panel = ChatFacePanel(str(photo), engine=engine, save_dir=tmp_path)
    try:
        assert panel.wait_idle(120)
        panel.send("add glasses and a little gray hair")
        assert panel.wait_idle(120)
        shown = panel.controller.last_result.image
        path = panel.controller.save_recipe(tmp_path)
    finally:
        panel.close()
    recipe = Recipe.load(path)
    assert recipe.settings.edits and recipe.settings.local == "auto"
    applied = apply(recipe, [str(photo)], engine=engine, show=False)[0].after
    assert np.abs(_pixels(applied) - _pixels(shown)).max() <= 1


def test_a_face_in_a_batch_of_16_equals_it_alone(engine):
    from chatface_widgets.jobs.batch import render_padded

    settings = engine.settings(RenderSettings(edits={"eyeglasses": 1.0, "smile": 0.5}))
    names = ["sample:ben", "sample:ada"] * 8
    together = render_padded(engine, [engine.read_face(n) for n in names], settings, 16)
    alone = engine.open("sample:ada").render(settings)
    assert np.abs(_pixels(together[1]) - _pixels(alone)).max() <= 1
