"""HiFi-GAN training loop, readable top to bottom.

``tts train-vocoder --config recipes/<name>/conf/hifigan*.yaml --out exp/<run> [--resume]``;
several GPUs through ``torchrun --nproc_per_node=N -m tts.cli train-vocoder ...``.
Each step updates the discriminators on real vs generated audio, then the
generator on adversarial + feature-matching + mel-L1 losses. Random segments
are drawn from a generator seeded by (seed, epoch, item), so a resumed run sees
the same data as an uninterrupted one.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import random
import time
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch
from torch import Tensor
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, Dataset
from tqdm import tqdm

from tts.audio import AudioError, load_audio, log_mel, preprocess
from tts.checkpoint import CheckpointError, checkpoints_in
from tts.config import AudioConfig, ConfigError, to_plain
from tts.data import read_manifest
from tts.plotting import plot_mel
from tts.train import (
    Progress,
    TrainingError,
    all_finite,
    prune_checkpoints,
    rng_state,
    set_rng_state,
    start_run,
)
from tts.train import add_arguments as training_arguments
from tts.vocoder import VocoderError
from tts.vocoder.config import VocoderConfig, load_vocoder_config, save_vocoder_config
from tts.vocoder.discriminators import HifiGanDiscriminator, split_batch
from tts.vocoder.hifigan import (
    HifiGanGenerator,
    check_audio_match,
    load_generator_weights,
    load_vocoder_checkpoint,
    open_vocoder_file,
    save_vocoder_checkpoint,
)
from tts.vocoder.losses import GeneratorLoss, discriminator_loss, generator_loss

log = logging.getLogger(__name__)


class TrainOutcome(NamedTuple):
    progress: Progress
    generator: HifiGanGenerator


# ---------------------------------------------------------------- data


class Segment(NamedTuple):
    audio: Tensor  # (S,) target waveform
    mel: Tensor  # (M, S / hop) generator input: log_mel(audio), or the teacher-forced mel


def wav_path(row: dict, root: Path) -> Path:
    """Manifest wav paths are absolute; a relative one is read from the manifest's folder."""
    path = Path(row["wav_path"])
    return path if path.is_absolute() else root / path


def load_wav(row: dict, root: Path, audio: AudioConfig) -> np.ndarray:
    """The recording exactly as data preparation saw it (trimmed, peak-normalised)."""
    return preprocess(load_audio(wav_path(row, root), audio.sample_rate), audio)


def teacher_mel(mels_dir: Path, row: dict, n_samples: int, audio: AudioConfig) -> np.ndarray:
    """(M, T) dumped mel of one utterance, checked against its recording's length."""
    mel = np.load(mels_dir / f"{row['id']}.npy")
    frames = n_samples // audio.hop_length
    if mel.ndim != 2 or mel.shape != (audio.n_mels, frames):
        raise TrainingError(
            f"{mels_dir / (row['id'] + '.npy')} has shape {mel.shape}, expected "
            f"({audio.n_mels}, {frames}) for its recording: re-run `tts dump-mels` on this manifest"
        )
    return mel


class SegmentDataset(Dataset):
    """Random fixed-length segments of the prepared recordings (zero-padded when shorter)."""

    def __init__(self, rows: list[dict], root: Path, config: VocoderConfig) -> None:
        self.rows, self.root = rows, root
        self.audio = config.audio
        self.segment = config.train.segment_size
        self.seed = config.train.seed
        self.mels_dir = Path(config.train.mels_dir) if config.train.mels_dir else None
        self.epoch = 0
        if self.mels_dir is not None:
            missing = [r["id"] for r in rows if not (self.mels_dir / f"{r['id']}.npy").is_file()]
            if missing:
                raise TrainingError(
                    f"{len(missing)} teacher-forced mels missing from {self.mels_dir} "
                    f"(e.g. {missing[0]}.npy): run `tts dump-mels` first"
                )

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, index: int) -> Segment:
        row = self.rows[index]
        wav = load_wav(row, self.root, self.audio)
        rng = np.random.default_rng([self.seed, self.epoch, index])
        hop, frames = self.audio.hop_length, self.segment // self.audio.hop_length
        if self.mels_dir is None:
            start = int(rng.integers(0, max(len(wav) - self.segment, 0) + 1))
            audio = _fit(wav[start : start + self.segment], self.segment, 0.0)
            return Segment(torch.from_numpy(audio), log_mel(audio, self.audio))
        # Fine-tuning: cut mel and audio at the same frame boundary so they stay aligned.
        mel = teacher_mel(self.mels_dir, row, len(wav), self.audio)
        start = int(rng.integers(0, max(mel.shape[1] - frames, 0) + 1))
        mel = _fit(mel[:, start : start + frames], frames, np.log(self.audio.log_clamp))
        audio = _fit(wav[start * hop : (start + frames) * hop], self.segment, 0.0)
        return Segment(torch.from_numpy(audio), torch.from_numpy(mel))


def _fit(x: np.ndarray, length: int, value: float) -> np.ndarray:
    """Pad the last axis to ``length`` with ``value`` (silence)."""
    pad = length - x.shape[-1]
    if pad > 0:
        x = np.pad(x, [(0, 0)] * (x.ndim - 1) + [(0, pad)], constant_values=value)
    return np.ascontiguousarray(x, dtype=np.float32)


def epoch_batches(
    n_items: int, batch_size: int, seed: int, epoch: int, rank: int = 0, world_size: int = 1
) -> list[list[int]]:
    """This rank's batches for one epoch: a seeded shuffle, split evenly across ranks,
    incomplete batches dropped."""
    order = list(range(n_items))
    random.Random(seed + epoch).shuffle(order)
    mine = order[rank::world_size][: n_items // world_size]
    return [mine[i : i + batch_size] for i in range(0, len(mine) - batch_size + 1, batch_size)]


class ValItem(NamedTuple):
    id: str
    audio: Tensor  # (T * hop,) real recording, cut to whole frames
    mel: Tensor  # (M, T) generator input
    target: Tensor  # (M, T) log_mel of the recording


def load_val_items(rows: list[dict], root: Path, config: VocoderConfig) -> list[ValItem]:
    items = []
    mels_dir = Path(config.train.mels_dir) if config.train.mels_dir else None
    for row in rows[: config.train.val_items]:
        wav = load_wav(row, root, config.audio)
        wav = wav[: len(wav) // config.audio.hop_length * config.audio.hop_length]
        target = log_mel(wav, config.audio)
        mel = (
            torch.from_numpy(teacher_mel(mels_dir, row, len(wav), config.audio))
            if mels_dir is not None
            else target
        )
        items.append(ValItem(row["id"], torch.from_numpy(wav), mel, target))
    return items


def check_manifest_audio(manifest_dir: Path, audio: AudioConfig) -> None:
    """The manifest's features (and trimming) must be made with this audio config."""
    path = manifest_dir / "audio_config.json"
    if not path.is_file():
        return
    found, wanted = json.loads(path.read_text()), to_plain(audio)
    diffs = [
        f"audio.{key}: {found.get(key)!r} there, {wanted.get(key)!r} here"
        for key in sorted(set(found) | set(wanted))
        if found.get(key) != wanted.get(key)
    ]
    if diffs:
        raise TrainingError(
            f"{manifest_dir} was prepared with different audio settings ({'; '.join(diffs)}); "
            "the vocoder must use the acoustic model's audio config"
        )


# ---------------------------------------------------------------- one step


class StepLosses(NamedTuple):
    discriminator: Tensor
    generator: GeneratorLoss


def train_step(
    generator,
    discriminator,
    raw_discriminator: HifiGanDiscriminator,
    optimizer_g: torch.optim.Optimizer,
    optimizer_d: torch.optim.Optimizer,
    batch: Segment,
    config: VocoderConfig,
    world_size: int,
) -> StepLosses | None:
    """One discriminator update, then one generator update; ``None`` when a loss was not
    finite on some rank (that update, and anything after it, skipped on every rank)."""
    real = batch.audio.unsqueeze(1)
    fake = generator(batch.mel)
    n = real.shape[0]
    # The mel target is always the real recording's (fine-tuning inputs are not targets).
    target = batch.mel if config.train.mels_dir is None else log_mel(batch.audio, config.audio)

    optimizer_d.zero_grad(set_to_none=True)
    real_out, fake_out = split_batch(discriminator(torch.cat([real, fake.detach()])), n)
    d_loss = discriminator_loss(real_out, fake_out)
    if not all_finite(d_loss.detach(), world_size):
        return None
    d_loss.backward()
    optimizer_d.step()

    # Generator: the unwrapped discriminator with frozen weights, so no gradients are
    # computed (or all-reduced) for it.
    optimizer_g.zero_grad(set_to_none=True)
    raw_discriminator.requires_grad_(False)
    real_out, fake_out = split_batch(raw_discriminator(torch.cat([real, fake])), n)
    g_loss = generator_loss(
        real_out, fake_out, fake.squeeze(1), target, config.audio, config.train.loss
    )
    finite = all_finite(g_loss.total.detach(), world_size)
    if finite:
        g_loss.total.backward()
    raw_discriminator.requires_grad_(True)
    if not finite:
        return None
    optimizer_g.step()
    return StepLosses(d_loss.detach(), GeneratorLoss(*(t.detach() for t in g_loss)))


# ---------------------------------------------------------------- validation


class ValResult(NamedTuple):
    mel_l1: float
    audio: list[Tensor]  # generated waveforms, one per item
    mels: list[Tensor]  # their log-mels (M, T)


@torch.no_grad()
def validate(generator: HifiGanGenerator, items: list[ValItem], config, device) -> ValResult:
    """Whole validation utterances: mel-L1 between generated and real audio."""
    generator.eval()
    errors, audios, mels = [], [], []
    for item in items:
        audio = generator(item.mel.unsqueeze(0).to(device)).squeeze(1).cpu()
        mel = log_mel(audio, config.audio)[0]
        errors.append(float((mel - item.target).abs().mean()))
        audios.append(audio[0])
        mels.append(mel)
    generator.train()
    return ValResult(sum(errors) / max(len(errors), 1), audios, mels)


def log_validation(
    writer, config: VocoderConfig, step: int, items, result: ValResult, with_real: bool
) -> None:
    """Scalar, generated audio and the first item's mel; the real audio once per process."""
    writer.add_scalar("val/mel_l1", result.mel_l1, step)
    sr = config.audio.sample_rate
    for i, (item, audio) in enumerate(zip(items, result.audio, strict=True)):
        writer.add_audio(f"audio/generated_{i}", audio.clamp(-1, 1).unsqueeze(0), step, sr)
        if with_real:
            writer.add_audio(f"audio/real_{i}", item.audio.unsqueeze(0), step, sr)
    if items:
        figure = plot_mel(result.mels[0].numpy(), items[0].id, items[0].target.numpy())
        writer.add_figure("mel/val_0", figure, step)


# ---------------------------------------------------------------- checkpoints


class Trainables(NamedTuple):
    generator: HifiGanGenerator
    discriminator: HifiGanDiscriminator
    optimizer_g: torch.optim.Optimizer
    optimizer_d: torch.optim.Optimizer
    scheduler_g: torch.optim.lr_scheduler.LRScheduler
    scheduler_d: torch.optim.lr_scheduler.LRScheduler


def build_trainables(config: VocoderConfig, device: torch.device) -> Trainables:
    generator = HifiGanGenerator(config.generator, config.audio.n_mels).to(device)
    discriminator = HifiGanDiscriminator(config.discriminator).to(device)
    t = config.train

    def adamw(module: torch.nn.Module) -> torch.optim.Optimizer:
        return torch.optim.AdamW(
            module.parameters(), t.learning_rate, betas=t.adam_betas, weight_decay=t.weight_decay
        )

    optimizer_g, optimizer_d = adamw(generator), adamw(discriminator)
    return Trainables(
        generator,
        discriminator,
        optimizer_g,
        optimizer_d,
        torch.optim.lr_scheduler.ExponentialLR(optimizer_g, t.lr_decay),
        torch.optim.lr_scheduler.ExponentialLR(optimizer_d, t.lr_decay),
    )


def save_training_checkpoint(
    path: Path, parts: Trainables, config: VocoderConfig, progress: Progress
) -> None:
    save_vocoder_checkpoint(
        path,
        config,
        parts.generator.state_dict(),
        progress.step,
        discriminator=parts.discriminator.state_dict(),
        optimizer_g=parts.optimizer_g.state_dict(),
        optimizer_d=parts.optimizer_d.state_dict(),
        scheduler_g=parts.scheduler_g.state_dict(),
        scheduler_d=parts.scheduler_d.state_dict(),
        progress=dataclasses.asdict(progress),
        rng=rng_state(),
    )


def restore(path: Path, parts: Trainables, device: torch.device) -> Progress:
    """Everything a training checkpoint holds, back into place."""
    state = load_vocoder_checkpoint(path, map_location=device)
    load_generator_weights(parts.generator, state["generator"], path)
    parts.discriminator.load_state_dict(state["discriminator"])
    for name in ("optimizer_g", "optimizer_d", "scheduler_g", "scheduler_d"):
        getattr(parts, name).load_state_dict(state[name])
    set_rng_state(state["rng"])
    return Progress(**state["progress"])


def initialise_from(path: str, parts: Trainables, config: VocoderConfig) -> None:
    """Start a new run from pretrained weights (generator; discriminators when the file
    is one of ours), e.g. a jik876 LJ_V1 generator before fine-tuning."""
    found = open_vocoder_file(path)
    check_audio_match(found.config.audio, config.audio, path)
    load_generator_weights(parts.generator, found.payload["generator"], path)
    if "discriminator" in found.payload:
        if found.config.discriminator != config.discriminator:
            raise VocoderError(f"{path}: its discriminators differ from this config's")
        parts.discriminator.load_state_dict(found.payload["discriminator"])


# ---------------------------------------------------------------- the loop


def train(
    config: VocoderConfig,
    out_dir: str | Path,
    resume: bool = False,
    device: str = "auto",
    max_items: int | None = None,
) -> TrainOutcome:
    """Train until ``config.train.max_steps``; returns the progress and the generator."""
    out_dir = Path(out_dir)
    rank, world_size, device, is_main = start_run(
        out_dir, config.train.seed, device, lambda path: save_vocoder_config(config, path)
    )

    manifest_dir = Path(config.train.manifest_dir)
    check_manifest_audio(manifest_dir, config.audio)
    train_set = SegmentDataset(
        read_manifest(manifest_dir / "train.jsonl")[:max_items], manifest_dir, config
    )
    val_items = []
    if is_main and config.train.val_items:
        val_items = load_val_items(read_manifest(manifest_dir / "val.jsonl"), manifest_dir, config)

    parts = build_trainables(config, device)
    generator, discriminator = parts.generator, parts.discriminator
    if world_size > 1:
        generator = DistributedDataParallel(parts.generator)
        discriminator = DistributedDataParallel(parts.discriminator)
    progress = Progress()
    latest = checkpoints_in(out_dir)
    if resume and latest:
        progress = restore(latest[-1], parts, device)
        if is_main:
            log.info("resumed from %s at step %d", latest[-1], progress.step)
    elif config.train.init_from:
        initialise_from(config.train.init_from, parts, config)
        if is_main:
            log.info("initialised from %s", config.train.init_from)

    writer = None
    if is_main:
        from torch.utils.tensorboard import SummaryWriter

        writer = SummaryWriter(out_dir / "tensorboard")
    bar = tqdm(
        total=config.train.max_steps, initial=progress.step, disable=not is_main, desc="vocoder"
    )
    t = config.train
    logged_real = False
    while progress.step < t.max_steps:
        batches = epoch_batches(
            len(train_set), t.batch_size, t.seed, progress.epoch, rank, world_size
        )
        if not batches:
            raise TrainingError(
                f"no training batches: {len(train_set)} items are fewer than "
                f"train.batch_size={t.batch_size} × {world_size} processes"
            )
        train_set.set_epoch(progress.epoch)
        loader = DataLoader(
            train_set,
            batch_sampler=batches[progress.batch_in_epoch :],
            num_workers=t.num_workers,
            pin_memory=device.type == "cuda",
        )
        for batch in loader:
            step_start = time.perf_counter()
            batch = Segment(*(x.to(device, non_blocking=True) for x in batch))
            losses = train_step(
                generator,
                discriminator,
                parts.discriminator,
                parts.optimizer_g,
                parts.optimizer_d,
                batch,
                config,
                world_size,
            )
            progress.batch_in_epoch += 1
            if losses is None:
                progress.nonfinite_in_row += 1
                log.warning("non-finite loss at step %d: step skipped", progress.step)
                if progress.nonfinite_in_row >= t.max_nonfinite:
                    raise TrainingError(
                        f"{progress.nonfinite_in_row} non-finite steps in a row at step "
                        f"{progress.step}: lower train.learning_rate or check the data"
                    )
                continue
            progress.nonfinite_in_row = 0
            progress.step += 1
            g_total = float(losses.generator.total)
            progress.history.append(g_total)
            bar.update(1)
            bar.set_postfix(g=f"{g_total:.2f}", d=f"{float(losses.discriminator):.2f}")

            if is_main and progress.step % t.log_every == 0:
                scalars = {
                    "train/d_loss": float(losses.discriminator),
                    **{f"train/g_{k}": float(v) for k, v in losses.generator._asdict().items()},
                    "train/lr": parts.scheduler_g.get_last_lr()[0],
                    "train/steps_per_second": 1.0 / (time.perf_counter() - step_start),
                }
                for name, value in scalars.items():
                    writer.add_scalar(name, value, progress.step)
                with open(out_dir / "train_log.jsonl", "a") as handle:
                    handle.write(json.dumps({"step": progress.step, **scalars}) + "\n")
            if is_main and val_items and progress.step % t.val_every == 0:
                result = validate(parts.generator, val_items, config, device)
                log_validation(writer, config, progress.step, val_items, result, not logged_real)
                logged_real = True
                if result.mel_l1 < progress.best_val:
                    progress.best_val = result.mel_l1
                    save_training_checkpoint(out_dir / "best.pt", parts, config, progress)
            if is_main and progress.step % t.checkpoint_every == 0:
                name = f"checkpoint_{progress.step:08d}.pt"
                save_training_checkpoint(out_dir / name, parts, config, progress)
                prune_checkpoints(out_dir, t.keep_last)
            if progress.step >= t.max_steps:
                break
        if progress.batch_in_epoch >= len(batches):
            # lr decay is per epoch, as in jik876/hifi-gan.
            parts.scheduler_g.step()
            parts.scheduler_d.step()
            progress.epoch += 1
            progress.batch_in_epoch = 0
    bar.close()
    if is_main:
        name = f"checkpoint_{progress.step:08d}.pt"
        if not (out_dir / name).exists():
            save_training_checkpoint(out_dir / name, parts, config, progress)
            prune_checkpoints(out_dir, t.keep_last)
        writer.close()
    if world_size > 1:
        import torch.distributed as dist

        dist.barrier()
        dist.destroy_process_group()
    return TrainOutcome(progress, parts.generator)


# ---------------------------------------------------------------- CLI


add_arguments = training_arguments


def run(args: argparse.Namespace) -> int:
    try:
        config = load_vocoder_config(args.config, args.set)
        progress = train(config, args.out, args.resume, args.device, args.max_items).progress
    except (
        TrainingError,
        FileNotFoundError,
        ConfigError,
        CheckpointError,
        VocoderError,
        AudioError,
    ) as exc:
        log.error("%s", exc)
        return 1
    log.info("finished at step %d", progress.step)
    return 0
