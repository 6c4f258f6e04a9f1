"""``evaluate`` on the tiny random engine: JSON shape, types and invariants (its hit rates mean nothing)."""

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from chatface_widgets.photos import metrics as M
from chatface_widgets.eval.cli import summary
from chatface_widgets.eval.evaluate import (
    METRICS,
    STRENGTHS,
    OpenedFace,
    _as_array,
    _edited_outside,
    attainable,
    evaluate,
    open_faces,
)
from chatface_widgets.eval.plots import save_plots
from chatface_widgets.eval.sheet import make_sheet
from chatface_widgets.testing.tiny import tiny_engine
from chatface_widgets.toy import HELDOUT_SEED_START, render_face, sample_params
from chatface_widgets.toy.oracle import Oracle, OracleConfig, load_oracle

ATTRS = ["smile", "eyeglasses"]


@pytest.fixture(scope="module")
def engine():
    return tiny_engine()


@pytest.fixture(scope="module")
def oracle():
    torch.manual_seed(0)
    return Oracle(OracleConfig(image_size=48, stem=4, widths=(8, 8, 8), hidden=16, squeeze=4)).eval()


class FakeClip:
    """Stand-in ClipJudge: mean colour as the image embedding, a fixed vector per text."""

    def encode_image(self, x):
        return x.mean((2, 3))

    def encode_text(self, texts):
        return torch.tensor([[1.0, float(len(t) % 5), float(i)] for i, t in enumerate(texts)])


class FakeIdentity:
    """Stand-in IdentityJudge: the flattened image, unit-normalised."""

    def embed(self, x):
        return torch.nn.functional.normalize(x.flatten(1), dim=1)


@pytest.fixture(scope="module")
def result(engine, oracle):
    rows = []
    out = evaluate(engine, faces=2, seed=0, oracle=oracle, attributes=ATTRS, progress=False, images=rows,
                   class_mean_per_class=3)
    return out, rows


def _is_number_or_none(v) -> bool:
    return v is None or (isinstance(v, (int, float)) and not isinstance(v, bool))


def test_json_shape_and_types(result):
    out, _ = result
    json.dumps(out, allow_nan=False)  # strict JSON: no nan / inf
    assert set(out) >= {"attributes", "sms_ablation", "multi", "sweep", "meta", "recon", "class_mean_glasses"}
    assert list(out["attributes"]) == ATTRS
    for name, m in out["attributes"].items():
        assert set(m) >= set(METRICS)
        assert all(_is_number_or_none(m[k]) for k in METRICS)
        assert m["s_dir"] is None  # no CLIP judge
        assert 0.0 <= m["sc"] <= 1.0 and 0.0 <= m["id"] <= 1.0
        assert m["unattainable_faces"] >= 0
    for variant in ("with_sms", "without_sms"):
        assert set(out["sms_ablation"][variant]) == set(METRICS)
    assert list(out["without_sms_attributes"]) == ATTRS  # the ablation's average is over these
    for m in METRICS:
        values = [v[m] for v in out["without_sms_attributes"].values() if v[m] is not None]
        average = out["sms_ablation"]["without_sms"][m]
        assert average is None if not values else average == pytest.approx(sum(values) / len(values))
    assert list(out["multi"]) == ["smile+eyeglasses"]
    assert set(out["multi"]["smile+eyeglasses"]["attributes"]) == set(ATTRS)
    for name, entry in out["sweep"].items():
        assert entry["strengths"] == [0.0, *STRENGTHS] and len(entry["mean_reading"]) == 5
        assert isinstance(entry["monotone"], bool)
    assert out["meta"]["identity"] == "oracle" and out["meta"]["faces"] == 2


def test_recon_and_class_mean_reports(result):
    out, _ = result
    recon = out["recon"]
    assert set(recon["psnr"]) == {"8", "20"} and all(isinstance(v, float) for v in recon["psnr"].values())
    assert 0.0 <= recon["random_xT_retention"] <= 1.0
    cm = out["class_mean_glasses"]
    assert cm["training_faces_encoded"] >= 6 and cm["per_class"] == 3
    assert cm["hit_fraction"] is None or 0.0 <= cm["hit_fraction"] <= 1.0


def test_zero_strength_edit_is_the_reconstruction(engine):
    op = open_faces(engine, 1, seed=3)[0]
    recon, zero = op.face.render_many([{}, {"smile": 0.0}], steps=8)
    outside = _edited_outside(op, "smile")
    assert outside.shape == (engine.image_size, engine.image_size) and outside.any() and not outside.all()
    a, b = _as_array(recon), _as_array(zero)
    assert M.spatial_consistency(a, b, outside) == 1.0
    assert M.capped(M.masked_psnr(a, b, outside)) == M.PSNR_CAP


def test_judges_give_s_dir_and_judge_identity(engine, oracle):
    out = evaluate(engine, faces=1, seed=1, oracle=oracle, attributes=["beard"], judges=(FakeClip(), FakeIdentity()),
                   progress=False, recon=False, class_mean=False)
    m = out["attributes"]["beard"]
    assert out["meta"]["identity"] == "judge" and out["meta"]["clip"] is True
    assert -1.0 <= m["s_dir"] <= 1.0 and -1.0 <= m["id"] <= 1.0
    assert "recon" not in out and out["multi"] == {}


@pytest.mark.needs("matplotlib")
def test_sheet_plots_and_summary(result, tmp_path):
    out, rows = result
    sheet = make_sheet(rows, scale=3)
    cols = ["original", "reconstruction", *[c for a in ATTRS for c in (a, f"{a} true")]]
    assert list(rows[0]) == cols
    assert sheet.width >= len(cols) * 32 * 3 and sheet.height >= 2 * 32 * 3
    paths = save_plots(out, tmp_path)
    assert all(p.is_file() and p.stat().st_size > 1000 for p in paths)
    text = summary(out)
    assert "smile" in text and "with_sms" in text


def test_unknown_attribute_is_rejected(engine, oracle):
    with pytest.raises(KeyError):
        evaluate(engine, faces=1, oracle=oracle, attributes=["moustache"], progress=False)
    assert math.isnan(M.nanmean([]))
    assert np.isfinite(M.psnr(np.zeros(3), np.ones(3)))


@pytest.mark.needs("matplotlib")
def test_cli_writes_json_sheet_and_plots(tmp_path, oracle):
    from safetensors.torch import save_file

    from chatface_widgets.eval.cli import main
    from chatface_widgets.models.diffae import save_diffae
    from chatface_widgets.testing.tiny import tiny_model
    from chatface_widgets.toy.oracle import save_oracle

    model_dir = tmp_path / "model"
    save_diffae(tiny_model(), model_dir / "diffae.safetensors", extra={"align": False})
    gen = torch.Generator().manual_seed(1)
    save_file({f"d{i}": torch.randn(32, generator=gen) for i in range(2)}, str(model_dir / "directions.safetensors"))
    card = {"directions": {name: {"key": f"d{i}", "amplitude": 0.5} for i, name in enumerate(ATTRS)}}
    (model_dir / "directions.json").write_text(json.dumps(card))
    save_oracle(oracle, tmp_path / "oracle", {})
    out = tmp_path / "out"
    code = main(["--model", str(model_dir / "diffae.safetensors"), "--faces", "1", "--oracle", str(tmp_path / "oracle"),
                 "--no-judges", "--no-recon", "--quiet", "--json", str(out / "r.json"), "--sheet", str(out / "s.png"),
                 "--plots", str(out), "--device", "cpu"])
    assert code == 0
    result = json.loads((out / "r.json").read_text())
    assert list(result["attributes"]) == ATTRS and result["meta"]["command"].startswith("chatface eval")
    assert (out / "s.png").is_file() and (out / "metrics.png").is_file() and (out / "sweep.png").is_file()


def test_curls_cannot_be_asked_of_a_buzz_cut():
    """The toy world draws no curls on a buzz cut: only a new hairstyle could make such a face a hit."""
    folder = Path(__file__).resolve().parents[1] / "weights" / "toy"
    if not (folder / "oracle.safetensors").is_file():
        pytest.skip("no shipped oracle")
    params = [sample_params(HELDOUT_SEED_START + i) for i in (5, 0)]
    assert [p.hair_style for p in params] == ["buzz", "short"]
    faces = [OpenedFace(p, render_face(p, 48), None) for p in params]
    reach = attainable(load_oracle(folder), faces, ["curly hair", "eyeglasses"])
    assert reach["curly hair"].tolist() == [False, True]
    assert reach["eyeglasses"].tolist() == [True, True]


def test_judges_without_open_clip_fall_back_with_one_line(monkeypatch, capsys):
    """A fresh set-up beside a CPU-only torch has no open_clip: `chatface eval` goes on with the oracle's identity."""
    import chatface_widgets.train.judges as judges
    from chatface_widgets.eval.cli import load_judges

    def no_open_clip(folder):
        raise ModuleNotFoundError("No module named 'open_clip'", name="open_clip")

    monkeypatch.setattr(judges, "load_toy_judges", no_open_clip)
    assert load_judges(Path("weights/toy")) is None
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "open_clip" in err[0] and "[clip]" in err[0]
