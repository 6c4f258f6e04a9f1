"""IR-SE50 written from scratch vs. the reference network on formula-generated weights (golden fixture)."""

import json

import pytest
import torch

from conftest import fixture_path
from chatface_widgets.models.arcface import IDEmbedder, IRSE50, identity_similarity, load_irse50
from chatface_widgets.testing.hashinit import hash_state_dict

FIXTURES = fixture_path("arcface")
STAGES = ((0, 3), (3, 7), (7, 21), (21, 24))  # body units of stages 1..4
ATOL_EMBED, ATOL_INTERMEDIATE = 1e-5, 1e-4  # fixture README's fp32 tolerances


@pytest.fixture(scope="module")
def manifest():
    return json.loads((FIXTURES / "manifest_ir_se50.json").read_text())["state_dict"]


@pytest.fixture(scope="module")
def golden():
    from safetensors.torch import load_file

    return load_file(str(FIXTURES / "irse50_hashinit_golden.safetensors"))


@pytest.fixture(scope="module")
def weights_file(manifest, tmp_path_factory):
    path = tmp_path_factory.mktemp("irse50") / "model_ir_se50.pth"
    torch.save(hash_state_dict(manifest), path)  # a bare state dict, like the real file
    return path


def test_key_layout_matches_the_weights_file(manifest):
    sd = IRSE50().state_dict()
    assert list(sd) == list(manifest)  # same 397 names, same order
    for key, value in sd.items():
        assert list(value.shape) == manifest[key]["shape"], key
    assert sum(p.numel() for p in IRSE50().parameters()) == 43_797_696


def test_full_network_matches_golden(weights_file, golden):
    torch.manual_seed(0)
    embedder = IDEmbedder.from_file(weights_file)
    embedder.train()  # must stay in eval mode
    assert not embedder.net.training
    net = embedder.net
    with torch.no_grad():
        x = embedder.preprocess(golden["input.images_256"])
        assert torch.equal(x, golden["preprocess.face_pool_112"])
        h = net.input_layer(x)
        checks = [("after_input_layer", h)]
        for i, (lo, hi) in enumerate(STAGES, start=1):
            for unit in net.body[lo:hi]:
                h = unit(h)
            checks.append((f"after_stage{i}", h))
        for name, act in checks:
            mean, absmax = golden[f"intermediate.{name}.spatial_mean"], golden[f"intermediate.{name}.absmax"]
            torch.testing.assert_close(act.mean(dim=(2, 3)), mean, atol=ATOL_INTERMEDIATE, rtol=0)
            torch.testing.assert_close(act.abs().max().reshape(1), absmax, atol=ATOL_INTERMEDIATE, rtol=0)
        torch.testing.assert_close(h, golden["intermediate.after_stage4"], atol=ATOL_INTERMEDIATE, rtol=0)
        pre = net.output_layer(h)
        torch.testing.assert_close(pre, golden["output.features_pre_l2norm"], atol=ATOL_INTERMEDIATE, rtol=0)
        emb = embedder(golden["input.images_256"])
        torch.testing.assert_close(emb, golden["output.embedding"], atol=ATOL_EMBED, rtol=0)
        cos = identity_similarity(emb[0:1], emb[1:2])
        torch.testing.assert_close(cos, golden["output.cosine_01"], atol=ATOL_EMBED, rtol=0)
        # channels_last input must give the same (channel-major) flatten order
        emb_cl = net(x.contiguous(memory_format=torch.channels_last))
        torch.testing.assert_close(emb_cl, golden["output.embedding"], atol=ATOL_EMBED, rtol=0)


def test_loader_variants(weights_file, tmp_path):
    from safetensors.torch import save_file

    sd = torch.load(weights_file, weights_only=True)
    old = {k: v for k, v in sd.items() if not k.endswith("num_batches_tracked")}  # pre-0.4.1 PyTorch file
    torch.save(old, tmp_path / "old.pth")
    key = "output_layer.3.weight"
    assert torch.equal(load_irse50(tmp_path / "old.pth").state_dict()[key], sd[key])
    old.pop("output_layer.4.weight")  # the affine BN1d weight is required: loading stays strict
    save_file(old, str(tmp_path / "broken.safetensors"))
    with pytest.raises(RuntimeError, match="output_layer.4.weight"):
        load_irse50(tmp_path / "broken.safetensors")


def test_other_sizes_are_pooled_to_256_first(weights_file):
    embedder = IDEmbedder.from_file(weights_file)
    x = torch.rand(1, 3, 512, 512) * 2 - 1
    with torch.no_grad():
        a = embedder(x)
        b = embedder(torch.nn.functional.adaptive_avg_pool2d(x, 256))
    torch.testing.assert_close(a, b)
    assert IDEmbedder(embedder.net, pool_to_256=False).preprocess(x[:, :, :256, :256]).shape == (1, 3, 112, 112)
