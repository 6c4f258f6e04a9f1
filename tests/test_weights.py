"""Checkpoint registry and downloader against a local HTTP server (127.0.0.1, Range support); no internet."""

import dataclasses
import hashlib
import io
import re
import socket
import sys
import threading
import types
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import torch

from conftest import fixture_path
from chatface_widgets.engine import download as D
from chatface_widgets.engine import weights as W
from chatface_widgets.models.latent_classifier import load_latent_classifier
from chatface_widgets.testing.hashinit import hash_tensor


class _Handler(BaseHTTPRequestHandler):
    """Serves ``server.files``; honours ``Range: bytes=N-``; ``server.truncate[path]`` cuts one reply short."""

    def do_GET(self):  # noqa: N802 - http.server API
        srv = self.server
        data = srv.files.get(self.path)
        rng = self.headers.get("Range")
        srv.requests.append((self.path, rng))
        if data is None:
            self.send_error(404)
            return
        start = int(re.match(r"bytes=(\d+)-$", rng).group(1)) if rng else 0
        if start >= len(data) and rng:
            self.send_response(416)
            self.send_header("Content-Range", f"bytes */{len(data)}")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self.send_response(206 if rng else 200)
        if rng:
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        body = data[start:]
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Accept-Ranges", "bytes")
        self.end_headers()
        cut = srv.truncate.pop(self.path, None)
        self.wfile.write(body if cut is None else body[:cut])  # HTTP/1.0: the connection then closes

    def log_message(self, *args):
        pass


@pytest.fixture()
def server():
    srv = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    srv.files, srv.truncate, srv.requests = {}, {}, []
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    srv.url = f"http://127.0.0.1:{srv.server_address[1]}"
    yield srv
    srv.shutdown()
    srv.server_close()


@pytest.fixture()
def home(tmp_path, monkeypatch):
    monkeypatch.setenv(W.ENV_HOME, str(tmp_path / "home"))
    monkeypatch.delenv(W.ENV_BASE_URL, raising=False)
    return tmp_path / "home"


def _classifier_ckpt() -> tuple[bytes, dict]:
    """An official-layout (Lightning) classifier checkpoint with generated tensors."""
    sd = {
        "conds_mean": hash_tensor("conds_mean", (1, 512), 0.0, 0.3),
        "conds_std": hash_tensor("conds_std", (1, 512), 1.0, 0.4),
        "classifier.weight": hash_tensor("classifier.weight", (40, 512), 0.0, 0.08),
        "classifier.bias": hash_tensor("classifier.bias", (40,), 0.0, 0.1),
        "ema_classifier.weight": hash_tensor("ema_classifier.weight", (40, 512), 0.0, 0.08),
        "ema_classifier.bias": hash_tensor("ema_classifier.bias", (40,), 0.0, 0.1),
    }
    buf = io.BytesIO()
    torch.save({"state_dict": sd, "global_step": 0}, buf)
    return buf.getvalue(), sd


def _pin(monkeypatch, name: str, data: bytes) -> W.WeightsEntry:
    """Give a registry entry the exact size and sha256 of ``data`` for this test."""
    entry = dataclasses.replace(W.REGISTRY[name], size=len(data), size_tolerance=0.0,
                                sha256=hashlib.sha256(data).hexdigest())
    monkeypatch.setitem(W.REGISTRY, name, entry)
    return entry


def test_download_resumes_verifies_converts_and_loads(server, home, monkeypatch):
    data, sd = _classifier_ckpt()
    entry = _pin(monkeypatch, "ffhq256_autoenc_cls", data)
    path = "/" + entry.filename
    server.files[path] = data
    server.truncate[path] = len(data) // 3
    raw, final = W.raw_path(entry), W.local_path(entry)

    with pytest.raises(D.DownloadError, match="resume"):
        D.download(entry.name, base_url=server.url, progress=False)
    part = raw.with_name(raw.name + ".part")
    assert part.stat().st_size == len(data) // 3 and not raw.exists() and not final.exists()

    out = D.download(entry.name, base_url=server.url, progress=False)
    assert server.requests[-1] == (path, f"bytes={len(data) // 3}-")  # resumed, not restarted
    assert out == final == W.resolve(entry.name) and not part.exists()
    assert raw.read_bytes() == data

    for source in (final, raw):  # converted safetensors and the official .ckpt load the same
        cls = load_latent_classifier(source)
        assert torch.equal(cls.weight, sd["classifier.weight"]) and torch.equal(cls.bias, sd["classifier.bias"])
        assert torch.equal(cls.conds_mean, sd["conds_mean"]) and torch.equal(cls.conds_std, sd["conds_std"])
    from safetensors.torch import load_file

    assert sorted(load_file(str(final))) == ["classifier.bias", "classifier.weight", "conds_mean", "conds_std"]


def test_base_url_from_environment(server, home, monkeypatch):
    data, _ = _classifier_ckpt()
    entry = _pin(monkeypatch, "ffhq128_autoenc_cls", data)
    server.files["/" + entry.filename] = data
    monkeypatch.setenv(W.ENV_BASE_URL, server.url + "/")
    assert D.download(entry.name, progress=False) == W.local_path(entry)


def test_corrupt_download_is_rejected_and_leaves_nothing(server, home, monkeypatch):
    data, _ = _classifier_ckpt()
    entry = _pin(monkeypatch, "ffhq256_autoenc_cls", data)
    bad = bytearray(data)
    bad[len(bad) // 2] ^= 0xFF
    server.files["/" + entry.filename] = bytes(bad)
    with pytest.raises(D.WeightsIntegrityError, match="sha256"):
        D.download(entry.name, base_url=server.url, progress=False)
    raw = W.raw_path(entry)
    assert not raw.exists() and not raw.with_name(raw.name + ".part").exists()
    assert not W.local_path(entry).exists()
    with pytest.raises(W.MissingWeightsError):
        W.resolve(entry.name)


def test_wrong_size_is_rejected(server, home, monkeypatch):
    data, _ = _classifier_ckpt()
    entry = _pin(monkeypatch, "ffhq256_autoenc_cls", data)
    server.files["/" + entry.filename] = data + b"extra"
    with pytest.raises(D.WeightsIntegrityError, match="bytes"):
        D.download(entry.name, base_url=server.url, progress=False)
    assert not W.raw_path(entry).exists()


def test_resolve_missing_names_the_command_and_the_manual_path(home):
    with pytest.raises(W.MissingWeightsError) as err:
        W.resolve("ffhq256_autoenc")
    assert isinstance(err.value, FileNotFoundError)
    msg = str(err.value)
    assert "chatface weights download ffhq256_autoenc" in msg
    assert str(home / "downloads" / "ffhq256_autoenc" / "last.ckpt") in msg
    with pytest.raises(W.UnknownWeightsError, match="known:"):
        W.resolve("no_such_model")


def test_offline_download_raises_missing_weights(home, monkeypatch):
    monkeypatch.setattr(D, "gdown_available", lambda: False)  # never the network, even where gdown is installed
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(W.MissingWeightsError, match="chatface weights download ffhq256_autoenc_cls"):
        D.download("ffhq256_autoenc_cls", base_url=f"http://127.0.0.1:{port}", progress=False, timeout=5)
    with pytest.raises(W.MissingWeightsError, match="no direct download URL"):
        D.download("ffhq256_autoenc", progress=False)  # published as a Google Drive folder only


def test_a_file_put_by_hand_is_converted_by_resolve(home, monkeypatch):
    data, sd = _classifier_ckpt()
    entry = _pin(monkeypatch, "ffhq128_autoenc_cls", data)
    raw = W.raw_path(entry)
    raw.parent.mkdir(parents=True)
    raw.write_bytes(data)
    out = W.resolve(entry.name)
    assert out == W.local_path(entry)
    assert torch.equal(load_latent_classifier(out).weight, sd["classifier.weight"])


def _settings_card(entry, **settings):
    """The JSON beside a downloaded file whose topology is not the official one (tests use tiny stand-ins)."""
    import json

    card = W.raw_path(entry).with_suffix(".json")
    card.parent.mkdir(parents=True, exist_ok=True)
    card.write_text(json.dumps({"prediction": "eps", "default_steps": 20, **settings}))


def test_diffae_checkpoint_is_converted_to_ema_safetensors(server, home, monkeypatch):
    from safetensors.torch import load_file

    from chatface_widgets.models.diffae import load_diffae

    tiny = load_file(str(fixture_path("diffae", "diffae_tiny_weights.safetensors")))
    state = {f"model.{k}": torch.zeros_like(v) for k, v in tiny.items()}  # raw weights must be ignored
    state.update({f"ema_model.{k}": v for k, v in tiny.items()})
    state["x_T"] = torch.zeros(2, 3, 64, 64)
    buf = io.BytesIO()
    torch.save({"state_dict": state, "global_step": 0}, buf)
    entry = _pin(monkeypatch, "ffhq256_autoenc", buf.getvalue())
    server.files["/" + entry.filename] = buf.getvalue()
    _settings_card(entry, image_size=64)  # a stand-in of another topology: its settings must be stated
    out = D.download(entry.name, base_url=server.url, progress=False, keep_raw=False)
    assert out == W.resolve(entry.name) and not W.raw_path(entry).exists()
    model = load_diffae(out)
    got = model.state_dict()
    assert all(torch.equal(got[k], v) for k, v in tiny.items())


def test_cli_path_and_list(home, capsys):
    assert D.main(["path", "ffhq256_autoenc_cls"]) == 2
    assert "chatface weights download ffhq256_autoenc_cls" in capsys.readouterr().err
    assert D.main(["list"]) == 0
    assert "clip_vit_b32_openai" in capsys.readouterr().out


def test_registry_entries_are_complete():
    for entry in W.REGISTRY.values():
        assert entry.source and entry.licence and entry.loader and entry.filename
        assert entry.size and entry.size > 0
        assert entry.sha256 is None or re.fullmatch(r"[0-9a-f]{64}", entry.sha256)


def test_official_layout_diffae_download_convert_load_and_render(server, home, monkeypatch):
    """A generated official-layout Lightning checkpoint: download → verify → convert → Engine.load → render."""
    from chatface_widgets.engine.engine import Engine
    from chatface_widgets.testing.tiny import tiny_model
    from chatface_widgets.toy import sample_photo

    model = tiny_model(5)
    z_dim = model.config.z_channels
    sd = {**{f"model.{k}": torch.zeros_like(v) for k, v in model.state_dict().items()},
          **{f"ema_model.{k}": v for k, v in model.state_dict().items()}, "x_T": torch.randn(2, 3, 32, 32)}
    buf = io.BytesIO()
    torch.save({"state_dict": sd, "global_step": 7}, buf)
    entry = _pin(monkeypatch, "ffhq256_autoenc", buf.getvalue())
    server.files["/" + entry.filename] = buf.getvalue()
    _settings_card(entry, image_size=32)
    cls = {"conds_mean": torch.zeros(1, z_dim), "conds_std": torch.ones(1, z_dim),
           "classifier.weight": hash_tensor("w", (40, z_dim), 0.0, 0.1), "classifier.bias": torch.zeros(40),
           "ema_classifier.weight": torch.zeros(40, z_dim), "ema_classifier.bias": torch.zeros(40)}
    cbuf = io.BytesIO()
    torch.save({"state_dict": cls, "global_step": 0}, cbuf)
    cls_entry = _pin(monkeypatch, "ffhq256_autoenc_cls", cbuf.getvalue())
    server.files["/" + cls_entry.filename] = cbuf.getvalue()

    with pytest.raises(W.MissingWeightsError, match="chatface weights download ffhq256_autoenc"):
        Engine.load("ffhq256")
    assert D.download("ffhq256_autoenc", base_url=server.url, progress=False) == W.local_path(entry)
    D.download("ffhq256_autoenc_cls", base_url=server.url, progress=False)
    engine = Engine.load("ffhq256", device="cpu")
    assert engine.info.align and "smile" in engine.attributes and "wavy hair" in engine.attributes
    assert len(engine.attributes) == 40
    face = engine.open(sample_photo(0, size=64), align=False)
    recon, edit = face.render({}, steps=8), face.render({"smile": 1.0, "beard": -0.5}, steps=8)
    assert recon.size == (32, 32)
    assert recon.tobytes() != edit.tobytes()


def test_download_without_a_mirror_gives_the_manual_steps(home, monkeypatch, capsys):
    """Issue 17.7: the message names the official folder, the file, where it goes and the command after."""
    monkeypatch.setattr(D, "gdown_available", lambda: False)
    assert D.main(["download", "ffhq256_autoenc", "--no-progress"]) == 2
    err = capsys.readouterr().err
    entry = W.REGISTRY["ffhq256_autoenc"]
    assert entry.drive_folder and entry.drive_folder in err
    assert "Download the file last.ckpt" in err
    assert f"Put it at {home / 'downloads' / 'ffhq256_autoenc' / 'last.ckpt'}" in err
    assert "chatface weights download ffhq256_autoenc" in err and "converts it to" in err
    assert "chatface-widgets[download]" in err and W.ENV_BASE_URL in err


class _FakeGdown:
    """Stands in for gdown: lists a folder and "downloads" a file from memory; records every call."""

    def __init__(self, files: dict):
        self.files, self.calls = files, []

    def download_folder(self, **kwargs):
        self.calls.append(("download_folder", kwargs))
        return [types.SimpleNamespace(id=f"id-{name}", path=f"folder/{name}", local_path=None) for name in self.files]

    def download(self, **kwargs):
        self.calls.append(("download", kwargs))
        Path(kwargs["output"]).write_bytes(self.files[kwargs["id"][3:]])
        return kwargs["output"]


def test_download_uses_gdown_for_the_official_folder_when_installed(home, monkeypatch):
    data, sd = _classifier_ckpt()
    entry = _pin(monkeypatch, "ffhq256_autoenc_cls", data)
    fake = _FakeGdown({"latent.pkl": b"not wanted", "last.ckpt": data})
    monkeypatch.setitem(sys.modules, "gdown", fake)
    monkeypatch.setattr(D, "gdown_available", lambda: True)
    assert D.main(["download", entry.name, "--no-progress"]) == 0
    (kind, listing), (kind2, fetched) = fake.calls
    assert kind == "download_folder" and listing["url"] == entry.drive_folder and listing["skip_download"] is True
    assert kind2 == "download" and fetched["id"] == "id-last.ckpt"  # only the file we need
    assert torch.equal(load_latent_classifier(W.local_path(entry)).weight, sd["classifier.weight"])
    assert not list(W.raw_path(entry).parent.glob("*.part"))


def test_gdown_failure_or_wrong_file_leaves_nothing_and_gives_the_manual_steps(home, monkeypatch):
    data, _ = _classifier_ckpt()
    entry = _pin(monkeypatch, "ffhq256_autoenc_cls", data)
    monkeypatch.setattr(D, "gdown_available", lambda: True)
    monkeypatch.setitem(sys.modules, "gdown", _FakeGdown({"other.ckpt": data}))
    with pytest.raises(W.MissingWeightsError, match="last.ckpt is not in"):
        D.download(entry.name, progress=False)
    monkeypatch.setitem(sys.modules, "gdown", _FakeGdown({"last.ckpt": data[:-10]}))  # truncated by Drive
    with pytest.raises(D.WeightsIntegrityError):
        D.download(entry.name, progress=False)
    assert not W.raw_path(entry).exists() and not W.local_path(entry).exists()
