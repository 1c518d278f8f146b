"""The demo app as a script sees it: `python app.py` serving `/synthesize` to gradio_client,
clean errors for bad input, concurrent requests, and the page without any voice."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import gradio as gr
import numpy as np
import pytest
import soundfile as sf
import torch
from PIL import Image

from tests.conftest import REPO
from tests.test_synthesize import SENTENCES, write_checkpoint
from tts.checkpoint import CheckpointError

gradio_client = pytest.importorskip("gradio_client")
AppError = gradio_client.exceptions.AppError

import app  # noqa: E402  (app.py at the repository root, beside tests/)

# gradio's own queue code trips pandas deprecation warnings; they are not ours to fix.
pytestmark = pytest.mark.filterwarnings("ignore:.*(no_silent_downcasting|copy keyword)")
FAST = {"max_len_ratio": 1.0, "seed": 0}  # a random model decodes at most ~1 frame/symbol


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def serve(args: list[str], log_dir: Path, timeout: float = 120.0) -> Iterator[str]:
    """Run ``python app.py ARGS`` on a free local port for the duration of the block and
    yield its URL; the process is always stopped, and a failed start shows its stderr."""
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    log_dir.mkdir(parents=True, exist_ok=True)
    stderr_path = log_dir / "app.stderr"
    command = [sys.executable, str(REPO / "app.py"), *args, "--port", str(port)]
    env = {**os.environ, "GRADIO_ANALYTICS_ENABLED": "False"}
    with open(log_dir / "app.stdout", "w") as out, open(stderr_path, "w") as err:
        process = subprocess.Popen(command, cwd=REPO, stdout=out, stderr=err, env=env)
        try:
            deadline = time.monotonic() + timeout
            while True:
                if process.poll() is not None:
                    pytest.fail(
                        f"app.py exited with {process.returncode} before serving:\n"
                        f"{stderr_path.read_text()[-4000:]}"
                    )
                try:
                    with urllib.request.urlopen(url, timeout=2) as response:
                        if response.status == 200:
                            break
                except OSError:
                    pass
                if time.monotonic() > deadline:
                    pytest.fail(
                        f"app.py did not serve {url} within {timeout:.0f} s:\n"
                        f"{stderr_path.read_text()[-4000:]}"
                    )
                time.sleep(0.25)
            yield url
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> Path:
    return write_checkpoint(tmp_path_factory.mktemp("ckpt") / "tiny.pt")


@pytest.fixture(scope="module")
def client(checkpoint, tmp_path_factory) -> Iterator[gradio_client.Client]:
    logs = tmp_path_factory.mktemp("app")
    args = ["--checkpoint", str(checkpoint), "--vocoder", "griffin-lim:4", "--device", "cpu"]
    with serve(args, logs) as url:
        yield gradio_client.Client(url, verbose=False, download_files=str(logs / "downloads"))


def check_wav(path: str) -> np.ndarray:
    audio, rate = sf.read(path, dtype="float32")
    assert rate == 22050
    assert audio.ndim == 1 and audio.size > 0 and np.isfinite(audio).all()
    return audio


def test_synthesize_returns_wav_plots_and_info(client):
    wav, alignment, mel, info = client.predict(
        text="Hello world, 42 times.", api_name="/synthesize", **FAST
    )
    check_wav(wav)
    for path in (alignment, mel):
        with Image.open(path) as image:
            assert image.width >= 300 and image.height >= 200
    for field in ("audio", "decoder steps", "stopped by", "real-time factor"):
        assert field in info


def test_views_and_seeds(client):
    """The same seed gives the same audio whatever the alignment view."""
    wavs = []
    for view in (app.ALL_HEADS, "layer 1 head 0"):
        wav, alignment, _, _ = client.predict(
            text="Seeded.", view=view, api_name="/synthesize", **FAST
        )
        wavs.append(check_wav(wav))
        with Image.open(alignment) as image:
            assert image.width >= 300
    np.testing.assert_array_equal(*wavs)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "Please type some text"),
        ("   ", "Please type some text"),
        ("x" * 501, "The text has 501 characters; this demo accepts up to 500"),
        ("♫♪ ###", "nothing speakable"),
    ],
)
def test_bad_text_is_a_clean_error(client, text, message):
    with pytest.raises(AppError) as caught:
        client.predict(text=text, api_name="/synthesize", **FAST)
    assert message in str(caught.value)
    assert "Traceback" not in str(caught.value)


def test_eight_concurrent_requests_all_succeed(client):
    def one(text: str) -> str:
        return client.predict(text=text, api_name="/synthesize", **FAST)[0]

    with ThreadPoolExecutor(max_workers=8) as pool:
        wavs = list(pool.map(one, SENTENCES))
    assert len(wavs) == 8
    for wav in wavs:
        check_wav(wav)


def test_find_checkpoints(tmp_path):
    assert app.find_checkpoints(None, None, default=lambda: None) == {}
    voice = tmp_path / "voice.pt"
    assert app.find_checkpoints(None, None, default=lambda: voice) == {
        "default voice (voice)": voice
    }
    (tmp_path / "loose.pt").touch()
    for name in ("run_a/best.pt", "run_a/checkpoint_000100.pt", "run_b/checkpoint_000200.pt"):
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).touch()
    (tmp_path / "run_b/checkpoint_000300.pt").touch()
    (tmp_path / "empty_run").mkdir()
    assert app.find_checkpoints(None, tmp_path) == {
        "loose": tmp_path / "loose.pt",
        "run_a": tmp_path / "run_a/best.pt",
        "run_b": tmp_path / "run_b/checkpoint_000300.pt",
    }
    with pytest.raises(CheckpointError, match="no checkpoints"):
        app.find_checkpoints(None, tmp_path / "empty_run")


def test_models_load_lazily_once_and_bad_ones_give_clean_errors(tmp_path, checkpoint):
    other = write_checkpoint(tmp_path / "other.pt", reduction_factor=3, seed=1)
    state = torch.load(checkpoint, weights_only=True)
    state["config"]["model"]["d_model"] = 64
    torch.save(state, tmp_path / "broken.pt")
    voices = app.VoiceBank(
        {"tiny": checkpoint, "other": other, "broken": tmp_path / "broken.pt"},
        ["griffin-lim:2", "griffin-lim:3"],
        device="cpu",
    )
    app.build_app(voices)
    assert voices.loaded == [("tiny", "griffin-lim:2")]
    settings = app.DemoSettings(max_chars=50)
    args = (app.BEST_HEAD, 0.5, 1.0, False, 0)
    app.synthesize(voices, settings, "Other.", "other", "griffin-lim:2", *args)
    app.synthesize(voices, settings, "Other.", "other", "griffin-lim:3", *args)
    assert voices.get("other", "griffin-lim:2") is voices.get("other", "griffin-lim:2")
    # A second vocoder shares the acoustic model's weights rather than loading them again.
    assert voices.get("other", "griffin-lim:3").model is voices.get("other", "griffin-lim:2").model
    with pytest.raises(gr.Error, match="do not match"):
        app.synthesize(voices, settings, "Broken.", "broken", "griffin-lim:2", *args)
    with pytest.raises(gr.Error, match="accepts up to 50"):
        app.synthesize(voices, settings, "y" * 51, "tiny", "griffin-lim:2", *args)
    views, speakers, seed = app.select_model(voices, "griffin-lim:2", "other")
    assert "layer 1 head 1" in [choice[1] for choice in views.choices]
    assert speakers.visible is False  # one speaker: nothing to choose
    assert seed.visible is True  # prenet dropout at inference: the seed matters


def test_a_multi_speaker_model_offers_its_speakers_by_corpus(tmp_path):
    path = write_checkpoint(
        tmp_path / "two.pt",
        2,
        0,
        "model.num_speakers=2",
        "model.prenet_dropout_at_inference=false",
        "data.manifest_dir=data/ljspeech_part1",
        "data.extra_speakers=[data/flite_ext]",
    )
    state = torch.load(path, weights_only=True)
    state["model"]["speaker_embedding.weight"][1] = 3.0
    torch.save(state, path)
    voices = app.VoiceBank(
        {"one": write_checkpoint(tmp_path / "one.pt"), "two": path}, ["griffin-lim:2"]
    )
    app.build_app(voices)
    _, speakers, seed = app.select_model(voices, "griffin-lim:2", "two")
    assert speakers.visible is True
    assert seed.visible is False  # deterministic decoding: no seed to offer
    assert [tuple(choice) for choice in speakers.choices] == [
        ("ljspeech_part1", 0),
        ("flite_ext", 1),
    ]
    settings = app.DemoSettings()
    args = (app.BEST_HEAD, 0.5, 15.0, False, 0)
    first = app.synthesize(voices, settings, "Hello there.", "two", "griffin-lim:2", *args, 0)
    other = app.synthesize(voices, settings, "Hello there.", "two", "griffin-lim:2", *args, 1)
    assert not np.array_equal(first[0][1], other[0][1])
    with pytest.raises(gr.Error, match="speaker 2 does not exist"):
        app.synthesize(voices, settings, "Hello there.", "two", "griffin-lim:2", *args, 2)


def test_missing_checkpoint_exits_with_a_message(tmp_path):
    with pytest.raises(SystemExit, match="checkpoint not found"):
        app.main(["--checkpoint", str(tmp_path / "missing.pt")])


def test_app_without_any_voice_starts_and_says_how_to_get_one():
    voices = app.VoiceBank({}, ["griffin-lim"])
    demo = app.build_app(voices)
    port = free_port()
    demo.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True)
    try:
        url = f"http://127.0.0.1:{port}/"
        with urllib.request.urlopen(url + "config", timeout=10) as response:
            config = json.load(response)
        texts = [c.get("props", {}).get("value") for c in config["components"]]
        assert any(isinstance(t, str) and app.TRAIN_COMMAND in t for t in texts)
        client = gradio_client.Client(url, verbose=False)
        with pytest.raises(AppError, match="No voice is loaded"):
            client.predict(text="Hello.", api_name="/synthesize")
    finally:
        demo.close()
