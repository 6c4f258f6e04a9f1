"""The user says where an edit may act (issue 30): parts kept or limited to, a painted mask; every door."""

from __future__ import annotations

import json
import time

import numpy as np
import pytest
from PIL import Image

from chatface_widgets.chat.llm import response_schema, system_prompt
from chatface_widgets.chat.plan import Plan
from chatface_widgets.chat.rules import RuleInterpreter
from chatface_widgets.engine.engine import Engine
from chatface_widgets.engine.masks import as_mask
from chatface_widgets.foundation.settings import RenderSettings, SettingsError
from chatface_widgets.foundation.where import PART_NAMES, PaintedMask
from chatface_widgets.toy import PARTS
from chatface_widgets.toy.attributes import ATTRIBUTES

BOTH = ["curly hair", "gray hair"]


@pytest.fixture(scope="module")
def engine():
    return Engine.load("toy", device="cpu")


@pytest.fixture(scope="module")
def bearded(engine):
    """A held-out face with a beard, and its true part mask."""
    from chatface_widgets.eval.evaluate import open_faces

    for op in open_faces(engine, 40, seed=1700):
        if (op.truth.mask == PARTS.index("beard")).sum() > 20:
            return op
    pytest.skip("no bearded face among the first 40 held-out faces")


def _rgb(image) -> np.ndarray:
    return np.asarray(image.convert("RGB"), np.int16)


def test_part_names_are_the_part_maps_names():
    from chatface_widgets.photos.landmark_parts import PARTS_NAMES

    assert PART_NAMES == tuple(PARTS) == tuple(PARTS_NAMES)


def test_settings_carry_parts_and_a_mask_that_is_not_written():
    s = RenderSettings(edits={"gray hair": 1.0}, keep=("beard", "mouth"), only="hair")
    assert s.keep == ("beard", "mouth") and s.only == ("hair",) and s.constrained
    assert RenderSettings.from_dict(json.loads(json.dumps(s.to_dict()))) == s
    assert "keep beard, mouth" in s.describe() and "only hair" in s.describe()
    masked = s.updated(mask=as_mask(np.ones((4, 4))))
    assert masked != s and "mask" not in masked.to_dict() and "painted mask" in masked.describe()
    assert masked == s.updated(mask=as_mask(np.ones((4, 4), np.float32)))  # equal pixels, equal settings
    with pytest.raises(SettingsError, match="nose.*background, skin, hair"):
        RenderSettings(keep=("nose",))
    with pytest.raises(SettingsError, match="keep must be a list"):
        RenderSettings.from_dict({"keep": "beard"})
    assert "keep" not in RenderSettings().to_dict()  # old recipes stay byte-identical


def test_a_kept_part_is_the_photo_and_the_rest_is_the_unconstrained_edit(engine, bearded):
    face, truth = bearded.face, bearded.truth
    photo = _rgb(face.image)
    plain = _rgb(face.render({"gray hair": 1.0}, local="on"))
    kept = _rgb(face.render({"gray hair": 1.0}, keep=("beard",)))
    beard = truth.mask == PARTS.index("beard")
    hair = truth.mask == PARTS.index("hair")
    assert np.abs(plain - photo)[beard].mean() > 10  # without the constraint, gray hair grays the beard
    assert np.array_equal(kept[beard], photo[beard])  # with it, the beard is the photo's, bit for bit
    inner_hair = hair & ~np.asarray(Image.fromarray(beard.astype(np.uint8) * 255).filter(
        __import__("PIL.ImageFilter", fromlist=["MaxFilter"]).MaxFilter(7))).astype(bool)
    edit = np.abs(plain - photo)[inner_hair].mean()
    assert edit > 10 and np.abs(kept - plain)[inner_hair].mean() <= 0.1 * edit  # inside, as strong as without it


def test_a_global_edit_with_a_kept_part_is_global_everywhere_else(bearded, tmp_path):
    import shutil

    from chatface_widgets.engine.catalogue import find

    shutil.copytree(find("toy").folder / "mappers", tmp_path / "mappers")  # the user's own mappers: z moves, no painter
    mapped = Engine.load("toy", device="cpu", mappers=tmp_path / "mappers")
    assert mapped.moves_z("smile")
    face, truth = mapped.open(bearded.face.image, align=False), bearded.truth
    photo = _rgb(face.image)
    beard = truth.mask == PARTS.index("beard")
    kept = _rgb(face.render({"smile": 1.0}, local="off", keep=("beard",)))
    region = face.region({"smile": 1.0}).squeeze().cpu().numpy() > 0
    assert np.array_equal(kept[beard], photo[beard])  # the user's word wins
    far = ~region & ~beard  # where the estimated region would have kept the photo, a global edit acts
    assert (np.abs(kept - photo).max(-1)[far] > 0).mean() > 0.2


def test_a_kept_part_does_not_eat_an_edit_that_borders_it(engine):
    """Kept hair is what the parser gives some hair probability, not hair grown by a pixel: glasses beside it still show."""
    from chatface_widgets.eval.evaluate import attainable, default_oracle_folder, open_faces
    from chatface_widgets.toy.oracle import load_oracle

    oracle = load_oracle(default_oracle_folder(engine))
    faces = [op for op in open_faces(engine, 12, seed=1700) if op.params.attributes["eyeglasses"] < 0.5]
    reads = []
    for op in faces[:6]:
        images = [op.face.render({"eyeglasses": 1.0}, keep=("hair",)), op.face.render({"eyeglasses": 1.0})]
        reads.append(oracle.predict(images)["eyeglasses"])
    kept, plain = np.asarray(reads).T
    assert kept.mean() >= plain.mean() - 0.1 and (kept >= 0.5).mean() >= 5 / 6


def test_only_limits_to_a_part_and_a_mask_limits_to_its_pixels(engine, bearded):
    face, truth = bearded.face, bearded.truth
    photo = _rgb(face.image)
    only = _rgb(face.render({"gray hair": 1.0}, only=("hair",)))
    outside = ~np.isin(truth.mask, [PARTS.index("hair")])
    changed = np.abs(only - photo).max(-1) > 0
    assert changed[~outside].mean() > 0.2 and changed[outside].mean() < 0.02
    mask = np.zeros((48, 48), np.float32)
    mask[:, :24] = 1.0  # the left half only
    half = _rgb(face.render({"gray hair": 1.0}, mask=mask))
    assert np.array_equal(half[:, 24:], photo[:, 24:]) and (half[:, :24] != photo[:, :24]).any()
    again = _rgb(face.render({"gray hair": 1.0}, mask=Image.fromarray(mask * 255).convert("L")))
    assert np.abs(again - half).max() <= 1  # the same mask as an image (a cached reconstruction: float rounding)


def test_a_constraint_is_cached_like_the_region(engine):
    face = engine.open("sample:ben")
    face.render({"gray hair": 0.5}, keep=("beard",))
    computed = face.region_computations
    settings = RenderSettings(edits={"gray hair": 0.7}, keep=("beard",))
    assert face.allowed(engine.settings(settings)) is face.allowed(engine.settings(settings))
    face.render(settings)
    assert face.region_computations == computed


def test_unknown_parts_and_faces_without_part_maps_say_how_to_fix_it(engine):
    tiny = Engine.load("tiny", device="cpu")
    face = tiny.open("sample")
    with pytest.raises(ValueError, match="paint a mask instead"):
        face.render({tiny.attributes[0]: 0.5}, keep=("beard",))
    face.render({tiny.attributes[0]: 0.5}, mask=np.ones((8, 8)))  # a mask needs no part maps


@pytest.mark.parametrize("text,keep,only,anywhere", [
    ("gray hair but keep the beard", ["beard"], [], False),
    ("only the hair", [], ["hair"], False),
    ("don't touch her mouth", ["mouth"], [], False),
    ("leave the background alone", ["background"], [], False),
    ("make him gray, hair only", [], ["hair"], False),
    ("add glasses but keep the hair and the eyes", ["eyes", "hair"], [], False),
    ("gray hair, not the beard", ["beard"], [], False),
    ("you can edit anywhere again", [], [], True),
])
def test_chat_constraints(text, keep, only, anywhere):
    plan = RuleInterpreter(list(ATTRIBUTES)).parse(text)
    assert (plan.keep, plan.only, plan.anywhere) == (keep, only, anywhere)
    assert plan.action == "edit" and plan.understood


def test_chat_edits_stay_and_unknown_parts_list_the_known_ones():
    rules = RuleInterpreter(list(ATTRIBUTES))
    plan = rules.parse("gray hair but keep the beard")
    assert list(plan.edits) == ["gray hair"] and "Keeping the beard" in plan.reply
    plan = rules.parse("keep her nose as it is")
    assert plan.action == "none" and "nose" in plan.reply and ", ".join(PART_NAMES) in plan.reply
    for text in ("just a bit more smile", "keep the smile", "don't add glasses", "add a smile"):
        assert not rules.parse(text).says_where, text
    assert Plan(keep=["beard"]).where(("mouth",), ("hair",)) == (("beard", "mouth"), ("hair",))
    assert Plan(only=["eyes"]).where(("eyes",), ()) == ((), ("eyes",))
    assert Plan(anywhere=True).where(("beard",), ("hair",)) == ((), ())


def test_the_llm_path_has_the_constraint():
    schema = response_schema(list(ATTRIBUTES))["json_schema"]["schema"]
    assert schema["properties"]["keep"]["items"]["enum"] == list(PART_NAMES) and "keep" in schema["required"]
    assert "beard" in system_prompt(list(ATTRIBUTES)) and "leave the background alone" in system_prompt(list(ATTRIBUTES))
    from chatface_widgets.chat.llm import OpenAIInterpreter

    llm = OpenAIInterpreter(list(ATTRIBUTES), client=object())
    plan = llm.to_plan('{"edits": [{"attribute": "gray hair", "strength": 1}], "steps": null, "action": "edit", '
                       '"reply": "ok", "keep": ["beard", "nose"], "only": [], "anywhere": false}')
    assert plan.keep == ["beard"] and "nose" in plan.reply
    old = llm.to_plan('{"edits": [], "steps": null, "action": "none", "reply": "hi"}')
    assert old.keep == [] and not old.says_where


def test_cli_flags_and_recipes(engine, tmp_path, capsys):
    from chatface_widgets.cli.main import main as cli
    from chatface_widgets.jobs.recipe import Recipe

    out, recipe = tmp_path / "o.png", tmp_path / "r.json"
    assert cli(["edit", "sample:ben", "gray hair", "--keep", "beard", "--only", "hair", "-o", str(out),
                "--save-recipe", str(recipe)]) == 0
    loaded = Recipe.load(recipe)
    assert loaded.settings.keep == ("beard",) and loaded.settings.only == ("hair",) and not loaded.dropped_mask
    mask = tmp_path / "m.png"
    Image.fromarray(np.full((48, 48), 255, np.uint8)).save(mask)
    with pytest.warns(UserWarning, match="not stored"):
        assert cli(["edit", "sample:ben", "gray hair", "--mask", str(mask), "-o", str(out), "--save-recipe",
                    str(recipe)]) == 0
    data = json.loads(recipe.read_text())
    assert "not stored" in data["painted_mask"] and Recipe.load(recipe).dropped_mask
    assert cli(["edit", "sample:ben", "gray hair", "--keep", "nose", "-o", str(out)]) == 2
    assert "nose" in capsys.readouterr().err
    assert cli(["edit", "sample:ben", "gray hair", "--mask", str(tmp_path / "missing.png"), "-o", str(out)]) == 2


def test_batch_with_the_panel_recipe_gives_the_panel_pixels(engine, tmp_path):
    pytest.importorskip("ipywidgets")
    from chatface_widgets.cli.main import main as cli
    from chatface_widgets.widgets.panel import ChatFacePanel

    photo = tmp_path / "ben.png"
    Image.open(engine.sample_path("sample:ben")).save(photo)
    panel = ChatFacePanel(str(photo), engine=engine, save_dir=tmp_path)
    try:
        assert panel.wait_idle(120)
        panel.send("gray hair but keep the beard")
        assert panel.wait_idle(120)
        assert panel.state.snapshot().keep == ("beard",) and panel.keep_select.value == ("beard",)
        shown = panel.controller.last_result.image
        path = panel.controller.save_recipe(tmp_path)
    finally:
        panel.close()
    assert cli(["batch", str(path), str(photo), "--out", str(tmp_path / "batch"), "--no-progress"]) == 0
    assert np.abs(_rgb(Image.open(tmp_path / "batch" / "ben.png")) - _rgb(shown)).max() <= 1


def test_panel_brush_strokes_are_undoable_and_ticks_are_no_slower(engine):
    pytest.importorskip("ipycanvas")
    from chatface_widgets.widgets.panel import ChatFacePanel

    panel = ChatFacePanel("sample:ben", engine=engine)
    try:
        assert panel.wait_idle(120)
        panel.controller.set_strength("gray hair", 1.0)
        assert panel.wait_idle(120)
        plain = []
        for value in (0.8, 0.9, 0.8, 0.9):
            started = time.perf_counter()
            panel.controller.set_strength("gray hair", value)
            assert panel.wait_idle(120)
            plain.append(time.perf_counter() - started)
        brush = panel.brush
        brush.mode.value, brush.size.value = "edit here", 4
        side = brush.cells * brush.scale
        brush._down(side * 0.2, side * 0.15)
        brush._move(side * 0.5, side * 0.15)
        brush._up(side * 0.8, side * 0.15)
        assert panel.wait_idle(120)
        snap = panel.state.snapshot()
        assert isinstance(snap.mask, PaintedMask) and snap.can_undo
        painted = snap.mask.pixels > 0.5
        photo, shown = _rgb(panel.face.image), _rgb(panel.controller.last_result.image)
        changed = np.abs(shown - photo).max(-1) > 0
        assert changed[painted].any() and not changed[~painted].any()
        assert panel.controller.last_result.region is not None  # the region view shows the final mask
        masked = []
        for value in (0.8, 0.9, 0.8, 0.9):
            started = time.perf_counter()
            panel.controller.set_strength("gray hair", value)
            assert panel.wait_idle(120)
            masked.append(time.perf_counter() - started)
        assert min(masked) <= 1.25 * min(plain) + 0.05, (masked, plain)
        for _ in range(4):
            panel.controller.undo()
        assert panel.wait_idle(120)
        assert panel.state.snapshot().mask == snap.mask
        panel.controller.undo()
        assert panel.wait_idle(120)
        assert panel.state.snapshot().mask is None and not brush.strokes.paint.any()
        panel.send("don't touch the hair")
        assert panel.wait_idle(120)
        assert panel.keep_select.value == ("hair",) and "keep hair" in panel.status_text
    finally:
        panel.close()


def test_eval_outside_counts_the_renderers_canvas_not_one_sample_per_pixel():
    """eval.where's "outside": pixels holding nothing the user allowed (counted on the renderer's supersampled canvas)."""
    from chatface_widgets.eval.where import label_outside, outside_allowed, share_outside
    from chatface_widgets.toy.params import HELDOUT_SEED_START, sample_params
    from chatface_widgets.toy.render import part_coverage, render_face

    params = sample_params(HELDOUT_SEED_START + 1700).with_attributes({"beard": 1.0})
    coverage, mask = part_coverage(params, 48), render_face(params, 48).mask
    assert coverage.shape == (48, 48, len(PARTS)) and np.allclose(coverage.sum(-1), 1.0)
    hair = coverage[..., PARTS.index("hair")]
    edge = (hair > 0) & (hair < 1)
    assert edge.any() and ((mask != PARTS.index("hair")) & (hair > 0)).any()  # half-hair pixels labelled otherwise
    only = outside_allowed(coverage, (), ("hair",), None)
    assert not (only & (hair > 0)).any() and (only == (hair == 0)).all()
    assert (label_outside(mask, (), ("hair",), None) & ~only).any()  # the one-sample mask counts edges as outside
    kept = outside_allowed(coverage, ("beard",), (), None)
    beard = coverage[..., PARTS.index("beard")]
    assert kept.any() and (kept == (beard == 1)).all() and (kept <= (mask == PARTS.index("beard"))).all()
    assert not outside_allowed(coverage, (), (), None).any()
    painted = np.zeros((48, 48), bool)
    painted[:10] = True
    assert (outside_allowed(coverage, (), (), painted) == ~painted).all()  # a painted mask is what was allowed
    change = np.zeros((48, 48))
    change[0, :19], change[47, 0] = 1.0, 1.0
    assert share_outside(change, np.eye(48, dtype=bool)[::-1]) == pytest.approx(0.05)
    assert share_outside(np.zeros((48, 48)), painted) == 0.0
