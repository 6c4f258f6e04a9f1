"""The built-in model's trainer: it learns, checkpoints, resumes where it stopped and exports loadable weights."""

from __future__ import annotations

import json

import torch

from chatface_widgets.engine.engine import Engine
from chatface_widgets.testing.tiny import TINY_CONFIG
from chatface_widgets.train.diffae_trainer import (TrainSettings, export_weights, loss_weights, train,
                                                   training_timesteps, alpha_bar_table)


def test_training_grid_and_weights():
    grid = training_timesteps((8, 20))
    assert 875 in grid.tolist() and 950 in grid.tolist() and 999 not in grid.tolist()
    w = loss_weights(torch.tensor([0, 500, 950]), alpha_bar_table(), cap=5.0)
    assert w[0].item() < 1.01 and w[1].item() == 6.0 and w[2].item() == 6.0


def test_train_resume_and_export(tmp_path):
    settings = TrainSettings(image_size=32, images_per_batch=4, warmup_steps=2, bf16=False)
    first = train(tmp_path / "run", minutes=0.05, settings=settings, config=TINY_CONFIG, log_every=1)
    assert first["step"] >= 1 and (tmp_path / "run" / "ckpt.pt").is_file()
    second = train(tmp_path / "run", minutes=0.03, settings=settings, config=TINY_CONFIG, log_every=1)
    assert second["step"] > first["step"] and second["images"] > first["images"]
    logged = [json.loads(line)["step"] for line in (tmp_path / "run" / "loss.jsonl").read_text().splitlines()]
    assert logged == sorted(logged) and logged[-1] <= second["step"]
    out = export_weights(tmp_path / "run" / "ckpt.pt", tmp_path / "model" / "diffae.safetensors", half=True)
    meta = json.loads(out.with_suffix(".json").read_text())
    assert meta["training"]["step"] == second["step"] and meta["dtype"] == "float16"
    engine = Engine.load(str(tmp_path / "model"), device="cpu")
    assert engine.model.config == TINY_CONFIG
    # the exported JSON can recommend its own step count
    other = export_weights(tmp_path / "run" / "ckpt.pt", tmp_path / "model10" / "diffae.safetensors", default_steps=10)
    assert Engine.load(str(other.parent), device="cpu").info.default_steps == 10
    raw = export_weights(tmp_path / "run" / "ckpt.pt", tmp_path / "raw" / "diffae.safetensors", ema=False)
    assert json.loads(raw.with_suffix(".json").read_text())["training"]["weights"] == "raw"
    ck = torch.load(tmp_path / "run" / "ckpt.pt", weights_only=True)
    loaded = Engine.load(str(raw.parent), device="cpu").model.state_dict()
    name = next(k for k in ck["model"] if k in loaded and ck["model"][k].is_floating_point()
                and not torch.equal(ck["model"][k], ck["ema"][k]))
    assert torch.equal(loaded[name].float(), ck["model"][name].float())
    # a fresh run folder can start from shipped weights and keeps counting
    third = train(tmp_path / "run2", minutes=0.02, settings=settings, init_from=out, log_every=1)
    assert third["step"] > second["step"]


def test_a_training_run_becomes_a_model_that_edit_and_the_engine_accept(tmp_path, capsys):
    """Issue 17.8: `train-diffae --export runs/x/model` writes a model folder; the run's ckpt.pt loads too."""
    from chatface_widgets.cli.main import main as cli_main
    from chatface_widgets.toy import sample_photo

    settings = TrainSettings(image_size=32, images_per_batch=2, warmup_steps=1, bf16=False)
    run = tmp_path / "run"
    train(run, minutes=0.01, settings=settings, config=TINY_CONFIG, log_every=1, export=run / "model")
    card = json.loads((run / "model" / "diffae.json").read_text())
    assert card["align"] is False and card["config"]["prediction"] == TINY_CONFIG.prediction
    for model in (run / "model", run / "ckpt.pt", run):  # the exported folder, the checkpoint, the run folder
        engine = Engine.load(str(model), device="cpu")
        assert engine.model.config == TINY_CONFIG and not engine.info.align
        image = engine.open(sample_photo(0, size=48)).render({}, steps=8)
        assert image.size == (32, 32)
    # convert reads the checkpoint's EMA weights and config, and keeps align false
    dst = tmp_path / "converted" / "diffae.safetensors"
    assert cli_main(["convert", str(run / "ckpt.pt"), str(dst)]) == 0
    assert json.loads(dst.with_suffix(".json").read_text())["align"] is False
    ema = torch.load(run / "ckpt.pt", weights_only=True)["ema"]
    loaded = Engine.load(str(dst.parent), device="cpu").model.state_dict()
    assert all(torch.equal(loaded[k], v) for k, v in ema.items())
