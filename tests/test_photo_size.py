"""Images are checked for size from their header, before they are decoded (issue 27)."""

from __future__ import annotations

import struct
import subprocess
import sys
import zlib
from pathlib import Path

import pytest
from PIL import Image

from chatface_widgets.photos import photo as P


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def _zero_png(path: Path, side: int) -> Path:
    """A real, decodable black PNG of side×side pixels: a few hundred KB on disk, gigabytes decoded."""
    row = b"\x00" * (1 + 3 * side)
    packer = zlib.compressobj(9)
    data = b"".join(packer.compress(row) for _ in range(side)) + packer.flush()
    ihdr = struct.pack(">IIBBBBB", side, side, 8, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", data) + _chunk(b"IEND", b""))
    return path


def test_a_small_file_declaring_8900_squared_is_refused_by_name_and_limit(tmp_path):
    bomb = _zero_png(tmp_path / "bomb.png", 8900)
    assert bomb.stat().st_size < 300_000
    with pytest.raises(P.PhotoError) as caught:
        P.load_photo(bomb)
    message = str(caught.value)
    assert str(bomb) in message and f"{P.MAX_PIXELS:,}" in message and "8900×8900" in message
    assert "\n" not in message


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads peak memory from /proc (Linux)")
def test_refusing_it_costs_little_memory(tmp_path):
    """Decoding it would take about 0.9 GB; refusing it from the header takes next to nothing."""
    bomb = _zero_png(tmp_path / "bomb.png", 8900)
    # VmHWM: this process's peak resident memory (ru_maxrss would carry pytest's own peak over exec)
    script = ("import re, sys\n"
              "from chatface_widgets.photos.photo import PhotoError, load_photo\n"
              "def peak():\n    return int(re.search(r'VmHWM:\\s+(\\d+)', open('/proc/self/status').read())[1])\n"
              "before = peak()\n"
              "try:\n    load_photo(sys.argv[1])\nexcept PhotoError:\n    pass\n"
              "print(peak() - before)\n")
    done = subprocess.run([sys.executable, "-c", script, str(bomb)], capture_output=True, text=True, timeout=300,
                          env={"PYTHONPATH": ":".join(sys.path), "OMP_NUM_THREADS": "1"})
    assert done.returncode == 0, done.stderr
    assert int(done.stdout.split()[-1]) < 50 * 1024, done.stdout  # KB: under 50 MB of growth


def test_a_48_megapixel_phone_photo_is_within_the_limit():
    P._check_size((8064, 6048), "phone.jpg")


def test_pillows_own_bomb_warning_refuses_too(tmp_path, monkeypatch):
    path = tmp_path / "face.png"
    Image.new("RGB", (64, 64), "white").save(path)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 3000)  # 4096 pixels: past the warning, under the error
    with pytest.raises(P.PhotoError, match="too large") as caught:
        P.load_photo(path)
    assert str(path) in str(caught.value)
