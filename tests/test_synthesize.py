"""Synthesis API and `tts synthesize`: batching, splitting, errors, files written."""

from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile as sf
import torch

from tests.conftest import TINY_MODEL
from tts.checkpoint import CheckpointError, save_checkpoint
from tts.cli import main
from tts.config import load_config
from tts.synthesize import SynthesisError, Synthesizer, split_sentences
from tts.train import build_model

SENTENCES = [
    "The birch canoe slid on the smooth planks.",
    "Glue the sheet to the dark blue background.",
    "It is easy to tell the depth of a well.",
    "These days a chicken leg is a rare dish.",
    "Rice is often served in round bowls.",
    "The juice of lemons makes fine punch.",
    "The box was thrown beside the parked truck.",
    "Four hours of steady work faced us.",
]


def write_checkpoint(path, reduction_factor: int = 2, seed: int = 0, *overrides: str):
    torch.manual_seed(seed)
    config = load_config(
        None, [*TINY_MODEL, f"model.reduction_factor={reduction_factor}", *overrides]
    )
    model = build_model(config)
    save_checkpoint(path, config, model.state_dict(), step=0)
    return path


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    return write_checkpoint(tmp_path_factory.mktemp("ckpt") / "tiny.pt")


@pytest.fixture(scope="module")
def synthesizer(checkpoint):
    return Synthesizer.from_checkpoint(checkpoint, vocoder="griffin-lim:2", prenet_dropout=False)


def test_result_fields_are_consistent(synthesizer):
    result = synthesizer("Hello world.", max_len_ratio=4.0)
    hop = synthesizer.config.audio.hop_length
    layers, heads = 2, 2
    assert result.sample_rate == 22050
    assert result.audio.dtype == np.float32 and np.abs(result.audio).max() <= 1.0
    assert result.audio.size == result.mel.shape[1] * hop
    assert result.mel.shape[0] == 80
    assert result.alignment.shape[:2] == (layers, heads)
    assert result.alignment.shape[2] == result.decoder_steps
    assert result.alignment.shape[3] == len(result.symbols) and result.symbols[-1] == "<eos>"
    assert result.stop_probs.shape == (result.mel.shape[1],)
    assert result.audio_seconds == pytest.approx(result.audio.size / 22050)
    assert result.rtf == pytest.approx(result.wall_seconds / result.audio_seconds)
    # A random model rarely stops by itself; the cap (4 frames/symbol) must be reported.
    if result.hit_max:
        assert result.mel.shape[1] == pytest.approx(4 * len(result.symbols), abs=2)
    assert result.stopped_by == ("length cap" if result.hit_max else "stop token")


def test_batched_equals_one_at_a_time(synthesizer):
    options = {"stop_threshold": 0.55, "max_len_ratio": 3.0}
    batched = synthesizer.synthesize_batch(SENTENCES, batch_size=8, **options)
    assert [r.text for r in batched] == SENTENCES
    for text, together in zip(SENTENCES, batched, strict=True):
        alone = synthesizer(text, **options)
        assert alone.mel.shape == together.mel.shape
        np.testing.assert_allclose(together.mel, alone.mel, atol=1e-4, rtol=0)
        np.testing.assert_allclose(together.alignment, alone.alignment, atol=1e-4, rtol=0)
        assert together.hit_max == alone.hit_max
    lengths = {r.mel.shape[1] for r in batched}
    assert len(lengths) > 1, "items of different lengths must each stop on their own"


def test_seed_makes_prenet_dropout_reproducible(checkpoint):
    syn = Synthesizer.from_checkpoint(checkpoint, vocoder="griffin-lim:1", prenet_dropout=True)
    first = syn("A seed.", seed=7, max_len_ratio=3.0)
    again = syn("A seed.", seed=7, max_len_ratio=3.0)
    other = syn("A seed.", seed=8, max_len_ratio=3.0)
    np.testing.assert_array_equal(first.mel, again.mel)
    assert not np.array_equal(first.mel[:, :5], other.mel[:, :5])


def test_long_text_is_split_into_sentences(synthesizer):
    text = " ".join(f"Sentence number {i} is here." for i in range(20))
    result = synthesizer(text, max_len_ratio=2.0, pause_seconds=0.1)
    assert len(result.sentences) == 20
    assert result.symbols.count("<eos>") == 20
    pause_frames = round(0.1 * 22050 / 256)
    steps_frames = result.stop_probs.size
    assert result.mel.shape[1] == steps_frames + 19 * pause_frames


def test_split_sentences_respects_abbreviations_and_limits():
    assert split_sentences("doctor smith came. he left! did he? yes.") == [
        "doctor smith came.",
        "he left!",
        "did he?",
        "yes.",
    ]
    long = ", ".join(["a clause of some words"] * 20) + "."
    pieces = split_sentences(long, max_chars=60)
    assert all(len(p) <= 60 for p in pieces)
    assert " ".join(pieces) == long
    words = " ".join(["word"] * 100)
    assert all(len(p) <= 50 for p in split_sentences(words, max_chars=50))


@pytest.mark.parametrize(
    ("text", "message"),
    [("", "empty"), ("   \n", "empty"), ("♫♪ ###", "nothing speakable"), ("x" * 1001, "limit")],
)
def test_bad_text_gives_clear_errors(synthesizer, text, message):
    with pytest.raises(SynthesisError, match=message):
        synthesizer(text)


def test_checkpoint_from_another_config_is_rejected(tmp_path, checkpoint):
    state = torch.load(checkpoint, weights_only=True)
    state["config"]["model"]["d_model"] = 64
    torch.save(state, tmp_path / "bad.pt")
    with pytest.raises(CheckpointError, match="do not match"):
        Synthesizer.from_checkpoint(tmp_path / "bad.pt")
    with pytest.raises(CheckpointError, match="not found"):
        Synthesizer.from_checkpoint(tmp_path / "missing.pt")


def test_a_phoneme_voice_without_espeak_says_how_to_install_it(tmp_path, monkeypatch):
    from tts.text import phonemes

    path = write_checkpoint(tmp_path / "phonemes.pt", 2, 0, "text.frontend=phonemes")
    monkeypatch.setattr(phonemes, "missing_dependency", lambda: "espeak-ng is not installed")
    with pytest.raises(SynthesisError, match=r"reads phonemes, but espeak-ng.*apt-get install"):
        Synthesizer.from_checkpoint(path, vocoder="griffin-lim:2")
    monkeypatch.setattr(phonemes, "missing_dependency", lambda: None)
    assert Synthesizer.from_checkpoint(path, vocoder="griffin-lim:2").tokenizer.frontend == (
        "phonemes"
    )


def test_fp16_checkpoint_loads(tmp_path, checkpoint, synthesizer):
    state = torch.load(checkpoint, weights_only=True)
    state["model"] = {
        k: v.half() if v.is_floating_point() else v for k, v in state["model"].items()
    }
    torch.save(state, tmp_path / "half.pt")
    half = Synthesizer.from_checkpoint(tmp_path / "half.pt", "griffin-lim:2", prenet_dropout=False)
    a = half("Half precision.", max_len_ratio=2.0)
    b = synthesizer("Half precision.", max_len_ratio=2.0)
    assert a.mel.shape == b.mel.shape
    assert np.abs(a.mel - b.mel).max() < 0.5


def test_cli_writes_wavs_plots_and_summary(tmp_path, checkpoint):
    lines = tmp_path / "lines.txt"
    lines.write_text("First line.\n\nSecond line, a bit longer.\nThird.\n")
    out = tmp_path / "out"
    code = main(
        [
            "synthesize",
            "--checkpoint",
            str(checkpoint),
            "--text-file",
            str(lines),
            "--out-dir",
            str(out),
            "--vocoder",
            "griffin-lim:2",
            "--plot",
            "--batch-size",
            "2",
            "--max-len-ratio",
            "2",
            "--seed",
            "1",
        ]
    )
    assert code == 0
    summary = json.loads((out / "summary.json").read_text())
    assert [item["wav"] for item in summary["items"]] == ["0000.wav", "0001.wav", "0002.wav"]
    for item in summary["items"]:
        audio, rate = sf.read(out / item["wav"])
        assert rate == 22050 and audio.size > 0
        assert item["audio_seconds"] == pytest.approx(audio.size / 22050, abs=1e-3)
        assert set(item) >= {"text", "decoder_steps", "hit_max_len", "rtf"}
    assert (out / "0001.png").stat().st_size > 1000
    assert (out / "0002.npz").is_file()


def test_cli_reports_bad_text_without_traceback(tmp_path, checkpoint, capsys):
    with pytest.raises(SystemExit, match="empty"):
        main(
            [
                "synthesize",
                "--checkpoint",
                str(checkpoint),
                "--text",
                " ",
                "--out-dir",
                str(tmp_path),
            ]
        )


def test_export_bakes_a_speaking_rate_into_a_duration_decoding_voice(tmp_path, checkpoint):
    """``--length-scale`` is stored in the exported config and stretches the synthesis;
    a voice without duration decoding refuses it with a clear error."""
    source = write_checkpoint(
        tmp_path / "durations.pt",
        2,
        0,
        "model.context_alignment=mas",
        "model.duration_decoding=true",
    )
    seconds = {}
    for scale in (1.0, 3.0):
        voice = tmp_path / f"voice_{scale}.pt"
        cmd = ["export", "--checkpoint", str(source), "--out", str(voice)]
        assert main([*cmd, "--length-scale", str(scale)]) == 0
        assert torch.load(voice, weights_only=True)["config"]["model"]["length_scale"] == scale
        syn = Synthesizer.from_checkpoint(voice, vocoder="griffin-lim:1", prenet_dropout=False)
        result = syn("The birch canoe slid on the smooth planks.", max_len_ratio=20.0)
        assert not result.hit_max
        assert result.stopped_by == result.summary()["stopped_by"] == "durations"
        seconds[scale] = result.audio_seconds
    assert seconds[3.0] > 2 * seconds[1.0]
    with pytest.raises(SystemExit, match="duration_decoding"):
        main(
            [
                "export",
                "--checkpoint",
                str(checkpoint),
                "--out",
                str(tmp_path / "x.pt"),
                "--length-scale",
                "1.2",
            ]
        )


def test_prenet_dropout_off_is_stored_by_export_and_overridable_by_the_cli(tmp_path, checkpoint):
    """``tts export --prenet-dropout off`` keeps the weights but makes the voice decode the
    same whatever the seed; ``--prenet-dropout on`` at synthesis brings the dropout back."""
    voice = tmp_path / "voice.pt"
    cmd = ["export", "--fp32", "--checkpoint", str(checkpoint), "--out", str(voice)]
    assert main([*cmd, "--prenet-dropout", "off"]) == 0
    source, exported = (torch.load(p, weights_only=True) for p in (checkpoint, voice))
    assert source["config"]["model"]["prenet_dropout_at_inference"] is True
    assert exported["config"]["model"]["prenet_dropout_at_inference"] is False
    assert all(torch.equal(source["model"][k], v) for k, v in exported["model"].items())

    def mel(seed: int, *flags: str) -> np.ndarray:
        out = tmp_path / f"out_{seed}_{'_'.join(flags)}"
        synth = ["synthesize", "--checkpoint", str(voice), "--text", "A seed.", "--seed"]
        assert main([*synth, str(seed), "--max-len-ratio", "3", "--out-dir", str(out), *flags]) == 0
        return np.load(out / "0000.npz")["mel"]

    np.testing.assert_array_equal(mel(1), mel(2))
    assert not np.array_equal(mel(1, "--prenet-dropout", "on"), mel(2, "--prenet-dropout", "on"))


def test_export_averages_several_checkpoints_weight_by_weight(tmp_path):
    first = write_checkpoint(tmp_path / "a.pt", 2, 0)
    second = write_checkpoint(tmp_path / "b.pt", 2, 1)
    averaged = tmp_path / "avg.pt"
    cmd = ["export", "--fp32", "--out", str(averaged), "--checkpoint", str(first), str(second)]
    assert main(cmd) == 0
    weights = [torch.load(p, weights_only=True)["model"] for p in (first, second, averaged)]
    name = "decoder_layers.0.self_attention.query.weight"
    assert not torch.equal(weights[0][name], weights[1][name])
    torch.testing.assert_close(weights[2][name], (weights[0][name] + weights[1][name]) / 2)
    other = write_checkpoint(tmp_path / "c.pt", 3, 0)
    with pytest.raises(SystemExit, match="same model"):
        main(["export", "--out", str(tmp_path / "x.pt"), "--checkpoint", str(first), str(other)])
    # Runs that differ only in dropout or inference settings share their weights' shapes: a
    # soup of two fine-tunes, with the last one's config.
    tuned = write_checkpoint(
        tmp_path / "d.pt",
        2,
        2,
        "model.decoder_prenet_dropout=0.3",
        "model.prenet_dropout_at_inference=false",
    )
    soup = tmp_path / "soup.pt"
    assert main(["export", "--out", str(soup), "--checkpoint", str(first), str(tuned)]) == 0
    assert torch.load(soup, weights_only=True)["config"]["model"]["decoder_prenet_dropout"] == 0.3


def test_export_fp16_and_plot_alignment_cli(tmp_path, checkpoint):
    exported = tmp_path / "voice.pt"
    assert main(["export", "--checkpoint", str(checkpoint), "--out", str(exported)]) == 0
    state = torch.load(exported, weights_only=True)
    assert state["weights_dtype"] == "float16" and "optimizer" not in state
    assert all(v.dtype == torch.float16 for v in state["model"].values() if v.is_floating_point())
    assert exported.stat().st_size < 0.6 * checkpoint.stat().st_size
    out = tmp_path / "synth"
    args = [
        "synthesize",
        "--checkpoint",
        str(exported),
        "--text",
        "Plot me.",
        "--out-dir",
        str(out),
    ]
    assert main([*args, "--vocoder", "griffin-lim:1", "--max-len-ratio", "2"]) == 0
    png = tmp_path / "a.png"
    assert main(["plot-alignment", "--synthesis", str(out / "0000.npz"), "--out", str(png)]) == 0
    assert png.stat().st_size > 1000
    grid = tmp_path / "grid.png"
    cmd = ["plot-alignment", "--checkpoint", str(exported), "--text", "Hi.", "--out", str(grid)]
    assert main([*cmd, "--grid"]) == 0
    assert grid.stat().st_size > 1000
    with pytest.raises(SystemExit, match="out of range"):
        main(
            [
                "plot-alignment",
                "--synthesis",
                str(out / "0000.npz"),
                "--out",
                str(png),
                "--layer",
                "9",
            ]
        )


def test_python_api_with_a_jik876_hifigan(tmp_path, checkpoint):
    from tests.test_vocoder import JIK876_V1_CONFIG, write_jik876_generator
    from tts import Synthesizer as Exported

    assert Exported is Synthesizer
    path, _ = write_jik876_generator(tmp_path / "LJ_V1", JIK876_V1_CONFIG)
    syn = Synthesizer.from_checkpoint(checkpoint, vocoder=f"hifigan:{path}", prenet_dropout=False)
    result = syn("Vocoded by HiFi-GAN.", max_len_ratio=1.0)
    assert syn.vocoder.name == "hifigan"
    assert result.audio.size == result.mel.shape[1] * 256 and np.isfinite(result.audio).all()


def test_speaker_option_picks_a_voice_and_rejects_unknown_ones(tmp_path):
    path = write_checkpoint(tmp_path / "two.pt", 2, 0, "model.num_speakers=2")
    state = torch.load(path, weights_only=True)
    state["model"]["speaker_embedding.weight"][1] = 3.0
    torch.save(state, path)
    syn = Synthesizer.from_checkpoint(path, vocoder="griffin-lim:2", prenet_dropout=False)
    first, again, other = (
        syn("A short test.", seed=0, speaker=speaker).mel for speaker in (0, 0, 1)
    )
    np.testing.assert_array_equal(first, again)
    assert first.shape != other.shape or not np.allclose(first, other)
    with pytest.raises(SynthesisError, match="speaker 2 does not exist: this voice has 2"):
        syn("A short test.", speaker=2)
