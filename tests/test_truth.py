"""The true-picture measure (eval/truth.py): its pieces on synthetic images, and the report's shape on two faces."""

import json
import math

import numpy as np
import pytest
import torch

from chatface_widgets.eval.truth import (COLUMNS, MODES, chroma, gaussian_blur, quarter_share, region_psnr, sheet_columns,
                                         speckle, summary, truth_report)
from chatface_widgets.eval.sheet import make_sheet
from chatface_widgets.toy.oracle import Oracle, OracleConfig


def test_blur_keeps_flat_images_and_mass():
    flat = np.full((12, 12, 3), 0.4)
    assert np.allclose(gaussian_blur(flat, 1.0), flat)
    dot = np.zeros((15, 15))
    dot[7, 7] = 1.0
    out = gaussian_blur(dot, 1.0)
    assert out.sum() == pytest.approx(1.0, abs=1e-9)
    assert out[7, 7] < 0.2 and out[7, 8] == pytest.approx(out[8, 7])
    assert np.array_equal(gaussian_blur(dot, 0.0), dot)


def test_chroma_is_zero_on_grey():
    grey = np.random.default_rng(0).random((6, 6, 1)).repeat(3, -1)
    assert np.allclose(chroma(grey), 0.0)


def test_speckle_sees_colour_noise_not_luma_noise():
    rng = np.random.default_rng(1)
    mask = np.ones((16, 16), bool)
    smooth = np.full((16, 16, 3), (0.2, 0.2, 0.25))
    luma_noise = smooth + rng.normal(0, 0.1, (16, 16, 1)).repeat(3, -1)
    colour_noise = smooth + rng.normal(0, 0.1, (16, 16, 3))
    assert speckle(smooth, mask) == pytest.approx(0.0, abs=1e-12)
    assert speckle(luma_noise, mask) == pytest.approx(0.0, abs=1e-12)
    assert speckle(colour_noise, mask) > 0.05
    assert math.isnan(speckle(smooth, np.zeros((16, 16), bool)))


def test_region_psnr_blur_forgives_phase_only():
    x = np.zeros((16, 16, 3))
    x[:, ::2] = 1.0  # stripes
    shifted = np.roll(x, 1, axis=1)  # the same stripes, out of phase
    mask = np.ones((16, 16), bool)
    assert region_psnr(shifted, x, mask) == pytest.approx(0.0, abs=1e-9)
    assert region_psnr(shifted, x, mask, sigma=1.0) > 20.0
    assert region_psnr(x, x, mask) == 100.0  # capped


def test_quarter_share():
    assert quarter_share([0.1, 0.1], [0.3, 0.3], [0.9, 0.9]) == pytest.approx(0.25)
    assert quarter_share([0.9], [0.9], [0.1]) == pytest.approx(0.0)
    assert math.isnan(quarter_share([], [], []))
    assert math.isnan(quarter_share([0.5], [0.6], [0.5]))


@pytest.fixture(scope="module")
def report():
    from chatface_widgets.testing.tiny import tiny_engine

    torch.manual_seed(0)
    oracle = Oracle(OracleConfig(image_size=48, stem=4, widths=(8, 8, 8), hidden=16, squeeze=4)).eval()
    rows = []
    out = truth_report(tiny_engine(), faces=2, seed=0, oracle=oracle, attributes=["smile", "eyeglasses"], images=rows)
    return out, rows


def test_report_shape(report):
    out, rows = report
    json.dumps(out, allow_nan=False)
    assert set(out) >= set(MODES) | {"reconstruction", "meta"}
    for mode in MODES:
        assert list(out[mode]) == ["smile", "eyeglasses"]
        for m in out[mode].values():
            assert set(m) >= set(COLUMNS)
            assert m["psnr"] is None or m["psnr_blur"] is None or m["psnr_blur"] >= m["psnr"] - 3.0
    assert len(rows) == 2 and all("original" in r and "reconstruction" in r for r in rows)
    assert "| smile | off |" in summary(out)
    cols = sheet_columns(out)
    assert cols[:2] == ["original", "reconstruction"] and "eyeglasses true" in cols
    assert make_sheet(rows, scale=1, columns=cols).width > 0


def test_chatface_eval_has_the_truth_section(tmp_path, capsys):
    from chatface_widgets.eval.cli import main

    out = tmp_path / "eval.json"
    sheet = tmp_path / "sheet.png"
    assert main(["--model", "tiny", "--faces", "1", "--no-recon", "--no-judges", "--attributes", "smile", "--quiet",
                 "--threads", "1", "--json", str(out), "--sheet", str(sheet)]) == 0
    result = json.loads(out.read_text())
    assert set(result["truth"]) >= {"off", "auto", "reconstruction", "meta"}
    assert "against the true picture" in capsys.readouterr().out
    assert sheet.is_file()


@pytest.mark.needs("open_clip", "pytorch_optimizer")
def test_trainer_truth_option_adds_its_term_and_records_it(tmp_path):
    from chatface_widgets.testing.tiny import tiny_engine
    from chatface_widgets.train.judges import tiny_random_judges
    from chatface_widgets.train.mapper_trainer import encode_pool, toy_training_images, toy_truth_images, train_mapper

    engine = tiny_engine()
    judges = tiny_random_judges(image_size=engine.image_size)
    faces = toy_training_images(2, engine.image_size, seed=0)
    truth = toy_truth_images(2, engine.image_size, "eyeglasses", seed=0)
    assert truth.shape == faces.shape and not torch.equal(truth, faces)  # the same faces, now with glasses
    pool = encode_pool(engine, faces, judges).with_truth(truth)
    out = train_mapper(engine, "eyeglasses", "a face with eyeglasses", "a face", 2, judges, tmp_path, batch=2,
                       pool=pool, progress=False, truth_weight=5.0)
    assert all("truth" in h and h["truth"] > 0 for h in out["history"])
    assert out["card"]["training"]["truth_weight"] == 5.0
    plain = train_mapper(engine, "smile", "a face with a smile", "a face", 1, judges, tmp_path, batch=2,
                         pool=pool.with_truth(None), progress=False)
    assert "truth" not in plain["history"][0] and plain["card"]["training"]["truth_weight"] == 0.0


def test_fit_mapper_learns_a_code_step():
    from chatface_widgets.train.truth_latents import fit_mapper

    gen = torch.Generator().manual_seed(0)
    z = torch.randn(400, 8, generator=gen)
    target = z @ torch.randn(8, 8, generator=gen) * 0.3
    mapper, record = fit_mapper(z, target, iters=300, batch=64, lr=3e-3)
    assert record["heldout_mse"] < 0.5 * record["heldout_target_energy"]
    assert mapper(z[:2]).shape == (2, 8)


def test_a_card_without_sms_conditions_every_step_on_its_edit(tmp_path):
    from chatface_widgets.engine.engine import Engine
    from chatface_widgets.models.mapper import MLPMapper, save_mapper

    torch.manual_seed(0)
    mapper = MLPMapper(128, name="smile")
    with torch.no_grad():
        for w in mapper.parameters():
            w.normal_(0.0, 0.15)  # a step that shows (a fresh mapper's is about zero)
    for folder, sms in (("steady", False), ("plain", None)):
        card = {"attribute": "smile", "synonyms": []} | ({"sms": sms} if sms is not None else {})
        save_mapper(mapper, tmp_path / folder / "smile.safetensors", card)
    results = {}
    for folder in ("steady", "plain"):
        face = Engine.load("toy", mappers=tmp_path / folder, threads=1).open("sample", align=False)
        results[folder] = [np.asarray(face.render({"smile": 1.0}, steps=4, sms=sms, local="off"), np.int16)
                           for sms in (True, False)]
    steady_sms, steady_plain = results["steady"]
    plain_sms, plain_plain = results["plain"]
    assert np.array_equal(steady_sms, steady_plain)  # "sms": false: the same as z_edit at every step
    assert np.array_equal(steady_plain, plain_plain)
    assert not np.array_equal(plain_sms, plain_plain)  # other cards keep SMS


@pytest.mark.needs("open_clip")  # the suspects table asks the toy CLIP which picture it prefers
def test_suspects_table_runs_on_one_face(tmp_path):
    import shutil

    from chatface_widgets.engine.catalogue import find
    from chatface_widgets.engine.engine import Engine
    from chatface_widgets.eval.truth_suspects import suspects

    shutil.copytree(find("toy").folder / "mappers", tmp_path / "mappers")  # the mappers, not the painters
    table = suspects(Engine.load("toy", threads=1, mappers=tmp_path / "mappers"), faces=3, seed=41000, steps=4)
    assert table and all("faces" in row for row in table.values())
    row = next(r for r in table.values() if r["faces"])
    assert set(row) >= {"mapper", "ztrue_sms", "ztrue_const", "truth_recon", "clip"}
