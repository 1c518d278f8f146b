"""How much does the decoder read the text? A teacher-forced probe.

The teacher-forced mel L1 of the same utterances is measured three times: with their
own text, with the text of the next utterance in the batch, and with only the first
symbol. If the three are close, the decoder predicts each frame from the frames before
it and treats the text as a small correction; in free running it then babbles in the
right rhythm, which is what an unintelligible voice with a diagonal alignment sounds like.

``--listen`` adds the same question asked by ear: Griffin-Lim audio of the teacher-forced
output with the right and with the other text, and of free running, each transcribed by
Whisper and scored against the words of the recording. If a wrong text is heard almost as
well as the right one, teacher forcing is intelligible only because the recorded frames
are copied forward, and free running has nothing to copy.

Usage: ``python -m tts.eval.text_probe CHECKPOINT data/ljspeech_part1/val.jsonl [--listen]``.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, NamedTuple

import torch

from tts.data import Batch, TTSDataset, collate
from tts.eval.wer import EditCounts, char_errors, total, word_errors
from tts.losses import masked_mean
from tts.model.transformer_tts import TransformerTTS, TTSOutput, lengths_to_mask

if TYPE_CHECKING:
    from tts.eval.asr import Transcriber
    from tts.synthesize import Synthesizer


class TextProbe(NamedTuple):
    right_text: float  # L1 (normalised log-mel, before the postnet) with each item's text
    other_text: float  # with the next item's text (batch rolled by one)
    one_symbol: float  # with only the first symbol of each text

    @property
    def text_gain(self) -> float:
        """How much worse a wrong text makes the prediction (0: the text is ignored)."""
        return self.other_text - self.right_text


class Heard(NamedTuple):
    words: EditCounts
    chars: EditCounts


class ListeningProbe(NamedTuple):
    """Whisper's errors against the recordings' words, summed over the utterances."""

    right_text: Heard  # teacher-forced on the recorded frames, with each item's text
    other_text: Heard  # teacher-forced on the recorded frames, with the next item's text
    free_running: Heard  # decoded from the text alone, reading its own frames


@torch.no_grad()
def teacher_forced(
    model: TransformerTTS,
    mels: torch.Tensor,
    mel_lengths: torch.Tensor,
    tokens: torch.Tensor,
    lengths: torch.Tensor,
    seed: int,
) -> TTSOutput:
    """The teacher-forced pass on normalised frames (B, T_mel, M) with the given text. The
    seed fixes the inference-time prenet dropout, so that probes differ only in text."""
    device = mels.device
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        torch.manual_seed(seed)
        return model(tokens, lengths, mels, mel_lengths)


def text_probe(model: TransformerTTS, batch: Batch, seed: int = 0) -> TextProbe:
    """The three teacher-forced L1s of one batch (at least two items), model in eval mode:
    the masked L1 of the decoder output (before the postnet) against the normalised frames."""
    if batch.tokens.shape[0] < 2:
        raise ValueError("the text probe needs a batch of at least two utterances")
    model.eval()
    order = torch.roll(torch.arange(batch.tokens.shape[0]), 1)
    mels = model.normalize(batch.mels)
    mask = lengths_to_mask(batch.mel_lengths, mels.shape[1]).unsqueeze(-1)

    def l1(tokens: torch.Tensor, lengths: torch.Tensor) -> float:
        output = teacher_forced(model, mels, batch.mel_lengths, tokens, lengths, seed)
        return float(masked_mean((output.mel_before[:, : mels.shape[1]] - mels).abs(), mask))

    return TextProbe(
        right_text=l1(batch.tokens, batch.token_lengths),
        other_text=l1(batch.tokens[order], batch.token_lengths[order]),
        one_symbol=l1(batch.tokens[:, :1], torch.ones_like(batch.token_lengths)),
    )


def listening_probe(
    synthesizer: Synthesizer,
    batch: Batch,
    texts: list[str],
    transcriber: Transcriber,
    seed: int = 0,
) -> ListeningProbe:
    """Transcribe the vocoded teacher-forced output (right and rolled text, as in
    :func:`text_probe`) and the free-running output of the same utterances; ``texts``
    are the recordings' words, in batch order."""
    if batch.tokens.shape[0] < 2 or len(texts) != batch.tokens.shape[0]:
        raise ValueError("the listening probe needs >= 2 utterances and one text for each")
    model = synthesizer.model.eval()
    order = torch.roll(torch.arange(len(texts)), 1)

    def heard(audios: list) -> Heard:
        hypotheses = [transcriber.transcribe(a, synthesizer.sample_rate) for a in audios]
        return Heard(
            total(word_errors(t, h) for t, h in zip(texts, hypotheses, strict=True)),
            total(char_errors(t, h) for t, h in zip(texts, hypotheses, strict=True)),
        )

    frames = (model.normalize(batch.mels), batch.mel_lengths)

    def vocoded(tokens: torch.Tensor, lengths: torch.Tensor) -> list:
        mels = model.denormalize(teacher_forced(model, *frames, tokens, lengths, seed).mel_after)
        return [
            synthesizer.vocoder(mels[i : i + 1, :n].transpose(1, 2))[0].cpu().numpy()
            for i, n in enumerate(batch.mel_lengths.tolist())
        ]

    return ListeningProbe(
        right_text=heard(vocoded(batch.tokens, batch.token_lengths)),
        other_text=heard(vocoded(batch.tokens[order], batch.token_lengths[order])),
        free_running=heard([r.audio for r in synthesizer.synthesize_batch(texts, seed=seed)]),
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoint", help="training checkpoint or exported voice")
    parser.add_argument("manifest", help="a prepared manifest, e.g. data/<corpus>/val.jsonl")
    parser.add_argument("--items", type=int, default=16, help="utterances to probe")
    parser.add_argument(
        "--listen", action="store_true", help="also score the vocoded outputs with Whisper"
    )
    parser.add_argument("--asr-model", default=None, help="faster-whisper name or directory")
    args = parser.parse_args(argv)
    from tts.synthesize import Synthesizer

    vocoder = "griffin-lim" if args.listen else "griffin-lim:1"
    synthesizer = Synthesizer.from_checkpoint(args.checkpoint, vocoder=vocoder)
    dataset = TTSDataset(args.manifest, synthesizer.tokenizer, max_items=args.items)
    batch = collate([dataset[i] for i in range(len(dataset))])
    probe = text_probe(synthesizer.model, batch)
    print("| text | teacher-forced L1 |\n|---|---:|")
    print(f"| right | {probe.right_text:.3f} |\n| other utterance's | {probe.other_text:.3f} |")
    print(f"| first symbol only | {probe.one_symbol:.3f} |")
    print(f"text gain (other − right): {probe.text_gain:.3f} over {len(dataset)} utterances")
    if args.listen:
        from tts.eval.asr import AsrError, Transcriber

        try:
            transcriber = Transcriber.load(args.asr_model)
        except AsrError as exc:
            print(f"error: {exc}")
            return 2
        texts = [row["text"] for row in dataset.rows]
        heard = listening_probe(synthesizer, batch, texts, transcriber)
        print("\n| decoder reads | text | WER | CER |\n|---|---|---:|---:|")
        for label, text, result in (
            ("recorded frames", "right", heard.right_text),
            ("recorded frames", "other utterance's", heard.other_text),
            ("its own frames", "right", heard.free_running),
        ):
            print(f"| {label} | {text} | {result.words.rate:.1%} | {result.chars.rate:.1%} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
