"""Scheduled sampling for a parallel (Transformer) decoder, against exposure bias.

Two passes: pass 1 is teacher-forced without gradient and predicts every frame;
pass 2 re-runs the decoder where each step's input is the ground-truth frame with
probability 1 − p and the (detached) pass-1 prediction with probability p.
A pass-1 prediction is one step away from the truth, so the parallel mix never shows
the decoder the drift that builds up when it reads its own frames for many steps in
a row. The ``sequential`` rollout does: pass 1 decodes step by step (no gradient, KV
cache), each step reading either the ground-truth frame or the frame the rollout
itself just produced, so runs of sampled steps compound their errors as at inference.

Frame dropout is the blunter tool against the same failure: each decoder input frame
is replaced by the zero "go" frame (the mean frame in model space) with probability q,
so that for those steps the previous frame carries nothing and the decoder must take
its content from the text through cross-attention. A decoder that leans on its
previous frame drifts into a drone when it runs on its own output.
Shapes use the letters of :mod:`tts.model.transformer_tts`.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
from torch import Tensor

from tts.config import RolloutKind, SamplingConfig
from tts.model.transformer_tts import TransformerTTS, TTSOutput, decoder_inputs, pad_to_multiple


def sampling_probability(config: SamplingConfig, step: int) -> float:
    """p(step): 0 before ``start_step``, then 1 − ε(s) capped at ``max_prob``, where the
    teacher-forcing probability ε decays linearly, exponentially or as an inverse
    sigmoid over s = step − start_step (``constant`` uses the ceiling at once)."""
    if step < config.start_step or config.max_prob == 0:
        return 0.0
    s = step - config.start_step
    if config.schedule == "constant":
        return config.max_prob
    if config.schedule == "linear":
        teacher = max(0.0, 1.0 - s / config.ramp_steps)
    elif config.schedule == "exponential":
        teacher = math.exp(-s / config.ramp_steps)
    else:
        k = config.sigmoid_k
        teacher = k / (k + math.exp(min(s / k, 700.0)))
    return min(config.max_prob, 1.0 - teacher)


def mix_inputs(teacher: Tensor, predicted: Tensor, p: float, generator=None) -> Tensor:
    """Per step (B, T_dec, M): the predicted input with probability p, else the teacher's."""
    if p <= 0:
        return teacher
    if p >= 1:
        return predicted
    draw = torch.rand(teacher.shape[:2], generator=generator, device=teacher.device)
    return torch.where((draw < p).unsqueeze(-1), predicted, teacher)


def drop_frames(inputs: Tensor, q: float, generator=None) -> Tensor:
    """Per step (B, T_dec, M): the zero frame with probability q, else the input.
    The go frame at step 0 is already zero."""
    return mix_inputs(inputs, torch.zeros_like(inputs), q, generator)


class SampledOutput(NamedTuple):
    output: TTSOutput  # pass 2 (with gradient)
    teacher_output: TTSOutput | None  # teacher-forced pass 1; None when p == 0 or sequential
    inputs: Tensor  # (B, T_dec, M) decoder inputs actually used in pass 2


@torch.no_grad()
def rollout_inputs(
    model: TransformerTTS,
    tokens: Tensor,
    token_lengths: Tensor,
    teacher_inputs: Tensor,
    p: float,
    generator=None,
    frames: Tensor | None = None,
    mel_lengths: Tensor | None = None,
    speakers: Tensor | None = None,
) -> Tensor:
    """Decoder inputs (B, T_dec, M) of a step-by-step pass in which each step reads the
    teacher's frame with probability 1 − p, else the last frame this pass produced.
    ``frames`` (B, T_dec * r, M) and ``mel_lengths`` (B,), the targets, are needed with
    ``model.duration_decoding``, whose steps follow the targets' monotonic path."""
    encoded = model.encode(tokens, token_lengths, speakers)
    caches = model.memory_caches(encoded)
    steps = teacher_inputs.shape[1]
    aligned = None
    if model.duration_predictor is not None:
        if frames is None or mel_lengths is None:
            raise ValueError("model.duration_decoding needs the targets for the rollout")
        r = model.reduction_factor
        decoder_lengths = (mel_lengths + r - 1) // r
        _, path = model.monotonic_prediction(encoded, frames, token_lengths, decoder_lengths)
        aligned = model.align_text(encoded, path)
    draw = torch.rand(teacher_inputs.shape[:2], generator=generator, device=tokens.device)
    sampled = (draw < p).unsqueeze(-1)
    sampled[:, 0] = False  # step 0 reads the go frame
    used = [teacher_inputs[:, :1]]
    for step in range(steps - 1):
        step_aligned = None if aligned is None else aligned.steps(step, step + 1)
        out, _, _, caches = model.decode(
            used[-1], encoded, caches, offset=step, aligned=step_aligned
        )
        own = out[:, -1:]
        used.append(
            torch.where(
                sampled[:, step + 1 : step + 2], own, teacher_inputs[:, step + 1 : step + 2]
            )
        )
    return torch.cat(used, dim=1)


def scheduled_sampling_forward(
    model: TransformerTTS | torch.nn.Module,
    reduction_factor: int,
    tokens: Tensor,
    token_lengths: Tensor,
    mels: Tensor,
    mel_lengths: Tensor,
    p: float,
    generator=None,
    frame_dropout: float = 0.0,
    rollout: RolloutKind = "parallel",
    speakers: Tensor | None = None,
) -> SampledOutput:
    """Teacher forcing when p == 0 (one pass), otherwise the two-pass mix (``rollout``
    ``parallel`` or ``sequential``); the inputs of the pass with gradient then lose
    frames with probability ``frame_dropout``. ``speakers`` (B,) as in the model's ``encode``.

    ``model`` may be wrapped (DistributedDataParallel), hence the explicit r.
    """
    r = reduction_factor
    frames = pad_to_multiple(mels, r)
    teacher_inputs = decoder_inputs(frames, r)
    if p <= 0:
        inputs = drop_frames(teacher_inputs, frame_dropout, generator)
        output = model(tokens, token_lengths, mels, mel_lengths, inputs=inputs, speakers=speakers)
        return SampledOutput(output, None, inputs)
    if rollout == "sequential":
        raw = getattr(model, "module", model)
        mixed = rollout_inputs(
            raw, tokens, token_lengths, teacher_inputs, p, generator, frames, mel_lengths, speakers
        )
        inputs = drop_frames(mixed, frame_dropout, generator)
        output = model(tokens, token_lengths, mels, mel_lengths, inputs=inputs, speakers=speakers)
        return SampledOutput(output, None, inputs)
    with torch.no_grad():
        first = model(
            tokens, token_lengths, mels, mel_lengths, inputs=teacher_inputs, speakers=speakers
        )
    predicted = decoder_inputs(first.mel_before.detach(), r)
    inputs = drop_frames(
        mix_inputs(teacher_inputs, predicted, p, generator), frame_dropout, generator
    )
    second = model(tokens, token_lengths, mels, mel_lengths, inputs=inputs, speakers=speakers)
    return SampledOutput(second, first, inputs)
