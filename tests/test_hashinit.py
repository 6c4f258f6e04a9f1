"""The fixture weight generator: FNV-1a-64 seed, splitmix64 stream, and every manifest checksum."""

import json

import numpy as np
import pytest
import torch

from conftest import fixture_path
from chatface_widgets.testing.hashinit import fnv1a64, hash_state_dict, hash_tensor, splitmix64

MANIFESTS = {
    "arcface": (fixture_path("arcface", "manifest_ir_se50.json"), "state_dict"),
    "diffae256": (fixture_path("diffae", "diffae_ffhq256_hashinit_spec.json"), "state_dict"),
}


def test_known_values():
    assert fnv1a64("a") == 0xAF63DC4C8601EC8C
    assert fnv1a64("") == 0xCBF29CE484222325
    assert int(splitmix64(1234567, 1)[0]) == 6457827717110365317


def test_stream_is_positional():
    whole = splitmix64(99, 10)
    assert np.array_equal(whole[4:], splitmix64(99, 6, start=4))
    t = hash_tensor("k", (3, 4), offset=1.0, scale=0.5)
    assert t.dtype == torch.float32 and t.shape == (3, 4)
    assert float(t.min()) >= 0.5 and float(t.max()) < 1.5
    assert torch.equal(hash_tensor("k", (12,), 1.0, 0.5), t.reshape(-1))


@pytest.mark.parametrize("which", sorted(MANIFESTS))
def test_manifest_checksums(which):
    path, field = MANIFESTS[which]
    spec = json.loads(path.read_text())[field]
    for key, info in spec.items():
        init = info.get("fixture_init", info)
        tensor = hash_state_dict({key: info})[key]
        assert list(tensor.shape) == info["shape"], key
        if "constant" in init:
            assert tensor.dtype == torch.int64 and int(tensor) == init["constant"], key
            continue
        assert tensor.reshape(-1)[:3].tolist() == init["check_first3"], key
        assert tensor.double().sum().item() == pytest.approx(init["check_sum_f64"], rel=1e-12, abs=1e-9), key
