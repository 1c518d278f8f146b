"""HiFi-GAN discriminators: multi-period (MPD) and multi-scale (MSD).

MPD folds the waveform into (T / p, p) and runs 2-D convs along time only, so
each sub-discriminator judges samples that are p apart (periodic structure);
MSD judges the raw, ×2 and ×4 average-pooled waveform (smoothness at several
scales). Layer sizes follow jik876/hifi-gan unless the config shrinks them.
Shapes: B batch, T samples.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.utils.parametrizations import spectral_norm, weight_norm

from tts.vocoder.config import DiscriminatorConfig

LRELU_SLOPE = 0.1


class DiscriminatorOutput(NamedTuple):
    """One entry per sub-discriminator: its logits and its hidden activations."""

    logits: list[Tensor]  # each (B, N_d) flattened real/fake scores
    features: list[list[Tensor]]  # each a list of layer outputs (B, ...) for feature matching


def merge(*outputs: DiscriminatorOutput) -> DiscriminatorOutput:
    """Concatenate the sub-discriminator lists of several outputs (e.g. MPD then MSD)."""
    return DiscriminatorOutput(
        [x for out in outputs for x in out.logits], [f for out in outputs for f in out.features]
    )


def split_batch(
    output: DiscriminatorOutput, first: int
) -> tuple[DiscriminatorOutput, DiscriminatorOutput]:
    """Split a pass over ``cat([real, fake])`` into the real and the fake halves."""

    def part(rows: slice) -> DiscriminatorOutput:
        return DiscriminatorOutput(
            [x[rows] for x in output.logits], [[f[rows] for f in fs] for fs in output.features]
        )

    return part(slice(None, first)), part(slice(first, None))


def conv_stack(
    convs: nn.ModuleList, conv_post: nn.Module, x: Tensor
) -> tuple[Tensor, list[Tensor]]:
    """Leaky-ReLU convs, then the output conv: flattened logits (B, N) and every layer's
    output, which feature matching compares between real and generated audio."""
    features = []
    for conv in convs:
        x = F.leaky_relu(conv(x), LRELU_SLOPE)
        features.append(x)
    x = conv_post(x)
    features.append(x)
    return torch.flatten(x, 1), features


class PeriodDiscriminator(nn.Module):
    """2-D convs with (5, 1) kernels, stride 3 along time, over the (T / p, p) fold."""

    def __init__(self, period: int, channels: tuple[int, ...], kernel: int = 5, stride: int = 3):
        super().__init__()
        self.period = period
        sizes = (1, *channels)
        pad = (kernel - 1) // 2
        self.convs = nn.ModuleList(
            weight_norm(
                nn.Conv2d(
                    sizes[i],
                    sizes[i + 1],
                    (kernel, 1),
                    # The last conv keeps the resolution (stride 1), as in jik876.
                    (stride if i < len(channels) - 1 else 1, 1),
                    padding=(pad, 0),
                )
            )
            for i in range(len(channels))
        )
        self.conv_post = weight_norm(nn.Conv2d(channels[-1], 1, (3, 1), 1, padding=(1, 0)))

    def forward(self, wav: Tensor) -> tuple[Tensor, list[Tensor]]:
        """(B, 1, T) → logits (B, N), features."""
        batch, channels, length = wav.shape
        if length % self.period:
            wav = F.pad(wav, (0, self.period - length % self.period), mode="reflect")
        x = wav.view(batch, channels, -1, self.period)
        return conv_stack(self.convs, self.conv_post, x)


class MultiPeriodDiscriminator(nn.Module):
    def __init__(self, config: DiscriminatorConfig) -> None:
        super().__init__()
        self.discriminators = nn.ModuleList(
            PeriodDiscriminator(p, config.mpd_channels) for p in config.periods
        )

    def forward(self, wav: Tensor) -> DiscriminatorOutput:
        results = [d(wav) for d in self.discriminators]
        return DiscriminatorOutput([r[0] for r in results], [r[1] for r in results])


# jik876's DiscriminatorS layers: (kernel, stride); channels and groups come from the config.
SCALE_LAYERS = ((15, 1), (41, 2), (41, 2), (41, 4), (41, 4), (41, 1), (5, 1))


class ScaleDiscriminator(nn.Module):
    """Strided, grouped 1-D convs over the waveform."""

    def __init__(self, config: DiscriminatorConfig, spectral: bool = False) -> None:
        super().__init__()
        norm = spectral_norm if spectral else weight_norm
        sizes = (1, *config.msd_channels)
        self.convs = nn.ModuleList(
            norm(
                nn.Conv1d(
                    sizes[i],
                    sizes[i + 1],
                    kernel,
                    stride,
                    groups=config.msd_groups[i],
                    padding=(kernel - 1) // 2,
                )
            )
            for i, (kernel, stride) in enumerate(SCALE_LAYERS)
        )
        self.conv_post = norm(nn.Conv1d(sizes[-1], 1, 3, 1, padding=1))

    def forward(self, wav: Tensor) -> tuple[Tensor, list[Tensor]]:
        """(B, 1, T) → logits (B, N), features."""
        return conv_stack(self.convs, self.conv_post, wav)


class MultiScaleDiscriminator(nn.Module):
    """Scale 0 sees raw audio (spectral norm, for stability); scale k sees it pooled k times."""

    def __init__(self, config: DiscriminatorConfig) -> None:
        super().__init__()
        self.discriminators = nn.ModuleList(
            ScaleDiscriminator(config, spectral=i == 0) for i in range(config.msd_scales)
        )
        self.meanpools = nn.ModuleList(
            nn.AvgPool1d(4, 2, padding=2) for _ in range(config.msd_scales - 1)
        )

    def forward(self, wav: Tensor) -> DiscriminatorOutput:
        logits, features = [], []
        for i, discriminator in enumerate(self.discriminators):
            if i > 0:
                wav = self.meanpools[i - 1](wav)
            score, fmap = discriminator(wav)
            logits.append(score)
            features.append(fmap)
        return DiscriminatorOutput(logits, features)


class HifiGanDiscriminator(nn.Module):
    """MPD and MSD together: one module to optimise, checkpoint and wrap in DDP."""

    def __init__(self, config: DiscriminatorConfig) -> None:
        super().__init__()
        self.mpd = MultiPeriodDiscriminator(config)
        self.msd = MultiScaleDiscriminator(config)

    def forward(self, wav: Tensor) -> DiscriminatorOutput:
        """(B, 1, T) → every sub-discriminator's output, MPD's first."""
        return merge(self.mpd(wav), self.msd(wav))
