"""Training data: a dataset over a prepared manifest, a frame-budget batch sampler, collate.

Manifests are JSON lines written by ``tts prepare`` (id, text, normalized_text,
wav_path, duration, n_frames, mel_path relative to the manifest's folder). Mels
are cached as float32 .npy of shape (M, T_mel).
"""

from __future__ import annotations

import json
import math
import random
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import Dataset, Sampler

from tts.text import Tokenizer


def read_manifest(path: str | Path) -> list[dict]:
    """Rows of a JSON-lines manifest; a clear error when it is missing."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"manifest not found: {path} (run `tts prepare` first)")
    with path.open() as handle:
        return [json.loads(line) for line in handle if line.strip()]


@dataclass(frozen=True)
class Item:
    id: str
    tokens: Tensor  # (T_text,) int64, ending with the end token
    mel: Tensor  # (T_mel, M) float32 raw log-mel
    speaker: int = 0


class TTSDataset(Dataset):
    """(tokens, mel) pairs of one speaker; text is tokenised from the manifest's normalised
    text."""

    def __init__(
        self,
        manifest: str | Path,
        tokenizer: Tokenizer,
        max_items: int | None = None,
        speaker: int = 0,
    ):
        self.root = Path(manifest).parent
        self.speaker = speaker
        self.rows = read_manifest(manifest)[:max_items]
        if not self.rows:
            raise ValueError(f"manifest {manifest} has no rows")
        self.tokenizer = tokenizer
        self.tokens = [
            torch.tensor(tokenizer.encode_normalized(row["normalized_text"]), dtype=torch.long)
            for row in self.rows
        ]

    def __len__(self) -> int:
        return len(self.rows)

    def frames(self, index: int) -> int:
        return int(self.rows[index]["n_frames"])

    def __getitem__(self, index: int) -> Item:
        row = self.rows[index]
        mel = np.load(self.root / row["mel_path"])
        mel = torch.from_numpy(mel).float().T.contiguous()
        return Item(row["id"], self.tokens[index], mel, self.speaker)


@dataclass(frozen=True)
class Batch:
    ids: list[str]
    tokens: Tensor  # (B, T_text) int64, 0-padded
    token_lengths: Tensor  # (B,)
    mels: Tensor  # (B, T_mel, M), padded with the log floor (silence)
    mel_lengths: Tensor  # (B,)
    token_mask: Tensor  # (B, T_text) bool, True at real symbols
    mel_mask: Tensor  # (B, T_mel) bool, True at real frames
    stop_targets: Tensor  # (B, T_mel) 1.0 from the last real frame on
    speakers: Tensor  # (B,) int64 speaker ids

    def to(self, device: torch.device | str) -> Batch:
        moved = {
            name: value.to(device) if isinstance(value, Tensor) else value
            for name, value in self.__dict__.items()
        }
        return Batch(**moved)


def collate(items: list[Item], pad_value: float = math.log(1e-5)) -> Batch:
    """Pad a list of items into a :class:`Batch`."""
    token_lengths = torch.tensor([len(item.tokens) for item in items])
    mel_lengths = torch.tensor([item.mel.shape[0] for item in items])
    n_mels = items[0].mel.shape[1]
    tokens = torch.zeros(len(items), int(token_lengths.max()), dtype=torch.long)
    mels = torch.full((len(items), int(mel_lengths.max()), n_mels), pad_value)
    for i, item in enumerate(items):
        tokens[i, : len(item.tokens)] = item.tokens
        mels[i, : item.mel.shape[0]] = item.mel
    token_mask = torch.arange(tokens.shape[1])[None] < token_lengths[:, None]
    frame_index = torch.arange(mels.shape[1])[None]
    mel_mask = frame_index < mel_lengths[:, None]
    stop = (frame_index >= (mel_lengths - 1)[:, None]).float()
    return Batch(
        [item.id for item in items],
        tokens,
        token_lengths,
        mels,
        mel_lengths,
        token_mask,
        mel_mask,
        stop,
        torch.tensor([item.speaker for item in items]),
    )


class FrameBudgetSampler(Sampler[list[int]]):
    """Length-bucketed batches whose padded size (B × longest T_mel) stays within
    ``max_frames``, so memory is bounded whatever the utterance lengths.

    Items are sorted by length, cut into batches, and the batches shuffled per
    epoch (seeded). With ``num_replicas`` > 1 each rank takes every
    ``num_replicas``-th batch of the same list, trimmed to an equal count.
    """

    def __init__(
        self,
        lengths: list[int],
        max_frames: int,
        max_batch_size: int = 64,
        shuffle: bool = True,
        seed: int = 0,
        num_replicas: int = 1,
        rank: int = 0,
    ) -> None:
        if max(lengths) > max_frames:
            raise ValueError(
                f"an utterance has {max(lengths)} frames, more than the batch budget {max_frames}"
            )
        self.batches = self._make_batches(lengths, max_frames, max_batch_size)
        self.shuffle, self.seed = shuffle, seed
        self.num_replicas, self.rank = num_replicas, rank
        self.epoch = 0

    @staticmethod
    def _make_batches(lengths: list[int], max_frames: int, max_size: int) -> list[list[int]]:
        order = sorted(range(len(lengths)), key=lambda i: (lengths[i], i))
        batches, current, longest = [], [], 0
        for index in order:
            longest_if_added = max(longest, lengths[index])
            if current and (
                longest_if_added * (len(current) + 1) > max_frames or len(current) >= max_size
            ):
                batches.append(current)
                current, longest_if_added = [], lengths[index]
            current.append(index)
            longest = longest_if_added
        if current:
            batches.append(current)
        return batches

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def _epoch_batches(self) -> list[list[int]]:
        batches = list(self.batches)
        if self.shuffle:
            random.Random(self.seed + self.epoch).shuffle(batches)
        usable = (
            len(batches) - len(batches) % self.num_replicas
            if self.num_replicas > 1
            else len(batches)
        )
        return batches[self.rank : usable : self.num_replicas]

    def __iter__(self) -> Iterator[list[int]]:
        return iter(self._epoch_batches())

    def __len__(self) -> int:
        return len(self._epoch_batches())


class MixedSampler(Sampler[list[int]]):
    """Batches over several corpora joined in one ``ConcatDataset``, each batch from one
    corpus: the first corpus's batches ``first_repeat`` times per epoch, then every other
    corpus's once, shuffled together (seeded by epoch).

    With ``first_share`` > 0 the first corpus's batches are instead repeated and cut to
    that share of the epoch's batches (the cut falls in its shuffled order, so which
    batches are left out changes with the epoch).

    ``samplers`` are the corpora's own :class:`FrameBudgetSampler`, in concatenation
    order; their indices are shifted to the joined dataset's.
    """

    def __init__(
        self,
        samplers: list[FrameBudgetSampler],
        sizes: list[int],
        first_repeat: int = 1,
        first_share: float = 0.0,
    ) -> None:
        if len(samplers) != len(sizes) or not samplers:
            raise ValueError("need one sampler per corpus")
        if not 0 <= first_share < 1 or (first_share > 0 and len(samplers) < 2):
            raise ValueError("first_share must be in [0, 1) and needs a second corpus")
        self.samplers, self.first_repeat, self.first_share = samplers, first_repeat, first_share
        self.offsets = [sum(sizes[:i]) for i in range(len(sizes))]
        self.seed, self.epoch = samplers[0].seed, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch
        for sampler in self.samplers:
            sampler.set_epoch(epoch)

    def _epoch_batches(self) -> list[list[int]]:
        shifted = [
            [[offset + i for i in batch] for batch in sampler]
            for sampler, offset in zip(self.samplers, self.offsets, strict=True)
        ]
        others = [batch for corpus in shifted[1:] for batch in corpus]
        if self.first_share > 0:
            wanted = max(1, round(self.first_share / (1 - self.first_share) * len(others)))
            first = (shifted[0] * math.ceil(wanted / len(shifted[0])))[:wanted]
        else:
            first = shifted[0] * self.first_repeat
        batches = first + others
        random.Random(self.seed + self.epoch).shuffle(batches)
        return batches

    def __iter__(self) -> Iterator[list[int]]:
        return iter(self._epoch_batches())

    def __len__(self) -> int:
        return len(self._epoch_batches())
