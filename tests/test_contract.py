"""One edit contract: strengths, names and steps agree between the engine, the panel, the CLI and the chat."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pytest

from chatface_widgets.foundation.contract import (STRENGTH_MAX, EditContract, StepPolicy, UnknownAttributeError, quantize)
from chatface_widgets.engine.engine import Engine

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="module")
def toy():
    return Engine.load("toy")


def test_synonyms_of_one_attribute_are_merged_capped_and_reported():
    contract = EditContract(("smile", "eyeglasses"), {"smile": ("smiling", "happy", "grin")})
    merged = contract.merge({"smile": 1, "smiling": 1, "happy": 1, "grin": 1})
    assert dict(merged.strengths) == {"smile": STRENGTH_MAX}
    assert len(merged.notes) == 1 and "capped" in merged.notes[0] and "'grin'" in merged.notes[0]
    assert dict(contract.merge({"smile": 0.25, "grin": 0.5}).strengths) == {"smile": 0.75}
    with pytest.raises(ValueError, match="must be a finite number in"):
        contract.merge({"smile": 2})
    with pytest.raises(ValueError):
        contract.merge({"smile": float("nan")})
    with pytest.raises(UnknownAttributeError, match="this model can edit: smile, eyeglasses"):
        contract.merge({"freckles": 0.5})


def test_the_engine_renders_the_merged_strength_and_warns(toy):
    face = toy.open("sample")
    with pytest.warns(UserWarning, match="merged into one strength"):
        merged = face.render({"smile": 1.0, "smiling": 1.0, "happy": 1.0, "grin": 1.0})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        single = face.render({"smile": 1.0})
    # the same edit; the first render decodes its cached reconstruction in the same batch (float rounding)
    assert np.abs(np.asarray(merged, np.int16) - np.asarray(single, np.int16)).max() <= 1
    with pytest.raises(ValueError, match=r"\[-1, 1\]"):
        face.render({"smile": 2.0})


def test_step_policy_is_the_models_and_zero_is_an_error(toy):
    policy = toy.contract.steps
    assert policy.default == toy.info.default_steps == 10
    assert policy.levels()[0] == 10 and policy.levels()[-1] == 50
    for bad in (0, -1, 1, 1001):
        with pytest.raises(ValueError, match="steps"):
            policy.check(bad)
    assert policy.check(1000) == 1000  # the Python API is free
    with pytest.raises(ValueError, match="from Python"):
        toy.contract.bounded().steps.check(1000)  # the panel and the CLI bound what a stray value costs
    with pytest.raises(ValueError, match="at least 2"):
        toy.open("sample").render({}, steps=0)


def test_recommended_strengths_come_from_the_mapper_cards(toy):
    assert toy.contract.recommended_strength("glasses") == 1.0
    assert StepPolicy(default=8).levels() == (8, 20, 50)


def test_the_panel_state_uses_the_same_contract(toy):
    from chatface_widgets.widgets.state import PanelState

    state = PanelState(toy.contract.bounded())
    state.apply({"grin": 0.5})  # a synonym moves the canonical slider
    assert state.snapshot().edits == {"smile": 0.5}
    state.apply({"smile": 7})
    assert state.snapshot().edits == {"smile": quantize(7)} == {"smile": 1.0}
    with pytest.raises(ValueError, match="from Python"):
        state.set_steps(1000)


def test_engine_open_accepts_what_the_cli_accepts(toy):
    first = toy.open("sample")
    assert toy.open("sample:0").image.tobytes() == first.image.tobytes()
    assert toy.open("sample:ben").image.tobytes() != first.image.tobytes()
    assert first.image.size == (toy.image_size, toy.image_size)
    with pytest.raises(FileNotFoundError, match="samples: ada, ben, cleo, dev"):
        toy.open("sample:nobody")


def test_cli_and_panel_read_every_labelled_request_the_same_way(toy):
    from chatface_widgets.cli.main import _make_interpreter
    from chatface_widgets.widgets.loading import make_interpreter

    cli, panel = _make_interpreter("rules", toy), make_interpreter("rules", toy)
    cases = [json.loads(line) for line in (DATA / "chat_requests.jsonl").read_text().splitlines() if line.strip()]
    assert len(cases) > 500
    for case in cases:
        current = case.get("current", {})
        a = cli.parse(case["text"], current=current)
        b = panel.parse(case["text"], current=current)
        assert a == b, case["text"]


def test_the_engine_finds_a_users_mapper_and_says_which_file_it_uses(tmp_path, monkeypatch):
    import shutil

    from chatface_widgets.engine.catalogue import builtin_folder

    mine = tmp_path / "models" / "toy" / "mappers"
    mine.mkdir(parents=True)
    for suffix in (".safetensors", ".json"):
        shutil.copy(builtin_folder() / "mappers" / f"smile{suffix}", mine / f"smile{suffix}")
    monkeypatch.setenv("CHATFACE_HOME", str(tmp_path))
    with pytest.warns(UserWarning, match="using your mapper .*smile.safetensors instead of the shipped one"):
        engine = Engine.load("toy")
    assert engine.registry["smile"].card["_path"] == str(mine / "smile.safetensors")
    assert len(engine.attributes) == 8


def test_a_file_that_is_no_model_is_named_as_such(tmp_path):
    from chatface_widgets.engine.catalogue import find

    photo = tmp_path / "photo.png"
    photo.write_bytes(b"\x89PNG not really")
    with pytest.raises(FileNotFoundError, match="photo.png is not a model file"):
        find(photo)
