"""The step policy owns every step rule (issue 26, item 5): snapping for the interpreters, the bound of every door,
and a render that checks its step count once."""

from __future__ import annotations

import pytest

from chatface_widgets.foundation.settings import RenderSettings
from chatface_widgets.foundation.steps import INTERACTIVE_MAX_STEPS, StepPolicy, check_steps, valid_step_counts


@pytest.mark.parametrize("heard,expected", [(37, 38), (1, 2), (0, 2), (7.6, 8), (10_000, 100), (101, 100)])
def test_snap_gives_the_nearest_valid_count_within_the_bound(heard, expected):
    policy = StepPolicy(default=8).bounded()
    snapped = policy.snap(heard)
    assert snapped == expected and snapped in valid_step_counts(INTERACTIVE_MAX_STEPS)


def test_an_unbounded_policy_snaps_up_to_the_schedule():
    assert StepPolicy(default=10).snap(5000) == 1000


def test_every_door_has_the_same_bound(tmp_path):
    from chatface_widgets.cli.main import main
    from chatface_widgets.jobs.recipe import Recipe, RecipeError
    from chatface_widgets.testing.tiny import tiny_engine

    engine = tiny_engine()
    with pytest.raises(RecipeError, match="more than the 100 allowed"):
        Recipe.from_settings(engine, RenderSettings(edits={"smile": 0.5}, steps=200))
    with pytest.raises(ValueError, match="more than the 100 allowed"):
        engine.settings(RenderSettings(edits={"smile": 0.5}, steps=200), bounded=True)
    assert engine.settings(RenderSettings(edits={"smile": 0.5}, steps=200)).steps == 200  # the Python API
    assert main(["edit", "sample:ben", "add a smile", "-o", str(tmp_path / "o.png"), "--model", "tiny",
                 "--steps", "200"]) == 2


def test_a_render_builds_each_schedule_once(monkeypatch):
    from chatface_widgets.engine import engine as engine_module
    from chatface_widgets.testing.tiny import tiny_engine

    made = []
    real = engine_module.make_schedule
    monkeypatch.setattr(engine_module, "make_schedule", lambda *a, **k: made.append(a[0]) or real(*a, **k))
    engine = tiny_engine()
    face = engine.open("sample:ben")
    face.render({"smile": 0.5}, steps=8, local="on")
    face.render({"smile": 0.7}, steps=8, local="on")
    assert made == [8]
    assert check_steps(8) == 8
