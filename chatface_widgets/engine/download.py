"""Downloading checkpoints: resumable (HTTP Range into ``<file>.part``), verified (size, sha256), atomic.

Only :func:`download` (and the ``chatface weights`` command built on :func:`main`) touches the
network, and only when a user asks for it.
"""

from __future__ import annotations

import argparse
import hashlib
import http.client
import os
import re
import sys
import urllib.error
import urllib.request
from pathlib import Path

from chatface_widgets.engine import weights as W

CHUNK = 1 << 20
USER_AGENT = "chatface-widgets (python urllib)"


class DownloadError(RuntimeError):
    """The transfer stopped before the end; what arrived is kept in ``.part`` for the next try."""


class WeightsIntegrityError(ValueError):
    """A downloaded or supplied file has the wrong size or sha256."""


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file, read in chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(CHUNK), b""):
            h.update(block)
    return h.hexdigest()


def check_file(path: Path, size: int | None = None, size_tolerance: float = 0.0, sha256: str | None = None) -> None:
    """Raise WeightsIntegrityError unless the file has the expected size (within tolerance) and sha256."""
    n = path.stat().st_size
    if size is not None:
        lo, hi = size * (1 - size_tolerance), size * (1 + size_tolerance)
        if not lo <= n <= hi:
            want = f"{size:,} bytes" if not size_tolerance else f"about {size:,} bytes (+-{size_tolerance:.0%})"
            raise WeightsIntegrityError(f"{path.name}: {n:,} bytes, expected {want}")
    if sha256 is not None:
        digest = sha256_file(path)
        if digest != sha256.lower():
            raise WeightsIntegrityError(f"{path.name}: sha256 {digest} does not match the expected {sha256}")


def _progress(total: int | None, initial: int, name: str, enabled: bool):
    """A tqdm byte counter (a no-op object when disabled)."""
    from tqdm import tqdm  # the plain console bar: no IPython/ipywidgets import from the core

    return tqdm(total=total, initial=initial, unit="B", unit_scale=True, unit_divisor=1024, desc=name,
                disable=not enabled, leave=False)


def _open(url: str, offset: int, timeout: float):
    """GET ``url`` from byte ``offset``; returns (response or None when already complete, resumed?)."""
    headers = {"User-Agent": USER_AGENT}
    if offset:
        headers["Range"] = f"bytes={offset}-"
    try:
        resp = urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=timeout)
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and offset:  # range starts at the end: the .part is already complete
            return None, True
        raise
    if offset and resp.status == 206:
        m = re.match(r"bytes (\d+)-", resp.headers.get("Content-Range", ""))
        if not m or int(m.group(1)) != offset:
            resp.close()
            raise DownloadError(f"{url}: server resumed at the wrong offset ({resp.headers.get('Content-Range')})")
        return resp, True
    return resp, False  # 200: the server ignored the Range header; start over


def fetch(url: str, dest, *, size: int | None = None, size_tolerance: float = 0.0, sha256: str | None = None,
          progress: bool = True, timeout: float = 60.0) -> Path:
    """Download ``url`` to ``dest`` via ``dest.part`` (resumed if present), check it, then rename atomically."""
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    offset = part.stat().st_size if part.is_file() else 0
    if size is not None and offset > size * (1 + size_tolerance):
        part.unlink()  # longer than the whole file can be: not a prefix of it
        offset = 0
    resp, resumed = _open(url, offset, timeout)
    if resp is not None:
        with resp:
            length = resp.headers.get("Content-Length")
            start = offset if resumed else 0
            total = start + int(length) if length is not None else size
            with open(part, "ab" if resumed else "wb") as out, _progress(total, start, dest.name, progress) as bar:
                try:
                    for block in iter(lambda: resp.read(CHUNK), b""):
                        out.write(block)
                        bar.update(len(block))
                except (http.client.IncompleteRead, ConnectionError, TimeoutError, OSError) as exc:
                    out.flush()
                    got = part.stat().st_size
                    raise DownloadError(f"download of {dest.name} stopped at {got:,} bytes ({exc}); "
                                        "run the same command again to resume") from None
        if length is not None and part.stat().st_size != start + int(length):
            raise DownloadError(f"download of {dest.name} ended early; run the same command again to resume")
    try:
        check_file(part, size, size_tolerance, sha256)
    except WeightsIntegrityError:
        part.unlink(missing_ok=True)  # a corrupt file is not a prefix worth resuming
        raise
    os.replace(part, dest)
    return dest


def download(name_or_url: str | W.WeightsEntry, dest=None, progress: bool = True, *, base_url: str | None = None,
             home=None, keep_raw: bool = True, timeout: float = 60.0) -> Path:
    """Fetch a registry checkpoint (verified, converted; returns what ``resolve`` returns) or a plain URL."""
    home = Path(home) if home is not None else None
    if isinstance(name_or_url, str) and re.match(r"^(https?|file)://", name_or_url):
        target = Path(dest) if dest is not None else W.weights_home() / "downloads" / name_or_url.rsplit("/", 1)[-1]
        if target.is_file():
            return target
        try:
            return fetch(name_or_url, target, progress=progress, timeout=timeout)
        except (urllib.error.URLError, OSError) as exc:  # offline, refused, 404, ...
            raise W.MissingWeightsError(f"could not download {name_or_url} ({exc}); put the file at {target}") from exc
    entry = name_or_url if isinstance(name_or_url, W.WeightsEntry) else W.get_entry(name_or_url)
    final = W.local_path(entry, home)
    raw = Path(dest) if dest is not None else W.raw_path(entry, home)
    if final.is_file() and dest is None:
        return final
    if raw.is_file():  # put there by hand, or downloaded before conversion
        try:
            check_file(raw, entry.size, entry.size_tolerance, entry.sha256)
        except WeightsIntegrityError as exc:
            raise WeightsIntegrityError(f"{exc}; delete {raw} and run `chatface weights download {entry.name}`") \
                from None
    else:
        url = W.url_for(entry, base_url)
        if url is None and entry.drive_folder and gdown_available():
            fetch_from_drive(entry, raw, progress=progress, home=home)
        elif url is None:
            raise W.MissingWeightsError(W.missing_message(entry, home, "no direct download URL is published"))
        else:
            _fetch_url(entry, url, raw, progress, timeout, home)
    if not entry.converts:
        return raw
    out = W.convert_file(entry, raw, final)
    if not keep_raw:
        raw.unlink()
    return out


def _fetch_url(entry: W.WeightsEntry, url: str, raw: Path, progress: bool, timeout: float, home) -> None:
    """Fetch a registry file from a URL (a mirror), verified, with a manual-steps error when it fails."""
    try:
        fetch(url, raw, size=entry.size, size_tolerance=entry.size_tolerance, sha256=entry.sha256,
              progress=progress, timeout=timeout)
    except (urllib.error.URLError, OSError) as exc:  # offline, refused, 404, ...
        reason = getattr(exc, "reason", None) or exc
        raise W.MissingWeightsError(W.missing_message(entry, home, f"download from {url} failed ({reason})")) \
            from exc


def gdown_available() -> bool:
    """Whether the optional ``[download]`` extra (gdown) is installed."""
    import importlib.util

    return importlib.util.find_spec("gdown") is not None


def fetch_from_drive(entry: W.WeightsEntry, dest, *, progress: bool = True, home=None) -> Path:
    """Fetch ``entry.basename`` from the authors' public Google Drive folder with gdown, verify it, rename it
    into place. Only the listed file is downloaded (the folder may hold other large files)."""
    import gdown

    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    try:
        listing = gdown.download_folder(url=entry.drive_folder, output=str(dest.parent), quiet=not progress,
                                        skip_download=True)
        wanted = [f for f in listing or () if Path(f.path).name == entry.basename]
        if not wanted:
            raise DownloadError(f"{entry.basename} is not in {entry.drive_folder}")
        got = gdown.download(id=wanted[0].id, output=str(part), quiet=not progress, resume=True)
        if got is None or not part.is_file():
            raise DownloadError("gdown returned no file")
    except Exception as exc:  # noqa: BLE001 - gdown raises many types (quota, HTML page, network)
        reason = f"gdown could not fetch it from Google Drive ({type(exc).__name__}: {str(exc).strip()[:200]})"
        raise W.MissingWeightsError(W.missing_message(entry, home, reason)) from exc
    try:
        check_file(part, entry.size, entry.size_tolerance, entry.sha256)
    except WeightsIntegrityError:
        part.unlink(missing_ok=True)
        raise
    os.replace(part, dest)
    return dest


EXIT_ERROR = 2
EXIT_INTERRUPTED = 130


class _Parser(argparse.ArgumentParser):
    """An argument parser whose usage errors are one ``chatface: error:`` line and exit 2."""

    def error(self, message):
        """Print one line naming the mistake and where the usage is, then exit 2."""
        print(f"chatface: error: {message} (see `{self.prog} --help`)", file=sys.stderr)
        raise SystemExit(EXIT_ERROR)


def _fail(message) -> int:
    """Print an error as ``chatface: error: ...`` (manual steps, if any, on the lines after) and return 2."""
    print(f"chatface: error: {message}", file=sys.stderr)
    return EXIT_ERROR


def main(argv=None, prog: str = "chatface weights") -> int:
    """``chatface weights {list,download,path}``: list the registry, fetch checkpoints, print local paths."""
    parser = _Parser(prog=prog, description="Manage checkpoint files.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    sub.add_parser("list", help="known checkpoints and whether they are present")
    get = sub.add_parser("download", help="download, verify and convert checkpoints")
    get.add_argument("names", nargs="+", metavar="NAME")
    get.add_argument("--base-url", default=None, help=f"mirror base URL (default: ${W.ENV_BASE_URL})")
    get.add_argument("--no-progress", action="store_true")
    get.add_argument("--delete-raw", action="store_true", help="delete the published file after conversion")
    show = sub.add_parser("path", help="print the local file of a checkpoint")
    show.add_argument("name")
    args = parser.parse_args(argv)
    try:
        if args.command == "list":
            for entry in W.REGISTRY.values():
                path = W.local_path(entry)
                state = "present" if path.is_file() else "missing"
                print(f"{entry.name:24s} {state:8s} ~{(entry.size or 0) / 1e6:8.1f} MB  {entry.description}")
            print(f"cache folder: {W.weights_home()}")
        elif args.command == "download":
            for name in args.names:
                path = download(name, progress=not args.no_progress, base_url=args.base_url,
                                keep_raw=not args.delete_raw)
                print(f"{name}: {path}")
        else:
            print(W.resolve(args.name))
    # ValueError: a file that cannot be verified, read or converted (the message names it)
    except (W.MissingWeightsError, W.UnknownWeightsError, DownloadError, ValueError) as exc:
        return _fail(exc.args[0] if isinstance(exc, KeyError) and exc.args else exc)
    except PermissionError as exc:
        return _fail(f"permission denied: {exc.filename or exc}; set ${W.ENV_HOME} to a folder you can write to")
    except OSError as exc:
        return _fail(f"{exc.filename or 'the weights folder'}: {exc.strerror or exc}")
    except KeyboardInterrupt:
        print("chatface: interrupted; what arrived is kept beside the file as .part: run the same command "
              "again to resume", file=sys.stderr)
        return EXIT_INTERRUPTED
    return 0


if __name__ == "__main__":  # python -m chatface_widgets.engine.download download ffhq256_autoenc
    sys.exit(main())
