"""Data preparation: corpus readers, validation/skip reasons, features, resume, splits, download."""

from __future__ import annotations

import hashlib
import http.server
import io
import json
import random
import re
import shutil
import tarfile
import threading
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from data_prep.corpora import (
    CorpusError,
    detect_layout,
    read_arctic_layout,
    read_corpus,
    read_ljspeech_layout,
)
from data_prep.ljspeech import DownloadError, download, download_ljspeech, extract_tar
from data_prep.ljspeech import main as ljspeech_main
from data_prep.prepare import PrepareError, assign_splits, prepare_dataset
from tts.audio import load_audio, log_mel, preprocess
from tts.cli import main as cli_main
from tts.config import load_config

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"
MINI = SHARED / "ljspeech_mini"
needs_mini = pytest.mark.skipif(
    not (MINI / "metadata.csv").is_file(), reason=f"real LJSpeech sample not found at {MINI}"
)

# Short clips keep the whole file fast; max_seconds is lowered so "too long" stays cheap.
FAST = ["data.max_seconds=4.0"]


def speech_like(seconds: float, sr: int, seed: int = 0, pad: float = 0.2) -> np.ndarray:
    """Voiced harmonics under a syllable-rate envelope, with silence either side (to trim)."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * sr)) / sr
    f0 = 120 + 20 * np.sin(2 * np.pi * 0.7 * t)
    phase = 2 * np.pi * np.cumsum(f0) / sr
    voiced = sum(np.sin(k * phase) / k for k in range(1, 12))
    envelope = 0.55 + 0.45 * np.sin(2 * np.pi * 4 * t) ** 2
    wav = 0.4 * voiced / np.abs(voiced).max() * envelope + 0.005 * rng.standard_normal(t.size)
    silence = np.zeros(int(pad * sr))
    return np.concatenate([silence, wav, silence]).astype(np.float32)


def write_lj_corpus(root: Path, rows: list[tuple[str, str]]) -> Path:
    (root / "wavs").mkdir(parents=True, exist_ok=True)
    lines = [f"{uid}|{text}|{text}" for uid, text in rows]
    (root / "metadata.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return root


@pytest.fixture(scope="module")
def lj_corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """LJ layout: four good clips (wav/flac/ogg, 16 and 22.05 kHz), one per skip reason."""
    root = write_lj_corpus(
        tmp_path_factory.mktemp("lj") / "corpus",
        [
            ("S001", "A sixteen kHz wav file."),
            ("S002", 'A sixteen kHz FLAC file, with "a stray quote.'),
            ("S003", "A native rate wav file."),
            ("S004", "An Ogg Vorbis file."),
            ("S010", "No audio exists for this line."),
            ("S011", "Garbage bytes."),
            ("S012", "Digital silence."),
            ("S013", "A square wave at full scale."),
            ("S014", "Short."),
            ("S015", "This one goes on and on."),
            ("S016", "   "),
        ],
    )
    wavs = root / "wavs"
    sf.write(wavs / "S001.wav", speech_like(1.5, 16000, 1), 16000)
    sf.write(wavs / "S002.flac", speech_like(1.2, 16000, 2), 16000)
    sf.write(wavs / "S003.wav", speech_like(1.0, 22050, 3), 22050)
    sf.write(wavs / "S004.ogg", speech_like(1.1, 22050, 4), 22050)
    (wavs / "S011.wav").write_bytes(b"RIFF\x00\x01garbage, not a wave file" * 3)
    sf.write(wavs / "S012.wav", np.zeros(24000, dtype=np.float32), 16000)
    square = np.sign(np.sin(2 * np.pi * 200 * np.arange(24000) / 16000))
    sf.write(wavs / "S013.wav", square.astype(np.float32), 16000, subtype="FLOAT")
    sf.write(wavs / "S014.wav", speech_like(0.25, 16000, 5, pad=0.1), 16000)
    sf.write(wavs / "S015.wav", speech_like(5.0, 16000, 6), 16000)
    sf.write(wavs / "S016.wav", speech_like(1.0, 16000, 7), 16000)
    return root


EXPECTED_SKIPS = {
    "S010": "missing",
    "S011": "unreadable",
    "S012": "silent",
    "S013": "clipped",
    "S014": "too_short",
    "S015": "too_long",
    "S016": "empty_text",
}
KEPT = ["S001", "S002", "S003", "S004"]


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.fixture(scope="module")
def prepared(lj_corpus: Path, tmp_path_factory: pytest.TempPathFactory):
    out = tmp_path_factory.mktemp("prepared")
    summary = prepare_dataset(lj_corpus, out, load_config(None, FAST), workers=0)
    return out, summary


# --------------------------------------------------------------------------- readers


def test_ljspeech_reader_keeps_quotes_and_finds_any_extension(tmp_path: Path) -> None:
    root = write_lj_corpus(tmp_path, [("A1", 'He said "hello there'), ("A2", "two")])
    with (root / "metadata.csv").open("a") as handle:
        handle.write("A3|only two columns\nA4\n")
    sf.write(root / "wavs" / "A1.flac", np.zeros(100, dtype=np.float32), 16000)
    sf.write(root / "wavs" / "A2.flac", np.zeros(100, dtype=np.float32), 16000)
    sf.write(root / "wavs" / "A2.wav", np.zeros(100, dtype=np.float32), 16000)
    (root / "wavs" / "A3.txt").write_text("not audio")
    utts = {u.id: u for u in read_ljspeech_layout(root)}
    assert list(utts) == ["A1", "A2", "A3", "A4"]
    assert utts["A1"].text == 'He said "hello there'
    assert utts["A1"].audio_path == root / "wavs" / "A1.flac"
    assert utts["A2"].audio_path == root / "wavs" / "A2.wav"
    assert utts["A3"].text == "only two columns" and utts["A3"].audio_path is None
    assert utts["A4"].text == ""
    assert detect_layout(root) == "ljspeech"


def test_ljspeech_reader_rejects_unsafe_and_duplicate_ids(tmp_path: Path) -> None:
    write_lj_corpus(tmp_path / "a", [("../escape", "x")])
    with pytest.raises(CorpusError, match="invalid utterance id"):
        read_corpus(tmp_path / "a")
    write_lj_corpus(tmp_path / "b", [("X", "x"), ("X", "y")])
    with pytest.raises(CorpusError, match="metadata.csv:2: duplicate"):
        read_corpus(tmp_path / "b")


def make_arctic(root: Path) -> Path:
    (root / "etc").mkdir(parents=True)
    (root / "wav").mkdir()
    (root / "etc" / "txt.done.data").write_text(
        '( arctic_a0001 "Author of the danger trail, Philip Steels, etc." )\n'
        '( arctic_a0002 "Not at this particular case, Tom, apologized Whittemore." )\n'
        '( arctic_b0001 "He said \\"yes\\" twice." )\n'
    )
    for i, uid in enumerate(["arctic_a0001", "arctic_a0002", "arctic_b0001"]):
        sf.write(root / "wav" / f"{uid}.wav", speech_like(1.0 + 0.2 * i, 16000, 10 + i), 16000)
    return root


def test_arctic_layout_reads_and_prepares(tmp_path: Path) -> None:
    root = make_arctic(tmp_path / "cmu_us_tst_arctic")
    assert detect_layout(root) == "arctic"
    utts = list(read_arctic_layout(root))
    assert [u.id for u in utts] == ["arctic_a0001", "arctic_a0002", "arctic_b0001"]
    assert utts[0].text == "Author of the danger trail, Philip Steels, etc."
    assert utts[2].text == 'He said "yes" twice.'
    assert all(u.speaker == "tst" and u.audio_path.is_file() for u in utts)

    summary = prepare_dataset(root, tmp_path / "out", load_config(None, FAST), workers=0)
    rows = read_jsonl(tmp_path / "out" / "all.jsonl")
    assert summary.kept == 3 and not summary.skipped
    assert [r["speaker"] for r in rows] == ["tst"] * 3
    assert {r["split"] for r in rows} == {"train", "val", "test"}


def test_unknown_layout_and_bad_path_are_clear(tmp_path: Path) -> None:
    with pytest.raises(CorpusError, match="unknown corpus layout"):
        detect_layout(tmp_path)
    with pytest.raises(CorpusError, match="not found"):
        read_corpus(tmp_path / "nope", "ljspeech")


# --------------------------------------------------------------------------- prepare


def test_every_skip_reason_is_reported(prepared) -> None:
    out, summary = prepared
    assert summary.skipped == EXPECTED_SKIPS
    assert summary.total == 11 and summary.kept == len(KEPT)
    assert all(summary.details[uid] for uid in EXPECTED_SKIPS)
    saved = json.loads((out / "summary.json").read_text())
    assert {s["id"]: s["reason"] for s in saved["skipped"]} == EXPECTED_SKIPS
    assert saved["counts"]["missing"] == 1 and saved["counts"]["too_long"] == 1
    text = summary.format()
    for uid, reason in EXPECTED_SKIPS.items():
        assert re.search(rf"{uid}\s+{reason}", text)


def test_manifests_and_features(prepared) -> None:
    out, _ = prepared
    rows = read_jsonl(out / "all.jsonl")
    assert [r["id"] for r in rows] == KEPT
    split_rows = [r for name in ("train", "val", "test") for r in read_jsonl(out / f"{name}.jsonl")]
    assert sorted(r["id"] for r in split_rows) == KEPT
    for row in rows:
        assert set(row) == {
            "id",
            "text",
            "normalized_text",
            "wav_path",
            "duration",
            "n_frames",
            "mel_path",
            "split",
        }
        assert Path(row["wav_path"]).is_absolute() and Path(row["wav_path"]).is_file()
        assert row["mel_path"] == f"mels/{row['id']}.npy"
        mel = np.load(out / row["mel_path"])
        assert mel.dtype == np.float32 and mel.shape == (80, row["n_frames"])
        # Features are at 22.05 kHz whatever the file's rate: frames follow trimmed duration.
        assert row["n_frames"] == round(row["duration"] * 22050) // 256
        assert np.isfinite(mel).all()
    by_id = {r["id"]: r for r in rows}
    assert 1.3 < by_id["S001"]["duration"] < 1.8  # 16 kHz, 1.5 s of voice + trimmed padding
    assert by_id["S002"]["text"] == 'A sixteen kHz FLAC file, with "a stray quote.'
    assert by_id["S002"]["normalized_text"]
    assert (out / "audio_config.json").is_file()

    # The cached feature is exactly tts.audio's pipeline on the resampled file.
    wav = preprocess(load_audio(by_id["S002"]["wav_path"], 22050), load_config().audio)
    expected = log_mel(wav, load_config().audio).numpy()
    np.testing.assert_allclose(np.load(out / by_id["S002"]["mel_path"]), expected, atol=1e-5)

    stats = json.loads((out / "stats.json").read_text())
    train = [r for r in rows if r["split"] == "train"]
    assert stats["count"] == len(train) and stats["frames"] == sum(r["n_frames"] for r in train)
    assert len(stats["mean"]) == len(stats["std"]) == 80
    frames = np.concatenate([np.load(out / r["mel_path"]) for r in train], axis=1)
    np.testing.assert_allclose(stats["mean"], frames.mean(axis=1), atol=1e-4)
    np.testing.assert_allclose(stats["std"], frames.std(axis=1), atol=1e-4)


def mtimes(out: Path) -> dict[str, int]:
    return {p.name: p.stat().st_mtime_ns for p in (out / "mels").glob("*.npy")}


def test_second_run_recomputes_nothing(lj_corpus: Path, tmp_path: Path) -> None:
    config = load_config(None, FAST)
    first = prepare_dataset(lj_corpus, tmp_path, config, workers=0)
    before = mtimes(tmp_path)
    manifest = (tmp_path / "all.jsonl").read_text()
    second = prepare_dataset(lj_corpus, tmp_path, config, workers=0)
    # The 4 kept items and the 5 skipped only after reading audio were all reused.
    assert first.computed == 9 and second.computed == 0 and second.reused == 9
    assert mtimes(tmp_path) == before
    assert (tmp_path / "all.jsonl").read_text() == manifest
    assert second.skipped == EXPECTED_SKIPS


def test_killed_run_resumes_the_rest(lj_corpus: Path, tmp_path: Path) -> None:
    config = load_config(None, FAST)
    prepare_dataset(lj_corpus, tmp_path, config, workers=0)
    manifest = (tmp_path / "all.jsonl").read_text()
    journal = tmp_path / ".done.jsonl"
    lines = journal.read_text().splitlines()
    done = [json.loads(line)["id"] for line in lines[:4]]
    # A killed run: half the items journaled, the last line torn mid-write.
    journal.write_text("\n".join(lines[:4]) + '\n{"id": "S0')
    for npy in (tmp_path / "mels").glob("*.npy"):
        if npy.stem not in done:
            npy.unlink()
    before = mtimes(tmp_path)
    resumed = prepare_dataset(lj_corpus, tmp_path, config, workers=0)
    assert resumed.reused == 4 and resumed.computed == 5
    assert all(mtimes(tmp_path)[name] == t for name, t in before.items())
    assert (tmp_path / "all.jsonl").read_text() == manifest
    assert resumed.skipped == EXPECTED_SKIPS


def test_changed_audio_file_is_recomputed(lj_corpus: Path, tmp_path: Path) -> None:
    corpus = shutil.copytree(lj_corpus, tmp_path / "corpus")
    config = load_config(None, FAST)
    prepare_dataset(corpus, tmp_path / "out", config, workers=0)
    sf.write(corpus / "wavs" / "S012.wav", speech_like(1.0, 16000, 99), 16000)
    again = prepare_dataset(corpus, tmp_path / "out", config, workers=0)
    assert again.computed == 1 and "S012" not in again.skipped


def test_audio_config_mismatch_refuses_to_resume(prepared, lj_corpus: Path) -> None:
    out, _ = prepared
    other = load_config(None, [*FAST, "audio.sample_rate=16000"])
    with pytest.raises(PrepareError, match=r"different audio config.*sample_rate: 22050.*16000"):
        prepare_dataset(lj_corpus, out, other, workers=0)


def test_split_is_deterministic_and_order_free() -> None:
    ids = [f"LJ{i:03d}-{j:04d}" for i in range(1, 5) for j in range(1, 251)]
    first = assign_splits(ids, 0.05, 0.05, seed=1234)
    shuffled = ids[:]
    random.Random(0).shuffle(shuffled)
    assert assign_splits(shuffled, 0.05, 0.05, seed=1234) == first
    counts = {name: list(first.values()).count(name) for name in ("train", "val", "test")}
    assert 20 <= counts["val"] <= 80 and 20 <= counts["test"] <= 80
    assert assign_splits(ids, 0.05, 0.05, seed=1) != first
    # Adding utterances never moves existing ones.
    grown = assign_splits([*ids, "NEW-0001", "NEW-0002"], 0.05, 0.05, seed=1234)
    assert all(grown[uid] == split for uid, split in first.items())
    for n in (3, 4, 7):
        small = assign_splits([f"x{i}" for i in range(n)], 0.05, 0.05, seed=1234)
        assert {"train", "val", "test"} == set(small.values())
    assert set(assign_splits(["a", "b", "c"], 0.0, 0.05, seed=0).values()) == {"train", "test"}


def test_same_corpus_same_split_twice(lj_corpus: Path, prepared, tmp_path: Path) -> None:
    out, _ = prepared
    prepare_dataset(lj_corpus, tmp_path, load_config(None, FAST), workers=0)
    for name in ("train", "val", "test"):
        assert [r["id"] for r in read_jsonl(tmp_path / f"{name}.jsonl")] == [
            r["id"] for r in read_jsonl(out / f"{name}.jsonl")
        ]


def test_cli_prepare_and_bad_path(lj_corpus: Path, tmp_path: Path, capsys) -> None:
    assert cli_main(["prepare", str(tmp_path / "missing"), "--out", str(tmp_path / "o")]) == 2
    assert "corpus folder not found" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    assert cli_main(["prepare", str(tmp_path / "empty"), "--out", str(tmp_path / "o")]) == 2
    assert "unknown corpus layout" in capsys.readouterr().err
    args = ["prepare", str(lj_corpus), "--out", str(tmp_path / "o"), "--workers", "0"]
    assert cli_main([*args, "--set", *FAST, "data.split_seed=7"]) == 0
    out = capsys.readouterr().out
    assert "prepared 4 of 11" in out and "S013" in out and "clipped" in out
    assert cli_main([*args, "--set", "audio.n_mels=64"]) == 2
    assert "different audio config" in capsys.readouterr().err


# --------------------------------------------------------------------------- real data


@needs_mini
def test_ljspeech_mini_all_kept(tmp_path: Path) -> None:
    summary = prepare_dataset(MINI, tmp_path, load_config(), workers=2)
    rows = read_jsonl(tmp_path / "all.jsonl")
    assert len(rows) == 32 and len(list((tmp_path / "mels").glob("*.npy"))) == 32
    # Real LJSpeech is not clipped at the default clip_fraction (nor anything else).
    assert summary.skipped == {}
    assert {r["split"] for r in rows} == {"train", "val", "test"}
    assert all(np.load(tmp_path / r["mel_path"]).shape == (80, r["n_frames"]) for r in rows)


@needs_mini
def test_ljspeech_mini_with_defects(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    shutil.copytree(MINI / "wavs", corpus / "wavs")
    lines = (MINI / "metadata.csv").read_text(encoding="utf-8").splitlines()
    lines = ["LJ001-0007||" if line.startswith("LJ001-0007|") else line for line in lines]
    (corpus / "metadata.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    truncated = corpus / "wavs" / "LJ001-0005.wav"
    truncated.write_bytes(truncated.read_bytes()[:30])
    info = sf.info(corpus / "wavs" / "LJ001-0006.wav")
    sf.write(corpus / "wavs" / "LJ001-0006.wav", np.zeros(info.frames), info.samplerate)

    summary = prepare_dataset(corpus, tmp_path / "out", load_config(), workers=0)
    expected = {"LJ001-0005": "unreadable", "LJ001-0006": "silent", "LJ001-0007": "empty_text"}
    assert len(read_jsonl(tmp_path / "out" / "all.jsonl")) == 29
    assert summary.skipped == expected
    saved = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert {s["id"]: s["reason"] for s in saved["skipped"]} == expected


# --------------------------------------------------------------------------- download


@pytest.fixture(scope="module")
def lj_archive(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """LJSpeech-1.1.tar.bz2 holding three utterances (real ones when available)."""
    src = tmp_path_factory.mktemp("archive_src")
    ids = ["LJ001-0001", "LJ001-0002", "LJ001-0003"]
    if (MINI / "metadata.csv").is_file():
        lines = (MINI / "metadata.csv").read_text(encoding="utf-8").splitlines()[:3]
        wavs = {uid: (MINI / "wavs" / f"{uid}.wav").read_bytes() for uid in ids}
    else:
        lines = [f"{uid}|Sentence {i}.|Sentence {i}." for i, uid in enumerate(ids)]
        for i, uid in enumerate(ids):
            sf.write(src / f"{uid}.wav", speech_like(1.0, 22050, i), 22050)
        wavs = {uid: (src / f"{uid}.wav").read_bytes() for uid in ids}
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:bz2") as tar:

        def add(name: str, data: bytes) -> None:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))

        add("LJSpeech-1.1/metadata.csv", ("\n".join(lines) + "\n").encode())
        for uid, data in wavs.items():
            add(f"LJSpeech-1.1/wavs/{uid}.wav", data)
    return buffer.getvalue()


class RangeServer(http.server.ThreadingHTTPServer):
    payload: bytes = b""
    honor_range: bool = True
    ranges: list[str | None]


class RangeHandler(http.server.BaseHTTPRequestHandler):
    server: RangeServer

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        header = self.headers.get("Range")
        self.server.ranges.append(header)
        data = self.server.payload
        match = re.fullmatch(r"bytes=(\d+)-", header or "")
        if match and self.server.honor_range:
            start = int(match.group(1))
            if start >= len(data):
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{len(data)}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
            body = data[start:]
        else:
            self.send_response(200)
            body = data
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def serve(lj_archive: bytes):
    servers: list[RangeServer] = []

    def start(honor_range: bool = True) -> tuple[str, RangeServer]:
        server = RangeServer(("127.0.0.1", 0), RangeHandler)
        server.payload, server.honor_range, server.ranges = lj_archive, honor_range, []
        threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}/LJSpeech-1.1.tar.bz2", server

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def test_download_extract_and_verify(serve, lj_archive: bytes, tmp_path: Path) -> None:
    url, server = serve()
    digest = hashlib.sha256(lj_archive).hexdigest()
    root = download_ljspeech(url, tmp_path, sha256=digest, size=len(lj_archive))
    assert root == tmp_path / "LJSpeech-1.1"
    assert (tmp_path / "LJSpeech-1.1.tar.bz2").read_bytes() == lj_archive
    assert not (tmp_path / "LJSpeech-1.1.tar.bz2.part").exists()
    utts = read_corpus(root)
    assert len(utts) == 3 and all(u.audio_path is not None for u in utts)
    # A second call reuses the verified archive and the extracted folder.
    assert download_ljspeech(url, tmp_path, sha256=digest) == root
    assert server.ranges == [None]


def test_download_resumes_with_range(serve, lj_archive: bytes, tmp_path: Path) -> None:
    url, server = serve()
    part = tmp_path / "LJSpeech-1.1.tar.bz2.part"
    part.write_bytes(lj_archive[:1000])
    digest = hashlib.sha256(lj_archive).hexdigest()
    path = download(url, tmp_path / "LJSpeech-1.1.tar.bz2", sha256=digest, size=len(lj_archive))
    assert server.ranges == ["bytes=1000-"]
    assert path.read_bytes() == lj_archive


def test_server_ignoring_range_restarts(serve, lj_archive: bytes, tmp_path: Path) -> None:
    url, server = serve(honor_range=False)
    (tmp_path / "LJSpeech-1.1.tar.bz2.part").write_bytes(b"\xff" * 1000)
    path = download(url, tmp_path / "LJSpeech-1.1.tar.bz2", size=len(lj_archive))
    assert server.ranges == ["bytes=1000-"]
    assert path.read_bytes() == lj_archive


def test_checksum_mismatch_names_both(serve, lj_archive: bytes, tmp_path: Path) -> None:
    url, _ = serve()
    wrong = "0" * 64
    with pytest.raises(DownloadError) as info:
        download(url, tmp_path / "a.tar.bz2", sha256=wrong)
    message = str(info.value)
    assert wrong in message and hashlib.sha256(lj_archive).hexdigest() in message
    assert not (tmp_path / "a.tar.bz2").exists() and not (tmp_path / "a.tar.bz2.part").exists()


def test_size_mismatch_is_reported(serve, lj_archive: bytes, tmp_path: Path) -> None:
    url, _ = serve()
    with pytest.raises(DownloadError, match=rf"expected {len(lj_archive) - 1} bytes"):
        download(url, tmp_path / "a.tar.bz2", size=len(lj_archive) - 1)


def test_download_cli(serve, lj_archive: bytes, tmp_path: Path, capsys) -> None:
    url, _ = serve()
    digest = hashlib.sha256(lj_archive).hexdigest()
    assert ljspeech_main(["--url", url, "--out", str(tmp_path), "--sha256", digest]) == 0
    assert str(tmp_path / "LJSpeech-1.1") in capsys.readouterr().out
    assert ljspeech_main(["--url", url, "--out", str(tmp_path / "x"), "--sha256", "ab"]) == 1
    assert "sha256 mismatch" in capsys.readouterr().err


@pytest.mark.parametrize(
    "name, kind, link",
    [("../evil.txt", tarfile.REGTYPE, ""), ("ok/link", tarfile.SYMTYPE, "../../evil.txt")],
)
def test_extract_rejects_escaping_members(tmp_path: Path, name: str, kind: bytes, link: str):
    archive = tmp_path / "bad.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        info = tarfile.TarInfo(name)
        info.type, info.linkname = kind, link
        tar.addfile(info, io.BytesIO(b"") if kind == tarfile.REGTYPE else None)
    with pytest.raises(DownloadError, match="unsafe"):
        extract_tar(archive, tmp_path / "out")
    assert not (tmp_path / "evil.txt").exists() and not (tmp_path / "out" / "ok").exists()
