"""Training loop for the acoustic model, readable top to bottom.

``tts train --config recipes/<name>/conf/<model>.yaml --out exp/<run> [--resume]``;
multi-GPU/multi-node through ``torchrun --nproc_per_node=N -m tts.cli train ...``.
Resuming restores model, optimiser, scheduler, data position and RNG state, so
N + M steps straight and N steps, stop, resume M give the same losses on CPU.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import logging
import math
import os
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch
import torch.distributed as dist
from torch import Tensor
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import ConcatDataset, DataLoader, Dataset, Sampler
from tqdm import tqdm

from tts.audio import griffin_lim
from tts.checkpoint import CheckpointError, checkpoints_in, load_checkpoint, save_checkpoint
from tts.config import Config, ConfigError, ModelConfig, load_config, save_config
from tts.data import Batch, FrameBudgetSampler, MixedSampler, TTSDataset, collate
from tts.eval.alignment import best_head_diagonality, most_diagonal_head
from tts.eval.robustness import detect
from tts.eval.text_probe import text_probe
from tts.losses import LossTerms, guided_weight, tts_loss
from tts.model.generate import generate
from tts.model.transformer_tts import TransformerTTS
from tts.plotting import plot_alignment_grid, plot_mel, save_figure
from tts.scheduled_sampling import sampling_probability, scheduled_sampling_forward
from tts.text import Tokenizer

log = logging.getLogger(__name__)


class TrainOutcome(NamedTuple):
    progress: Progress
    model: TransformerTTS


class TrainingError(RuntimeError):
    """Training cannot go on (e.g. too many non-finite losses in a row)."""


@dataclass
class Progress:
    """Where training stands; saved in every checkpoint."""

    step: int = 0
    epoch: int = 0
    batch_in_epoch: int = 0
    best_val: float = math.inf
    nonfinite_in_row: int = 0
    history: list = field(default_factory=list)


# ---------------------------------------------------------------- setup


def setup_distributed() -> tuple[int, int, int]:
    """(rank, world_size, local_rank) from torchrun's environment, or a single process."""
    if "RANK" not in os.environ:
        return 0, 1, 0
    backend = "nccl" if torch.cuda.is_available() else "gloo"
    dist.init_process_group(backend)
    return dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", 0))


def pick_device(requested: str, local_rank: int) -> torch.device:
    if requested == "auto":
        requested = "cuda" if torch.cuda.is_available() else "cpu"
    if requested == "cuda":
        torch.cuda.set_device(local_rank)
        return torch.device("cuda", local_rank)
    return torch.device(requested)


class Place(NamedTuple):
    """Where this process stands in a run (one process, or one of torchrun's)."""

    rank: int
    world_size: int
    device: torch.device
    is_main: bool


def start_run(out_dir: Path, seed: int, device: str, write_config: Callable[[Path], None]) -> Place:
    """Join torchrun's process group (if any), pick this process's device, seed it (each rank
    differently), and on the main process create ``out_dir`` with its ``config.yaml``."""
    rank, world_size, local_rank = setup_distributed()
    place = Place(rank, world_size, pick_device(device, local_rank), rank == 0)
    if place.is_main:
        out_dir.mkdir(parents=True, exist_ok=True)
        write_config(out_dir / "config.yaml")
    seed_everything(seed + rank)
    return place


def build_model(config: Config) -> TransformerTTS:
    return TransformerTTS(config.model, len(config.text.symbols), config.audio.n_mels)


# Model settings a run may change when it starts from another run's weights: they only add
# modules (``decoder_layers`` may only grow, see :func:`deepen_decoder`), act only at
# inference, or are dropout rates.
WEIGHT_COMPATIBLE_SETTINGS = (
    "attention_dropout",
    "context_alignment",
    "context_heads",
    "decoder_layers",
    "duration_decoding",
    "duration_channels",
    "duration_kernel",
    "decoder_prenet_dropout",
    "dropout",
    "encoder_prenet_dropout",
    "length_scale",
    "num_speakers",
    "postnet_dropout",
    "prenet_dropout_at_inference",
)


def load_init_source(path: str) -> dict:
    """``train.init_from``: a checkpoint file, or a run folder, whose last step checkpoint
    is read. A recipe's next stage can then name the previous stage's folder instead of
    repeating its step count. A folder whose run stopped before its ``train.max_steps`` is
    an error, so a later stage never builds on a half-trained one."""
    source = Path(path)
    if not source.is_dir():
        return load_checkpoint(source, map_location="cpu")
    checkpoints = checkpoints_in(source)
    if not checkpoints:
        raise TrainingError(f"train.init_from={path} is a folder without step checkpoints")
    state = load_checkpoint(checkpoints[-1], map_location="cpu")
    planned = state["config"].train.max_steps
    if state["step"] < planned:
        raise TrainingError(
            f"train.init_from={path}: that run stopped at step {state['step']} of {planned}; "
            "finish it (tts train ... --resume) or name one of its checkpoints"
        )
    log.info("train.init_from: %s (step %d)", checkpoints[-1], state["step"])
    return state


def init_from_checkpoint(model: TransformerTTS, config: Config, path: str) -> None:
    """Copy another run's weights into a fresh model (pre-training → fine-tuning). The
    model may differ in :data:`WEIGHT_COMPATIBLE_SETTINGS`; modules they add start fresh.
    With ``train.init_new_symbols`` the symbol table may differ too (:func:`remap_embedding`)."""
    state = load_init_source(path)
    source: Config = state["config"]
    kept = {name: getattr(config.model, name) for name in WEIGHT_COMPATIBLE_SETTINGS}
    new_symbols = source.text.symbols != config.text.symbols
    if dataclasses.replace(source.model, **kept) != config.model or (
        new_symbols and not config.train.init_new_symbols
    ):
        raise TrainingError(
            f"train.init_from={path} was trained with another model or symbol table; "
            "fine-tuning needs the same model and text settings "
            "(train.init_new_symbols=true allows another symbol table)"
        )
    weights = dict(state["model"])
    added = config.model.decoder_layers - source.model.decoder_layers
    if added:
        weights = deepen_decoder(weights, source.model.decoder_layers, config.model)
    if new_symbols:
        key = "encoder_prenet.embedding.weight"
        weights[key], shared = remap_embedding(
            weights[key], source.text.symbols, model.state_dict()[key], config.text.symbols
        )
        log.info(
            "symbol table changed: %d of %d symbols keep their embedding, the rest start fresh",
            shared,
            len(config.text.symbols),
        )
    own = model.state_dict()
    resized = [k for k, v in weights.items() if k in own and own[k].shape != v.shape]
    if resized:
        raise TrainingError(
            f"train.init_from={path} has weights of another shape: {', '.join(resized)} "
            "(e.g. another model.num_speakers)"
        )
    missing, unexpected = model.load_state_dict(weights, strict=False)
    if unexpected:
        raise TrainingError(f"train.init_from={path} has weights this model lacks: {unexpected}")
    log.info("initialised weights from %s (step %d)", path, state["step"])
    if added:
        for layer in model.decoder_layers[:added]:
            layer.start_as_identity()
        log.info("%d new decoder layers below the trained ones start as the identity", added)
    new_layers = tuple(f"decoder_layers.{index}." for index in range(added))
    fresh = sorted({key.split(".")[0] for key in missing if not key.startswith(new_layers)})
    if fresh:
        log.info("new modules start fresh: %s", ", ".join(fresh))


def deepen_decoder(
    weights: dict[str, Tensor], layers: int, model: ModelConfig
) -> dict[str, Tensor]:
    """A trained decoder of ``layers`` layers as the top of ``model``'s deeper one: layer i
    becomes layer i + the number added. The trained layers stay on top because the guided
    attention loss and inference read the last layers' heads; the new ones go below and start
    as the identity (:meth:`DecoderLayer.start_as_identity`), so the deeper model begins by
    speaking exactly as the trained one did."""
    added = model.decoder_layers - layers
    if added < 0:
        raise TrainingError(
            f"train.init_from has {layers} decoder layers; a run may add decoder layers "
            f"but not remove them (model.decoder_layers={model.decoder_layers})"
        )
    if not model.norm_first:
        raise TrainingError("added decoder layers start as the identity only with norm_first")
    prefix = "decoder_layers."
    moved = {}
    for key, value in weights.items():
        if key.startswith(prefix):
            index, rest = key[len(prefix) :].split(".", 1)
            key = f"{prefix}{int(index) + added}.{rest}"
        moved[key] = value
    return moved


def remap_embedding(
    old: Tensor, old_symbols: tuple[str, ...], fresh: Tensor, new_symbols: tuple[str, ...]
) -> tuple[Tensor, int]:
    """Rows of ``fresh`` (V_new, D) replaced by ``old``'s (V_old, D) row of the same symbol.

    Returns the embedding and how many symbols it shares with the old table."""
    row = {symbol: i for i, symbol in enumerate(old_symbols)}
    out = fresh.clone()
    shared = [(i, row[s]) for i, s in enumerate(new_symbols) if s in row]
    for new_index, old_index in shared:
        out[new_index] = old[old_index]
    return out, len(shared)


def freeze_modules(model: TransformerTTS, names: tuple[str, ...]) -> None:
    """Stop the gradient into the named top-level modules (``train.freeze``)."""
    modules = dict(model.named_children())
    unknown = [name for name in names if modules.get(name) is None]
    if unknown:
        raise TrainingError(
            f"train.freeze: this model has no module {', '.join(unknown)}; "
            f"it has {', '.join(sorted(modules))}"
        )
    for name in names:
        modules[name].requires_grad_(False)


def set_training(model: TransformerTTS, frozen: tuple[str, ...]) -> None:
    """Training mode, except that frozen modules run as at inference: their batch-norm
    statistics stay as trained too, and their dropout is off."""
    model.train()
    for name in frozen:
        getattr(model, name).eval()


def training_data(
    config: Config, tokenizer: Tokenizer, max_items: int | None, world_size: int, rank: int
) -> tuple[Dataset, Sampler]:
    """The training split of ``data.manifest_dir`` (speaker 0) and of each of
    ``data.extra_speakers`` (speakers 1, 2, …), with a frame-budget batch sampler."""
    folders = [config.data.manifest_dir, *config.data.extra_speakers]
    parts = [
        TTSDataset(Path(folder) / "train.jsonl", tokenizer, max_items, speaker=speaker)
        for speaker, folder in enumerate(folders)
    ]
    samplers = [
        FrameBudgetSampler(
            [part.frames(i) for i in range(len(part))],
            config.train.batch_frames,
            config.train.max_batch_size,
            seed=config.train.seed,
            num_replicas=world_size,
            rank=rank,
        )
        for part in parts
    ]
    if len(parts) == 1 and config.data.main_repeat == 1:
        return parts[0], samplers[0]
    sampler = MixedSampler(
        samplers,
        [len(part) for part in parts],
        first_repeat=config.data.main_repeat,
        first_share=config.data.main_share,
    )
    return ConcatDataset(parts), sampler


def load_stats(manifest_dir: Path, n_mels: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-bin mean/std written by ``tts prepare``."""
    stats = json.loads((manifest_dir / "stats.json").read_text())
    mean, std = torch.tensor(stats["mean"]), torch.tensor(stats["std"])
    if mean.shape != (n_mels,):
        raise ValueError(f"stats.json has {mean.shape[0]} bins, config expects {n_mels}")
    return mean, std


def noam_factor(step: int, warmup: int) -> float:
    """Linear warm-up to 1 over ``warmup`` steps, then ∝ 1/√step (Noam), for LambdaLR."""
    step = max(step, 1)
    if warmup == 0:
        return 1.0
    return min(step / warmup, math.sqrt(warmup / step))


def rng_state() -> dict:
    state = {"torch": torch.get_rng_state(), "python": list(random.getstate()[1])}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict) -> None:
    torch.set_rng_state(state["torch"])
    random.setstate((3, tuple(state["python"]), None))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


# ---------------------------------------------------------------- one step


def autocast(device: torch.device, amp: str):
    if device.type != "cuda" or amp == "none":
        return contextlib.nullcontext()
    dtype = torch.bfloat16 if amp == "bf16" else torch.float16
    return torch.autocast("cuda", dtype=dtype)


def compute_loss(
    model, raw: TransformerTTS, batch: Batch, config: Config, step: int, p: float
) -> tuple[LossTerms, LossTerms | None, object]:
    """Scheduled-sampling forward (teacher forcing when p == 0, with frame dropout if
    configured) and loss terms."""
    mels = raw.normalize(batch.mels)
    sampled = scheduled_sampling_forward(
        model,
        raw.reduction_factor,
        batch.tokens,
        batch.token_lengths,
        mels,
        batch.mel_lengths,
        p,
        frame_dropout=config.train.sampling.frame_dropout,
        rollout=config.train.sampling.rollout,
        speakers=batch.speakers,
    )
    terms = tts_loss(
        sampled.output, mels, batch.mel_lengths, batch.token_lengths, config.train.loss, step
    )
    teacher_terms = None
    if sampled.teacher_output is not None:
        teacher_terms = tts_loss(
            sampled.teacher_output,
            mels,
            batch.mel_lengths,
            batch.token_lengths,
            config.train.loss,
            step,
        )
    return terms, teacher_terms, sampled.output


def all_finite(value: torch.Tensor, world_size: int) -> bool:
    """Whether every rank saw a finite value (ranks must skip a step together)."""
    flag = torch.tensor([float(torch.isfinite(value).all())], device=value.device)
    if world_size > 1:
        dist.all_reduce(flag, op=dist.ReduceOp.MIN)
    return bool(flag.item() == 1.0)


# ---------------------------------------------------------------- validation


@torch.no_grad()
def validate(raw: TransformerTTS, loader: DataLoader, config: Config, step: int, device) -> dict:
    """Teacher-forced loss over the validation set (model in eval mode), plus the text
    gain of the first batch (:mod:`tts.eval.text_probe`): near 0 while the decoder still
    ignores the text, however low the loss."""
    raw.eval()
    totals: dict[str, float] = {}
    count = 0
    gain = None
    for batch in loader:
        batch = batch.to(device)
        if gain is None and batch.tokens.shape[0] > 1:
            gain = text_probe(raw, batch).text_gain
        mels = raw.normalize(batch.mels)
        output = raw(batch.tokens, batch.token_lengths, mels, batch.mel_lengths)
        terms = tts_loss(
            output, mels, batch.mel_lengths, batch.token_lengths, config.train.loss, step
        )
        for name, value in terms._asdict().items():
            totals[name] = totals.get(name, 0.0) + float(value)
        count += 1
    set_training(raw, config.train.freeze)
    means = {name: value / max(count, 1) for name, value in totals.items()}
    return means if gain is None else {**means, "text_gain": gain}


@torch.no_grad()
def free_running(raw: TransformerTTS, dataset: TTSDataset, config: Config, device) -> list[dict]:
    """Synthesise a few fixed validation sentences without teacher forcing."""
    raw.eval()
    results = []
    r = raw.reduction_factor
    heads = guided_heads(config)
    for index in range(min(config.train.val_sentences, len(dataset))):
        item = dataset[index]
        tokens = item.tokens.unsqueeze(0).to(device)
        max_steps = int(item.mel.shape[0] * 2 / r) + 10
        out = generate(
            raw,
            tokens,
            torch.tensor([tokens.shape[1]], device=device),
            max_steps,
            alignment_heads=heads or None,
        )
        length = int(out.lengths[0])
        mel = out.mel[0, :length].cpu()
        alignment = out.alignment[0, :, :, : int(out.decoder_steps[0])].cpu()
        best = most_diagonal_head(alignment)
        flags = detect(
            alignment[best.layer, best.head],
            dataset.tokenizer.symbols(item.tokens),
            bool(out.hit_max[0]),
        )
        overlap = min(length, item.mel.shape[0])
        l1 = float((mel[:overlap] - item.mel[:overlap]).abs().mean()) if overlap else math.inf
        results.append(
            {
                "id": item.id,
                "mel": mel,
                "target": item.mel,
                "alignment": alignment,
                "flags": flags,
                "diagonality": best.diagonality,
                "l1": l1,
                "length_ratio": length / item.mel.shape[0],
                "hit_max": bool(out.hit_max[0]),
            }
        )
    set_training(raw, config.train.freeze)
    return results


def guided_heads(config: Config) -> list[tuple[int, int]]:
    """The (layer, head) pairs the guided-attention loss shapes: the alignment heads
    (empty without guidance; :func:`generate` then uses its own default)."""
    layers = config.model.decoder_layers
    loss = config.train.loss
    return [
        (layer, head)
        for layer in range(max(0, layers - loss.guided_layers), layers)
        for head in range(min(loss.guided_heads, config.model.num_heads))
    ]


# ---------------------------------------------------------------- logging


def log_validation(writer, out_dir: Path, config: Config, step: int, val, samples) -> None:
    for name, value in val.items():
        writer.add_scalar(f"val/{name}", value, step)
    row = {"step": step, **{f"val/{k}": v for k, v in val.items()}}
    if samples:
        row["val_free/l1"] = sum(x["l1"] for x in samples) / len(samples)
        row["val_free/errors"] = sum(x["flags"].error for x in samples)
        row["val_free/diagonality"] = sum(x["diagonality"] for x in samples) / len(samples)
    with open(out_dir / "val_log.jsonl", "a") as handle:
        handle.write(json.dumps(row) + "\n")
    align_dir = out_dir / "alignments"
    align_dir.mkdir(exist_ok=True)
    for i, sample in enumerate(samples):
        writer.add_scalar(f"val_free/l1_{i}", sample["l1"], step)
        writer.add_scalar(f"val_free/length_ratio_{i}", sample["length_ratio"], step)
        for kind in ("skip", "repeat", "no_stop"):
            writer.add_scalar(f"val_free/{kind}_{i}", float(getattr(sample["flags"], kind)), step)
        fig = plot_alignment_grid(sample["alignment"].numpy(), f"{sample['id']} step {step}")
        writer.add_figure(f"alignment/free_{i}", fig, step, close=False)
        save_figure(fig, align_dir / f"step{step:07d}_{sample['id']}.png")
        writer.add_figure(
            f"mel/free_{i}", plot_mel(sample["mel"].T.numpy(), "", sample["target"].T.numpy()), step
        )
        if sample["mel"].shape[0] >= 2:
            audio = griffin_lim(sample["mel"].T, config.audio, n_iter=16).clamp(-1.0, 1.0)
            writer.add_audio(f"audio/free_{i}", audio.unsqueeze(0), step, config.audio.sample_rate)


# ---------------------------------------------------------------- checkpoints


def save_training_checkpoint(
    out_dir: Path, name: str, raw, optimizer, scheduler, scaler, config, progress
):
    save_checkpoint(
        out_dir / name,
        config,
        raw.state_dict(),
        progress.step,
        optimizer=optimizer.state_dict(),
        scheduler=scheduler.state_dict(),
        scaler=scaler.state_dict() if scaler is not None else None,
        progress=dataclasses.asdict(progress),
        rng=rng_state(),
    )


def prune_checkpoints(out_dir: Path, keep: int) -> None:
    for old in checkpoints_in(out_dir)[:-keep]:
        old.unlink(missing_ok=True)


# ---------------------------------------------------------------- the loop


def train(
    config: Config,
    out_dir: str | Path,
    resume: bool = False,
    device: str = "auto",
    max_items: int | None = None,
) -> TrainOutcome:
    """Train until ``config.train.max_steps``; returns the progress (with loss history)
    and the trained model."""
    out_dir = Path(out_dir)
    rank, world_size, device, is_main = start_run(
        out_dir, config.train.seed, device, lambda path: save_config(config, path)
    )

    tokenizer = Tokenizer(config.text)
    manifest_dir = Path(config.data.manifest_dir)
    train_set, sampler = training_data(config, tokenizer, max_items, world_size, rank)
    val_set = TTSDataset(manifest_dir / "val.jsonl", tokenizer)
    val_sampler = FrameBudgetSampler(
        [val_set.frames(i) for i in range(len(val_set))],
        max(config.train.batch_frames, max(val_set.frames(i) for i in range(len(val_set)))),
        config.train.max_batch_size,
        shuffle=False,
    )
    val_loader = DataLoader(val_set, batch_sampler=val_sampler, collate_fn=collate)

    raw = build_model(config).to(device)
    latest = checkpoints_in(out_dir)
    if config.train.init_from and not (resume and latest):
        init_from_checkpoint(raw, config, config.train.init_from)
    raw.set_mel_stats(*load_stats(manifest_dir, config.audio.n_mels))
    freeze_modules(raw, config.train.freeze)
    model = DistributedDataParallel(raw) if world_size > 1 else raw
    optimizer = torch.optim.Adam(
        [p for p in raw.parameters() if p.requires_grad],
        lr=config.train.learning_rate,
        betas=config.train.adam_betas,
        weight_decay=config.train.weight_decay,
    )
    warmup = config.train.warmup_steps
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: noam_factor(s, warmup))
    use_scaler = device.type == "cuda" and config.train.amp == "fp16"
    scaler = torch.amp.GradScaler("cuda") if use_scaler else None
    progress = Progress()

    if resume and latest:
        state = load_checkpoint(latest[-1], map_location=device)
        raw.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        if scaler is not None and state.get("scaler"):
            scaler.load_state_dict(state["scaler"])
        progress = Progress(**state["progress"])
        set_rng_state(state["rng"])
        if is_main:
            log.info("resumed from %s at step %d", latest[-1], progress.step)

    writer = None
    if is_main:
        from torch.utils.tensorboard import SummaryWriter

        writer = SummaryWriter(out_dir / "tensorboard")
    bar = tqdm(
        total=config.train.max_steps, initial=progress.step, disable=not is_main, desc="train"
    )
    accum = config.train.grad_accum
    set_training(raw, config.train.freeze)
    while progress.step < config.train.max_steps:
        sampler.set_epoch(progress.epoch)
        batches = list(sampler)
        if not batches:
            raise TrainingError("no training batches: too few items for this many processes")
        while (
            progress.batch_in_epoch + accum <= len(batches)
            and progress.step < config.train.max_steps
        ):
            step_start = time.perf_counter()
            p = sampling_probability(config.train.sampling, progress.step)
            optimizer.zero_grad(set_to_none=True)
            finite = True
            for micro in range(accum):
                indices = batches[progress.batch_in_epoch + micro]
                batch = collate([train_set[i] for i in indices]).to(device)
                sync = micro == accum - 1 or world_size == 1
                context = contextlib.nullcontext() if sync else model.no_sync()
                with context, autocast(device, config.train.amp):
                    terms, teacher_terms, output = compute_loss(
                        model, raw, batch, config, progress.step, p
                    )
                finite = finite and all_finite(terms.total.detach(), world_size)
                if finite:
                    loss = terms.total / accum
                    (scaler.scale(loss) if scaler else loss).backward()
            progress.batch_in_epoch += accum
            if scaler is not None:
                scaler.unscale_(optimizer)
            grad_norm = torch.nn.utils.clip_grad_norm_(raw.parameters(), config.train.grad_clip)
            finite = finite and all_finite(grad_norm, world_size)
            if not finite:
                progress.nonfinite_in_row += 1
                optimizer.zero_grad(set_to_none=True)
                log.warning("non-finite loss or gradient at step %d: step skipped", progress.step)
                if progress.nonfinite_in_row >= config.train.max_nonfinite:
                    raise TrainingError(
                        f"{progress.nonfinite_in_row} non-finite steps in a row at step "
                        f"{progress.step}: lower train.learning_rate, check the data "
                        "(tts prepare's summary) or disable AMP (train.amp=none)"
                    )
                continue
            progress.nonfinite_in_row = 0
            if scaler is not None:
                scaler.step(optimizer)
                scaler.update()
            else:
                optimizer.step()
            scheduler.step()
            progress.step += 1
            loss_value = float(terms.total.detach())
            progress.history.append(loss_value)
            bar.update(1)
            bar.set_postfix(loss=f"{loss_value:.3f}", p=f"{p:.2f}")

            if is_main and progress.step % config.train.log_every == 0:
                diag, layer, head = best_head_diagonality(
                    [a.detach().float().cpu() for a in output.cross_attention],
                    batch.token_lengths.cpu(),
                    output.decoder_lengths.cpu(),
                )
                scalars = {
                    **{f"train/{k}": float(v.detach()) for k, v in terms._asdict().items()},
                    "train/lr": scheduler.get_last_lr()[0],
                    "train/grad_norm": float(grad_norm),
                    "train/sampling_p": p,
                    "train/guided_lambda": guided_weight(config.train.loss, progress.step),
                    "train/alpha_encoder": float(raw.encoder_position.alpha.detach()),
                    "train/alpha_decoder": float(raw.decoder_position.alpha.detach()),
                    "train/diagonality": diag,
                    "train/steps_per_second": 1.0 / (time.perf_counter() - step_start),
                }
                if teacher_terms is not None:
                    scalars.update(
                        {f"train_tf/{k}": float(v) for k, v in teacher_terms._asdict().items()}
                    )
                for name, value in scalars.items():
                    writer.add_scalar(name, value, progress.step)
                with open(out_dir / "train_log.jsonl", "a") as handle:
                    handle.write(
                        json.dumps({"step": progress.step, **scalars, "best_head": [layer, head]})
                        + "\n"
                    )

            if is_main and progress.step % config.train.val_every == 0:
                with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
                    val = validate(raw, val_loader, config, progress.step, device)
                    samples = free_running(raw, val_set, config, device)
                log_validation(writer, out_dir, config, progress.step, val, samples)
                if val["total"] < progress.best_val:
                    progress.best_val = val["total"]
                    save_training_checkpoint(
                        out_dir, "best.pt", raw, optimizer, scheduler, scaler, config, progress
                    )
            if is_main and progress.step % config.train.checkpoint_every == 0:
                name = f"checkpoint_{progress.step:08d}.pt"
                save_training_checkpoint(
                    out_dir, name, raw, optimizer, scheduler, scaler, config, progress
                )
                prune_checkpoints(out_dir, config.train.keep_last)
        if progress.batch_in_epoch + accum > len(batches):
            progress.epoch += 1
            progress.batch_in_epoch = 0
    bar.close()
    if is_main:
        name = f"checkpoint_{progress.step:08d}.pt"
        if not (out_dir / name).exists():
            save_training_checkpoint(
                out_dir, name, raw, optimizer, scheduler, scaler, config, progress
            )
            prune_checkpoints(out_dir, config.train.keep_last)
        writer.close()
    if world_size > 1:
        dist.barrier()
        dist.destroy_process_group()
    return TrainOutcome(progress, raw)


# ---------------------------------------------------------------- CLI


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options shared by every training command (acoustic model and vocoder)."""
    parser.add_argument("--config", help="recipe YAML (deltas from the defaults)")
    parser.add_argument("--out", required=True, help="run folder (checkpoints, logs, plots)")
    parser.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE", help="overrides")
    parser.add_argument("--resume", action="store_true", help="continue from the latest checkpoint")
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda")
    parser.add_argument("--max-items", type=int, default=None, help="use only the first N items")


def run(args: argparse.Namespace) -> int:
    try:
        config = load_config(args.config, args.set)
        progress = train(config, args.out, args.resume, args.device, args.max_items).progress
    except (TrainingError, FileNotFoundError, ConfigError, CheckpointError) as exc:
        log.error("%s", exc)
        return 1
    log.info("finished at step %d", progress.step)
    return 0
