"""Download and unpack LJSpeech 1.1 with the standard library only.

The archive is 2.7 GB, so the download resumes: bytes go to ``<file>.part`` and a
rerun asks the server for the rest with an HTTP ``Range`` header (appending on
``206 Partial Content``, starting over on a plain ``200``). Only a verified file
is renamed to its final name. On a size or checksum mismatch :class:`DownloadError`
names the expected and actual values; a ``.part`` that is merely short is kept so
the next run resumes it, a ``.part`` that is too long or has the wrong sha256 is
deleted because resuming it could never succeed.

Usage: ``python -m data_prep.ljspeech --out downloads/`` then
``tts prepare downloads/LJSpeech-1.1 --out data/ljspeech``.
"""

from __future__ import annotations

import argparse
import hashlib
import http.client
import os
import re
import shutil
import sys
import tarfile
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path, PurePosixPath

from tqdm import tqdm

LJSPEECH_URL = "https://data.keithito.com/data/speech/LJSpeech-1.1.tar.bz2"
LJSPEECH_SIZE = 2_748_572_632
# The value torchaudio.datasets.LJSPEECH verifies for this exact URL.
LJSPEECH_SHA256 = "be1a30453f28eb8dd26af4101ae40cbf2c50413b1bb21936cbcdc6fae3de8aa5"

_CHUNK = 1 << 20
_CONTENT_RANGE = re.compile(r"bytes\s+(\d+)-(\d+)/(\d+|\*)")


class DownloadError(RuntimeError):
    """A download, its verification or the extraction of the archive failed."""


def sha256_file(path: str | Path) -> str:
    """Hex sha256 of a file, read in chunks (the archive does not fit comfortably in RAM)."""
    path = Path(path)
    digest = hashlib.sha256()
    total = path.stat().st_size
    bar = tqdm(total=total, unit="B", unit_scale=True, desc=f"sha256 {path.name}", leave=False)
    with path.open("rb") as handle, bar:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
            bar.update(len(chunk))
    return digest.hexdigest()


def _verify(path: Path, sha256: str | None, size: int | None, discard: bool) -> None:
    """Check size then sha256; ``discard`` deletes a file that can never become correct."""
    actual_size = path.stat().st_size
    if size is not None and actual_size < size and discard:
        raise DownloadError(
            f"{path}: incomplete, {actual_size} of {size} bytes; kept, rerun to resume"
        )
    if size is not None and actual_size != size:
        if discard:
            path.unlink()
        raise DownloadError(
            f"{path}: size mismatch: expected {size} bytes, actual {actual_size} bytes"
            + ("; deleted" if discard else "; delete it to download again")
        )
    if sha256 is not None:
        actual = sha256_file(path)
        if actual != sha256.lower():
            if discard:
                path.unlink()
            raise DownloadError(
                f"{path}: sha256 mismatch: expected {sha256.lower()}, actual {actual}"
                + ("; deleted" if discard else "; delete it to download again")
            )


def _fetch(url: str, part: Path, size: int | None, timeout: float) -> None:
    """Fetch ``url`` into ``part``, continuing from the bytes it already holds."""
    offset = part.stat().st_size if part.is_file() else 0
    headers = {"User-Agent": "tts-data-prep"}
    if offset:
        headers["Range"] = f"bytes={offset}-"
    try:
        request = urllib.request.Request(url, headers=headers)
        response = urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and offset:
            # The server has nothing past our offset: the .part is bogus, start over.
            part.unlink()
            _fetch(url, part, size, timeout)
            return
        raise DownloadError(f"{url}: HTTP {exc.code} {exc.reason}") from exc
    except (urllib.error.URLError, OSError) as exc:
        raise DownloadError(f"cannot download {url}: {exc}") from exc
    with response:
        if response.status == 206:
            match = _CONTENT_RANGE.match(response.headers.get("Content-Range", ""))
            if match is None or int(match.group(1)) != offset:
                raise DownloadError(
                    f"{url}: server resumed at the wrong offset "
                    f"(asked {offset}, Content-Range {response.headers.get('Content-Range')!r})"
                )
            mode = "ab"
        else:
            offset, mode = 0, "wb"
        length = response.headers.get("Content-Length")
        expected = int(length) if length is not None else None
        total = offset + expected if expected is not None else size
        received = 0
        try:
            with (
                part.open(mode) as out,
                tqdm(total=total, initial=offset, unit="B", unit_scale=True, desc=part.stem) as bar,
            ):
                while chunk := response.read(_CHUNK):
                    out.write(chunk)
                    received += len(chunk)
                    bar.update(len(chunk))
        except (OSError, http.client.HTTPException) as exc:
            raise DownloadError(
                f"{url}: interrupted after {offset + received} bytes ({exc}); "
                f"kept {part}, rerun to resume"
            ) from exc
    if expected is not None and received != expected:
        raise DownloadError(
            f"{url}: connection closed after {offset + received} of {offset + expected} bytes; "
            f"kept {part}, rerun to resume"
        )


def download(
    url: str,
    dest: str | Path,
    sha256: str | None = None,
    size: int | None = None,
    timeout: float = 60.0,
) -> Path:
    """Download ``url`` to ``dest`` resumably and verify it; a verified ``dest`` is reused."""
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    if dest.is_file():
        _verify(dest, sha256, size, discard=False)
        return dest
    part = dest.with_name(dest.name + ".part")
    if size is not None and part.is_file() and part.stat().st_size > size:
        part.unlink()
    if size is None or not part.is_file() or part.stat().st_size < size:
        _fetch(url, part, size, timeout)
    _verify(part, sha256, size, discard=True)
    os.replace(part, dest)
    return dest


def _check_member(member: tarfile.TarInfo, dest: Path, archive: Path) -> None:
    """Reject members that would write outside ``dest`` (absolute, ``..``, escaping links)."""

    def inside(path: Path) -> bool:
        return path == dest or dest in path.parents

    name = PurePosixPath(member.name)
    target = Path(os.path.normpath(dest / name))
    if name.is_absolute() or ".." in name.parts or not inside(target):
        raise DownloadError(f"{archive}: unsafe member {member.name!r} escapes {dest}")
    if member.issym() or member.islnk():
        base = target.parent if member.issym() else dest
        link = Path(os.path.normpath(base / member.linkname))
        if PurePosixPath(member.linkname).is_absolute() or not inside(link):
            raise DownloadError(
                f"{archive}: unsafe link {member.name!r} -> {member.linkname!r} escapes {dest}"
            )
    elif not (member.isfile() or member.isdir()):
        raise DownloadError(f"{archive}: unsupported member type for {member.name!r}")


def extract_tar(archive: str | Path, out_dir: str | Path) -> Path:
    """Unpack a tar(.gz/.bz2/.xz) into ``out_dir`` safely; return its single top folder.

    Extraction goes to a staging folder first and a stamp file records success,
    so an interrupted extraction is redone and a finished one is not.
    """
    archive, out_dir = Path(archive), Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    stamp = out_dir / f".{archive.name}.extracted"
    if stamp.is_file() and (out_dir / stamp.read_text().strip()).is_dir():
        return out_dir / stamp.read_text().strip()
    staging = (out_dir / f".{archive.name}.extracting").resolve()
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    try:
        with tarfile.open(archive, mode="r|*") as tar:
            for member in tar:
                _check_member(member, staging, archive)
                tar.extract(member, staging, filter="data")
    except (tarfile.TarError, EOFError, OSError) as exc:
        shutil.rmtree(staging, ignore_errors=True)
        raise DownloadError(f"cannot extract {archive}: {exc}") from exc
    except DownloadError:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    entries = sorted(staging.iterdir())
    clashes = [entry.name for entry in entries if (out_dir / entry.name).exists()]
    if clashes:
        shutil.rmtree(staging, ignore_errors=True)
        raise DownloadError(
            f"{out_dir} already holds {', '.join(clashes)}; remove it or choose another folder"
        )
    for entry in entries:
        os.replace(entry, out_dir / entry.name)
    staging.rmdir()
    top = entries[0].name if len(entries) == 1 and (out_dir / entries[0].name).is_dir() else "."
    stamp.write_text(top + "\n")
    return out_dir / top


def download_ljspeech(
    url: str = LJSPEECH_URL,
    out_dir: str | Path = "downloads",
    sha256: str | None = None,
    size: int | None = None,
) -> Path:
    """Download + verify + extract LJSpeech; return the corpus root (holding metadata.csv).

    For the official URL the known size and sha256 are checked unless overridden;
    for any other URL only what the caller passes is checked.
    """
    if url == LJSPEECH_URL:
        sha256 = sha256 or LJSPEECH_SHA256
        size = size or LJSPEECH_SIZE
    name = PurePosixPath(urllib.parse.urlparse(url).path).name or "LJSpeech.tar.bz2"
    archive = download(url, Path(out_dir) / name, sha256=sha256, size=size)
    root = extract_tar(archive, out_dir)
    if not (root / "metadata.csv").is_file():
        raise DownloadError(f"{archive} did not unpack to an LJSpeech folder (no metadata.csv)")
    return root


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m data_prep.ljspeech",
        description="Download, verify and unpack LJSpeech 1.1 (resumable).",
    )
    parser.add_argument("--url", default=LJSPEECH_URL, help="archive URL (default: official)")
    parser.add_argument("--out", type=Path, default=Path("downloads"), help="download folder")
    parser.add_argument("--sha256", default=None, help="expected sha256 (default URL: known)")
    parser.add_argument("--size", type=int, default=None, help="expected size in bytes")
    args = parser.parse_args(argv)
    try:
        root = download_ljspeech(args.url, args.out, sha256=args.sha256, size=args.size)
    except DownloadError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"LJSpeech ready at {root}\nnext: tts prepare {root} --out data/ljspeech")
    return 0


if __name__ == "__main__":
    sys.exit(main())
