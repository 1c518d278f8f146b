"""Free-running (autoregressive) decoding for :class:`TransformerTTS`.

With ``use_cache`` each step feeds one new frame through the decoder, reusing the
self-attention keys/values of earlier steps and the encoder memory projected once;
without it, every step recomputes the whole prefix (the reference for tests and
benchmarks). Shapes use the letters of :mod:`tts.model.transformer_tts`.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor

from tts.model.alignment import path_from_durations
from tts.model.transformer_tts import TransformerTTS, lengths_to_mask


class GenerateOutput(NamedTuple):
    mel: Tensor  # (B, T_mel, M) raw log-mel (denormalised), zero-padded past each length
    lengths: Tensor  # (B,) frames per item
    stop_probs: Tensor  # (B, T_dec * r)
    alignment: Tensor  # (B, L, H, T_dec, T_text) cross-attention weights
    decoder_steps: Tensor  # (B,) steps taken until the stop token (or the cap)
    hit_max: Tensor  # (B,) bool: stopped by the length cap, not the stop token


def monotonic_window(focus: Tensor, text_length: int, back: int, forward: int) -> Tensor:
    """(B,) previous focus → (B, 1, 1, T_text) bool window [focus - back, focus + forward]."""
    positions = torch.arange(text_length, device=focus.device).unsqueeze(0)
    window = (positions >= (focus - back).unsqueeze(1)) & (
        positions <= (focus + forward).unsqueeze(1)
    )
    return window[:, None, None, :]


@torch.no_grad()
def generate(
    model: TransformerTTS,
    tokens: Tensor,
    token_lengths: Tensor,
    max_steps: int,
    min_steps: int | Tensor = 0,
    stop_threshold: float = 0.5,
    use_cache: bool = True,
    monotonic: tuple[int, int] | None = None,
    alignment_heads: list[tuple[int, int]] | None = None,
    length_scale: float | None = None,
    durations: Tensor | None = None,
    speakers: Tensor | None = None,
) -> GenerateOutput:
    """Decode until every item's stop probability reaches ``stop_threshold``.

    ``monotonic=(back, forward)`` restricts cross-attention to a window around the
    previous focus (argmax of the mean over ``alignment_heads``, (layer, head)
    pairs; default all heads of the last layer), which prevents skips and repeats.
    With duration decoding the window is around each step's path symbol instead.
    With ``model.duration_decoding`` the predicted durations set each step's symbol and
    each item's number of steps instead of the stop token (``min_steps`` and
    ``stop_threshold`` are then unused) and ``length_scale`` (default
    ``model.length_scale``) stretches them. ``durations`` (B, T_text), whole steps per
    symbol, replaces the prediction (e.g. a recording's, to hear the model without its
    duration errors). ``speakers`` (B,) picks the voice of a multi-speaker model
    (default speaker 0).
    """
    r = model.reduction_factor
    batch = tokens.shape[0]
    device = tokens.device
    encoded = model.encode(tokens, token_lengths, speakers)
    planned, aligned, path_symbols = None, None, None
    if model.duration_predictor is None and durations is not None:
        raise ValueError("durations need a model trained with model.duration_decoding")
    if model.duration_predictor is not None:
        if durations is None:
            durations = model.duration_predictor.steps(
                model.duration_predictor(encoded.memory, encoded.mask),
                encoded.mask,
                model.config.length_scale if length_scale is None else length_scale,
            )
        planned = durations.sum(1)  # (B,) steps
        path = path_from_durations(durations, max_steps)
        aligned = model.align_text(encoded, path)
        path_symbols = path.argmax(-1)  # (B, T_dec)
    memory = model.memory_caches(encoded)
    caches = memory
    heads = alignment_heads or [
        (len(model.decoder_layers) - 1, h) for h in range(model.config.num_heads)
    ]
    min_steps_t = torch.as_tensor(min_steps, device=device).expand(batch)

    inputs = torch.zeros(batch, 1, model.n_mels, device=device)
    history, biases, frames, stop_logits, weights = [], [], [], [], []
    focus = torch.zeros(batch, dtype=torch.long, device=device)
    finished = torch.zeros(batch, dtype=torch.bool, device=device)
    end_frame = torch.full((batch,), max_steps * r, dtype=torch.long, device=device)
    steps_taken = torch.full((batch,), max_steps, dtype=torch.long, device=device)

    for step in range(max_steps):
        bias = None
        if path_symbols is not None:
            focus = path_symbols[:, step]
        if monotonic is not None:
            bias = monotonic_window(focus, tokens.shape[1], *monotonic)
            biases.append(bias)
        if use_cache:
            out_frames, out_stops, out_weights, caches = model.decode(
                inputs,
                encoded,
                caches,
                offset=step,
                memory_bias=bias,
                aligned=None if aligned is None else aligned.steps(step, step + 1),
            )
        else:
            history.append(inputs)
            all_bias = torch.cat(biases, dim=2) if biases else None
            out_frames, out_stops, out_weights, _ = model.decode(
                torch.cat(history, 1),
                encoded,
                memory,
                memory_bias=all_bias,
                aligned=None if aligned is None else aligned.steps(0, step + 1),
            )
            out_frames, out_stops = out_frames[:, -r:], out_stops[:, -r:]
            out_weights = [w[:, :, -1:] for w in out_weights]
        frames.append(out_frames)
        stop_logits.append(out_stops)
        step_weights = torch.stack(out_weights, dim=1)  # (B, L, H, 1, T_text)
        weights.append(step_weights)
        if monotonic is not None and path_symbols is None:
            chosen = torch.stack([step_weights[:, layer, head, 0] for layer, head in heads], 1)
            focus = torch.maximum(focus, chosen.mean(1).argmax(-1))

        if planned is None:
            fired = (torch.sigmoid(out_stops) >= stop_threshold) & (step >= min_steps_t)[:, None]
            newly = fired.any(1) & ~finished
            end = step * r + fired.float().argmax(1) + 1
        else:
            newly = (planned == step + 1) & ~finished
            end = torch.full_like(end_frame, (step + 1) * r)
        end_frame = torch.where(newly, end, end_frame)
        steps_taken = torch.where(newly, torch.full_like(steps_taken, step + 1), steps_taken)
        finished |= newly
        if bool(finished.all()):
            break
        inputs = out_frames[:, -1:]

    before = torch.cat(frames, dim=1)
    lengths = torch.clamp(end_frame, max=before.shape[1])
    mask = lengths_to_mask(lengths, before.shape[1])
    after = before + model.postnet(before, mask)
    mel = model.denormalize(after) * mask.unsqueeze(-1)
    return GenerateOutput(
        mel=mel,
        lengths=lengths,
        stop_probs=torch.sigmoid(torch.cat(stop_logits, dim=1)),
        alignment=torch.cat(weights, dim=3),
        decoder_steps=steps_taken,
        hit_max=~finished,
    )
