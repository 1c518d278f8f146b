"""HiFi-GAN losses: least-squares GAN, feature matching and mel-L1.

The mel loss compares :func:`tts.audio.log_mel` of the generated audio with the
target mel, so the vocoder is trained on exactly the feature the acoustic model
predicts. Every term sums over sub-discriminators (and layers) of a mean, like
jik876/hifi-gan; the weights live in :class:`VocoderLossConfig`.
"""

from __future__ import annotations

from typing import NamedTuple

import torch.nn.functional as F
from torch import Tensor

from tts.audio import log_mel
from tts.config import AudioConfig
from tts.vocoder.config import VocoderLossConfig
from tts.vocoder.discriminators import DiscriminatorOutput


class GeneratorLoss(NamedTuple):
    total: Tensor
    adversarial: Tensor
    feature: Tensor
    mel: Tensor


def discriminator_loss(real: DiscriminatorOutput, fake: DiscriminatorOutput) -> Tensor:
    """LSGAN: push real scores to 1 and fake scores to 0."""
    return sum(
        ((1 - r) ** 2).mean() + (f**2).mean() for r, f in zip(real.logits, fake.logits, strict=True)
    )


def adversarial_loss(fake: DiscriminatorOutput) -> Tensor:
    """LSGAN generator side: push fake scores to 1."""
    return sum(((1 - f) ** 2).mean() for f in fake.logits)


def feature_matching_loss(real: DiscriminatorOutput, fake: DiscriminatorOutput) -> Tensor:
    """L1 between the discriminator's activations on real and generated audio (real
    side detached: it is a target, not something to move)."""
    return sum(
        (r.detach() - f).abs().mean()
        for real_maps, fake_maps in zip(real.features, fake.features, strict=True)
        for r, f in zip(real_maps, fake_maps, strict=True)
    )


def mel_loss(audio: Tensor, target_mel: Tensor, config: AudioConfig) -> Tensor:
    """L1 between log_mel(audio) (B, T·hop) and the target log-mel (B, M, T)."""
    return F.l1_loss(log_mel(audio, config), target_mel)


def generator_loss(
    real: DiscriminatorOutput,
    fake: DiscriminatorOutput,
    audio: Tensor,
    target_mel: Tensor,
    audio_config: AudioConfig,
    weights: VocoderLossConfig,
) -> GeneratorLoss:
    """Weighted sum of adversarial, feature-matching and mel terms (unweighted terms kept
    for logging)."""
    adversarial = adversarial_loss(fake)
    feature = feature_matching_loss(real, fake)
    mel = mel_loss(audio, target_mel, audio_config)
    total = (
        weights.adversarial_weight * adversarial
        + weights.feature_weight * feature
        + weights.mel_weight * mel
    )
    return GeneratorLoss(total, adversarial, feature, mel)
