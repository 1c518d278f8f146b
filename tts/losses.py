"""Training losses for Transformer TTS, all masked to real (unpadded) positions.

Shapes use the letters of :mod:`tts.model.transformer_tts`. Weights come from
:class:`tts.config.LossConfig`; nothing here hard-codes a weight.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor

from tts.config import LossConfig
from tts.model.transformer_tts import TTSOutput, lengths_to_mask


class LossTerms(NamedTuple):
    total: Tensor
    mel_before: Tensor
    mel_after: Tensor
    stop: Tensor
    guided: Tensor
    context: Tensor  # the text-only predictor's L1 (zero when model.context_alignment is off)
    path: Tensor  # guided heads' attention off the monotonic path (zero without a path)
    duration: Tensor  # log steps per symbol against the path (zero without duration decoding)


def masked_mean(values: Tensor, mask: Tensor) -> Tensor:
    """Mean of ``values`` where ``mask`` (broadcastable) is True."""
    mask = mask.expand_as(values).to(values.dtype)
    return (values * mask).sum() / mask.sum().clamp(min=1)


def mel_loss(prediction: Tensor, target: Tensor, mask: Tensor, l1: float, l2: float) -> Tensor:
    """Weighted L1 + L2 over real frames. prediction/target (B, T, M), mask (B, T)."""
    mask = mask.unsqueeze(-1)
    loss = prediction.new_zeros(())
    if l1:
        loss = loss + l1 * masked_mean((prediction - target).abs(), mask)
    if l2:
        loss = loss + l2 * masked_mean((prediction - target).pow(2), mask)
    return loss


def stop_targets(mel_lengths: Tensor, num_frames: int) -> Tensor:
    """(B, T) float: 1 from the last real frame on (the END token), 0 before."""
    frames = torch.arange(num_frames, device=mel_lengths.device).unsqueeze(0)
    return (frames >= (mel_lengths - 1).unsqueeze(1)).float()


def guided_attention_weights(
    text_lengths: Tensor, decoder_lengths: Tensor, max_text: int, max_decoder: int, sigma: float
) -> Tensor:
    """Tachibana et al.'s penalty W[t, n] = 1 − exp(−(n/N − t/T)² / (2σ²)), (B, T_dec, T_text),
    zero outside each item's real (T, N) rectangle."""
    t = torch.arange(max_decoder, device=text_lengths.device).float()[None, :, None]
    n = torch.arange(max_text, device=text_lengths.device).float()[None, None, :]
    big_t = decoder_lengths.float()[:, None, None]
    big_n = text_lengths.float()[:, None, None]
    weights = 1.0 - torch.exp(-((n / big_n - t / big_t) ** 2) / (2 * sigma**2))
    valid = (t < big_t) & (n < big_n)
    return weights * valid


def guided_heads_attention(attention: list[Tensor], num_heads: int, num_layers: int) -> Tensor:
    """The first ``num_heads`` heads of the last ``num_layers`` layers of L × (B, H, T_dec,
    T_text) attention, stacked as (B, num_layers, num_heads, T_dec, T_text)."""
    return torch.stack([a[:, :num_heads] for a in attention[-num_layers:]], 1)


def guided_attention_loss(
    attention: list[Tensor],
    text_lengths: Tensor,
    decoder_lengths: Tensor,
    sigma: float,
    num_heads: int,
    num_layers: int,
) -> Tensor:
    """Mean of W·A over real positions, for the first ``num_heads`` heads of the last
    ``num_layers`` layers. ``attention`` is L × (B, H, T_dec, T_text); lengths are in
    decoder steps (after reduction) and symbols (including the end token)."""
    if num_heads == 0 or num_layers == 0:
        return attention[0].new_zeros(())
    chosen = guided_heads_attention(attention, num_heads, num_layers)
    _, _, _, max_decoder, max_text = chosen.shape
    weights = guided_attention_weights(text_lengths, decoder_lengths, max_text, max_decoder, sigma)
    mask = (
        lengths_to_mask(decoder_lengths, max_decoder)[:, :, None]
        & lengths_to_mask(text_lengths, max_text)[:, None, :]
    )
    product = chosen.float() * weights[:, None, None]
    return masked_mean(product, mask[:, None, None])


def path_attention_loss(
    attention: list[Tensor],
    path: Tensor,
    decoder_lengths: Tensor,
    sigma: float,
    num_heads: int,
    num_layers: int,
) -> Tensor:
    """Attention mass away from a hard path (B, T_dec, T_text), per decoder step: the sum
    over symbols of A · (1 − exp(−(n − path)² / (2σ²))), averaged over real steps and the
    first ``num_heads`` heads of the last ``num_layers`` layers. Items whose path is all
    zero (no monotonic path) count as zero."""
    if num_heads == 0 or num_layers == 0:
        return attention[0].new_zeros(())
    chosen = guided_heads_attention(attention, num_heads, num_layers)
    symbols = torch.arange(path.shape[2], device=path.device, dtype=torch.float32)
    target = (path * symbols).sum(-1, keepdim=True)  # (B, T_dec, 1)
    weights = 1.0 - torch.exp(-((symbols - target) ** 2) / (2 * sigma**2))
    off_path = (chosen.float() * weights[:, None, None]).sum(-1)  # (B, layers, heads, T_dec)
    has_path = path.sum(-1) > 0  # (B, T_dec)
    mask = lengths_to_mask(decoder_lengths, path.shape[1]) & has_path
    return masked_mean(off_path, mask[:, None, None])


def duration_loss(log_durations: Tensor, path: Tensor, text_lengths: Tensor) -> Tensor:
    """Mean squared error of the predicted log steps per symbol (B, T_text) against the
    path's (B, T_dec, T_text) steps per symbol, over real symbols of items that have a path."""
    steps = path.sum(1)  # (B, T_text)
    has_path = steps.sum(1) > 0
    mask = lengths_to_mask(text_lengths, steps.shape[1]) & has_path[:, None]
    error = (log_durations.float() - torch.log(steps.clamp(min=1))) ** 2
    return masked_mean(error, mask)


def guided_weight(config: LossConfig, step: int) -> float:
    """λ(step) = λ₀ · decay^(step // every)."""
    return config.guided_weight * config.guided_decay ** (step // config.guided_decay_every)


def tts_loss(
    output: TTSOutput,
    targets: Tensor,
    mel_lengths: Tensor,
    text_lengths: Tensor,
    config: LossConfig,
    step: int = 0,
) -> LossTerms:
    """All loss terms. ``targets`` (B, T_mel, M) normalised log-mels."""
    frames = output.mel_before.shape[1]
    r = frames // output.cross_attention[0].shape[2]
    targets = F.pad(targets, (0, 0, 0, frames - targets.shape[1]))
    frame_mask = lengths_to_mask(mel_lengths, frames)
    before = mel_loss(output.mel_before, targets, frame_mask, config.l1_weight, config.l2_weight)
    after = mel_loss(output.mel_after, targets, frame_mask, config.l1_weight, config.l2_weight)
    stop_mask = lengths_to_mask(output.decoder_lengths * r, frames)
    bce = F.binary_cross_entropy_with_logits(
        output.stop_logits.float(),
        stop_targets(mel_lengths, frames),
        pos_weight=torch.tensor(config.stop_pos_weight, device=targets.device),
        reduction="none",
    )
    stop = masked_mean(bce, stop_mask)
    guided = guided_attention_loss(
        output.cross_attention,
        text_lengths,
        output.decoder_lengths,
        config.guided_sigma,
        config.guided_heads,
        config.guided_layers,
    )
    context = before.new_zeros(())
    if output.context_mel is not None:
        context = mel_loss(output.context_mel, targets, frame_mask, config.l1_weight, 0.0)
    path = before.new_zeros(())
    if output.path is not None:
        path = path_attention_loss(
            output.cross_attention,
            output.path,
            output.decoder_lengths,
            config.path_sigma,
            config.guided_heads,
            config.guided_layers,
        )
    duration = before.new_zeros(())
    if output.log_durations is not None and output.path is not None:
        duration = duration_loss(output.log_durations, output.path, text_lengths)
    total = (
        before
        + after
        + config.stop_weight * stop
        + guided_weight(config, step) * guided
        + config.context_weight * context
        + config.path_weight * path
        + config.duration_weight * duration
    )
    return LossTerms(total, before, after, stop, guided, context, path, duration)
