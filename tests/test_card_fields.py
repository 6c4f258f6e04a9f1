"""A model card is refused field by field, naming the card and the field, before its weights are read (issue 27)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from chatface_widgets.cli.main import main as chatface
from chatface_widgets.models import checkpoint_io
from chatface_widgets.models.card_fields import card_problems
from chatface_widgets.models.diffae import ModelCardError, config_path_for, load_diffae_file, save_diffae
from chatface_widgets.testing.tiny import tiny_model


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """A tiny model's weights and its card, saved once."""
    path = save_diffae(tiny_model(3), tmp_path_factory.mktemp("m") / "m.safetensors")
    return path, json.loads(config_path_for(path).read_text())


def _with_card(tmp_path, saved, edit) -> tuple:
    """A copy of the saved model whose card has been changed by ``edit``; returns (weights, card path)."""
    weights = tmp_path / "m.safetensors"
    weights.write_bytes(saved[0].read_bytes())
    card = json.loads(json.dumps(saved[1]))
    edit(card)
    config_path_for(weights).write_text(json.dumps(card))
    return weights, config_path_for(weights)


def _set(field, value):
    def edit(card):
        card["config"][field] = value
    return edit


@pytest.mark.parametrize("field,value", [
    ("image_size", 100000), ("image_size", "256"), ("image_size", 2.5), ("image_size", True), ("image_size", None),
    ("image_size", 0), ("default_steps", -3), ("model_channels", 10 ** 9), ("z_channels", [512]),
    ("channel_mult", [1, "2"]), ("channel_mult", list(range(1, 40))), ("attn_levels", 4), ("dropout", float("nan")),
    ("prediction", "x0"), ("num_heads", {}),
])
def test_a_bad_config_field_is_one_line_naming_the_card_and_the_field(tmp_path, saved, field, value, monkeypatch):
    weights, card = _with_card(tmp_path, saved, _set(field, value))
    monkeypatch.setattr(checkpoint_io, "read_diffae_checkpoint",
                        lambda *a, **k: pytest.fail("the weights were read before the card was checked"))
    with pytest.raises(ModelCardError) as caught:
        load_diffae_file(weights)
    message = str(caught.value)
    assert str(card) in message and f'"config.{field}"' in message and "\n" not in message


@pytest.mark.parametrize("field,value", [("align", "no"), ("align", 0), ("dtype", "int8"), ("kind", 3),
                                         ("training", [1])])
def test_a_bad_top_level_field_is_named(tmp_path, saved, field, value):
    weights, card = _with_card(tmp_path, saved, lambda c: c.update({field: value}))
    with pytest.raises(ModelCardError, match=f'"{field}"') as caught:
        load_diffae_file(weights)
    assert str(card) in str(caught.value)


def test_every_bad_field_is_listed_in_the_one_line():
    problems = card_problems({"align": "yes", "config": {"image_size": 100000, "prediction": "x0"}})
    assert len(problems) == 3


def test_the_saved_and_shipped_cards_pass(saved):
    from chatface_widgets.engine.catalogue import builtin_folder

    assert card_problems(saved[1]) == []
    for card in sorted(builtin_folder().glob("*.json")):
        assert card_problems(json.loads(card.read_text())) == [], card


def test_the_cli_gives_one_line_and_exit_two(tmp_path, saved, capsys):
    weights, card = _with_card(tmp_path, saved, _set("image_size", 100000))
    assert chatface(["attributes", "--model", str(weights)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("chatface: error: ") and str(card) in err and "image_size" in err
    assert len(err.strip().splitlines()) == 1


def test_an_absurd_image_size_costs_no_memory(tmp_path, saved):
    """Before the check, image_size 100000 reached 15.8 GB; refusing it must not grow the process by 100 MB."""
    weights, _ = _with_card(tmp_path, saved, _set("image_size", 100000))
    script = ("import re, sys\n"
              "from chatface_widgets.cli.main import main\n"
              "import chatface_widgets.engine.engine, chatface_widgets.chat.rules  # imports are not the card's cost\n"
              "peak = lambda: int(re.search(r'VmHWM:\\s+(\\d+)', open('/proc/self/status').read())[1])\n"
              "before = peak()\n"
              "status = main(['edit', 'sample', 'add glasses', '-o', sys.argv[2], '--model', sys.argv[1]])\n"
              "print(status, peak() - before)\n")
    done = subprocess.run([sys.executable, "-c", script, str(weights), str(tmp_path / "out.png")],
                          capture_output=True, text=True, timeout=300,
                          env={"PYTHONPATH": ":".join(sys.path), "OMP_NUM_THREADS": "1", "HOME": str(tmp_path)})
    status, growth = done.stdout.split()[-2:]
    assert status == "2" and int(growth) < 100 * 1024, done.stdout + done.stderr
    assert not (tmp_path / "out.png").exists()
