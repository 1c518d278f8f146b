"""How much does the decoder read the text? A teacher-forced probe.

The teacher-forced mel L1 of the same utterances is measured three times: with their
own text, with the text of the next utterance in the batch, and with only the first
symbol. If the three are close, the decoder predicts each frame from the frames before
it and treats the text as a small correction; in free running it then babbles in the
right rhythm, which is what an unintelligible voice with a diagonal alignment sounds like.

Usage: ``python -m tts.eval.text_probe CHECKPOINT data/ljspeech_part1/val.jsonl``.
"""

from __future__ import annotations

import argparse
from typing import NamedTuple

import torch

from tts.data import Batch, TTSDataset, collate
from tts.losses import masked_mean
from tts.model.transformer_tts import TransformerTTS, lengths_to_mask


class TextProbe(NamedTuple):
    right_text: float  # L1 (normalised log-mel, before the postnet) with each item's text
    other_text: float  # with the next item's text (batch rolled by one)
    one_symbol: float  # with only the first symbol of each text

    @property
    def text_gain(self) -> float:
        """How much worse a wrong text makes the prediction (0: the text is ignored)."""
        return self.other_text - self.right_text


@torch.no_grad()
def teacher_forced_l1(
    model: TransformerTTS, batch: Batch, tokens: torch.Tensor, lengths: torch.Tensor, seed: int
) -> float:
    """Masked L1 of the decoder output against the batch's frames, for the given text.
    The seed fixes the inference-time prenet dropout, so that probes differ only in text."""
    mels = model.normalize(batch.mels)
    device = mels.device
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        torch.manual_seed(seed)
        output = model(tokens, lengths, mels, batch.mel_lengths)
    frames = mels.shape[1]
    mask = lengths_to_mask(batch.mel_lengths, frames).unsqueeze(-1)
    return float(masked_mean((output.mel_before[:, :frames] - mels).abs(), mask))


def text_probe(model: TransformerTTS, batch: Batch, seed: int = 0) -> TextProbe:
    """The three teacher-forced L1s of one batch (at least two items), model in eval mode."""
    if batch.tokens.shape[0] < 2:
        raise ValueError("the text probe needs a batch of at least two utterances")
    model.eval()
    order = torch.roll(torch.arange(batch.tokens.shape[0]), 1)
    return TextProbe(
        right_text=teacher_forced_l1(model, batch, batch.tokens, batch.token_lengths, seed),
        other_text=teacher_forced_l1(
            model, batch, batch.tokens[order], batch.token_lengths[order], seed
        ),
        one_symbol=teacher_forced_l1(
            model, batch, batch.tokens[:, :1], torch.ones_like(batch.token_lengths), seed
        ),
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoint", help="training checkpoint or exported voice")
    parser.add_argument("manifest", help="a prepared manifest, e.g. data/<corpus>/val.jsonl")
    parser.add_argument("--items", type=int, default=16, help="utterances to probe")
    args = parser.parse_args(argv)
    from tts.synthesize import Synthesizer

    synthesizer = Synthesizer.from_checkpoint(args.checkpoint, vocoder="griffin-lim:1")
    dataset = TTSDataset(args.manifest, synthesizer.tokenizer, max_items=args.items)
    probe = text_probe(synthesizer.model, collate([dataset[i] for i in range(len(dataset))]))
    print("| text | teacher-forced L1 |\n|---|---:|")
    print(f"| right | {probe.right_text:.3f} |\n| other utterance's | {probe.other_text:.3f} |")
    print(f"| first symbol only | {probe.one_symbol:.3f} |")
    print(f"text gain (other − right): {probe.text_gain:.3f} over {len(dataset)} utterances")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
