"""The toy attribute oracle: shipped weights read held-out faces; predict takes PIL images and tensors."""

from pathlib import Path

import numpy as np
import pytest
import torch

from chatface_widgets.toy import ATTRIBUTES, HELDOUT_SEED_START, render_face, sample_params
from chatface_widgets.toy.oracle import (
    IDENTITY_NAMES,
    Oracle,
    OracleConfig,
    heldout_report,
    load_oracle,
    save_oracle,
)

WEIGHTS = Path(__file__).resolve().parents[1] / "weights" / "toy"
SMALL = OracleConfig(image_size=32, stem=4, widths=(8, 8, 8), hidden=16, squeeze=4)


@pytest.fixture(scope="module")
def shipped():
    if not (WEIGHTS / "oracle.safetensors").is_file():
        pytest.skip(f"no shipped oracle at {WEIGHTS}; train it with `python -m chatface_widgets.toy.oracle --out weights/toy`")
    return load_oracle(WEIGHTS)


def test_shipped_oracle_reads_heldout_faces(shipped):
    report = heldout_report(shipped, n=100, start=HELDOUT_SEED_START + 5000)
    low = {k: v for k, v in report["accuracy_visible"].items() if v < 0.95}
    assert not low, f"held-out accuracy below 0.95: {low}"


def test_shipped_oracle_accepts_pil_and_tensors(shipped):
    faces = [render_face(sample_params(HELDOUT_SEED_START + i), shipped.config.image_size) for i in range(3)]
    from_pil = shipped.predict([f.image for f in faces])
    x = torch.stack([torch.from_numpy(np.asarray(f.image, np.float32)).permute(2, 0, 1) for f in faces]) / 127.5 - 1
    from_tensor = shipped.predict(x)
    single = shipped.predict(faces[0].image)
    for name in (*ATTRIBUTES, *IDENTITY_NAMES):
        np.testing.assert_allclose(from_pil[name], from_tensor[name], atol=1e-5)
        assert single[name].shape == (1,)


def test_predict_is_size_agnostic_and_names_every_output():
    torch.manual_seed(0)
    oracle = Oracle(SMALL).eval()
    out = oracle.predict(torch.rand(2, 3, 48, 48) * 2 - 1)  # resized to 32
    assert set(out) == {*ATTRIBUTES, *IDENTITY_NAMES}
    for name, v in out.items():
        assert v.shape == (2,) and np.isfinite(v).all()
    assert all(0 <= out[a].min() and out[a].max() <= 1 for a in ATTRIBUTES)
    assert -1 <= out["head_x"].min() and out["head_x"].max() <= 1
    assert 0 <= out["background_hue"].min() and out["background_hue"].max() < 1


def test_save_and_load_round_trip(tmp_path):
    torch.manual_seed(0)
    oracle = Oracle(SMALL).eval()
    save_oracle(oracle, tmp_path, {"note": "test"})
    loaded = load_oracle(tmp_path)
    assert loaded.config == SMALL
    x = torch.rand(2, 3, 32, 32) * 2 - 1
    a, b = oracle.predict(x), loaded.predict(x)
    for name in ATTRIBUTES:
        np.testing.assert_allclose(a[name], b[name], atol=2e-2)  # fp16 storage


def test_load_oracle_missing_folder_says_how_to_train(tmp_path):
    with pytest.raises(FileNotFoundError, match="chatface_widgets.toy.oracle"):
        load_oracle(tmp_path)
