"""HiFi-GAN vocoder configuration: audio, generator, discriminators, training.

Same rules as :mod:`tts.config`: frozen and typed, validated on construction,
recipe YAML holds only deltas, ``--set train.batch_size=8`` overrides. Generator
fields left unset take the values of ``generator.version`` (the jik876/hifi-gan
V1/V2/V3 settings), so ``generator.version: v3`` alone selects V3 and a single
field such as ``generator.upsample_initial_channel`` can still be changed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from tts.config import AudioConfig, _check, _merge, from_plain, read_deltas, to_plain

GeneratorVersion = Literal["v1", "v2", "v3"]

# The published jik876/hifi-gan architectures (config_v1/v2/v3.json).
_V1 = {
    "resblock": 1,
    "upsample_rates": (8, 8, 2, 2),
    "upsample_kernel_sizes": (16, 16, 4, 4),
    "upsample_initial_channel": 512,
    "resblock_kernel_sizes": (3, 7, 11),
    "resblock_dilation_sizes": ((1, 3, 5), (1, 3, 5), (1, 3, 5)),
}
VERSIONS: dict[str, dict[str, Any]] = {
    "v1": _V1,
    "v2": {**_V1, "upsample_initial_channel": 128},
    "v3": {
        "resblock": 2,
        "upsample_rates": (8, 8, 4),
        "upsample_kernel_sizes": (16, 16, 8),
        "upsample_initial_channel": 256,
        "resblock_kernel_sizes": (3, 5, 7),
        "resblock_dilation_sizes": ((1, 2), (2, 6), (3, 12)),
    },
}


@dataclass(frozen=True)
class GeneratorConfig:
    """Generator architecture; ``None`` fields are filled from ``version``."""

    version: GeneratorVersion = "v1"
    resblock: Literal[1, 2] | None = None
    upsample_rates: tuple[int, ...] | None = None
    upsample_kernel_sizes: tuple[int, ...] | None = None
    upsample_initial_channel: int | None = None
    resblock_kernel_sizes: tuple[int, ...] | None = None
    resblock_dilation_sizes: tuple[tuple[int, ...], ...] | None = None

    def __post_init__(self) -> None:
        _check(self.version in VERSIONS, "generator.version must be v1, v2 or v3")
        for name, value in VERSIONS[self.version].items():
            if getattr(self, name) is None:
                object.__setattr__(self, name, value)
        _check(self.resblock in (1, 2), "generator.resblock must be 1 or 2")
        rates, kernels = self.upsample_rates, self.upsample_kernel_sizes
        _check(
            len(rates) > 0 and len(rates) == len(kernels),
            "generator.upsample_kernel_sizes: one per upsample rate",
        )
        for rate, kernel in zip(rates, kernels, strict=True):
            # Transposed-conv output is exactly T * rate only when kernel - rate is even and >= 0.
            _check(rate >= 1 and kernel >= rate, "generator: need kernel >= rate >= 1")
            _check((kernel - rate) % 2 == 0, "generator: upsample kernel - rate must be even")
        _check(
            self.upsample_initial_channel % 2 ** len(rates) == 0,
            f"generator.upsample_initial_channel must divide by 2^{len(rates)}",
        )
        _check(
            len(self.resblock_kernel_sizes) == len(self.resblock_dilation_sizes) > 0,
            "generator: one dilation list per resblock kernel",
        )
        _check(all(k % 2 == 1 for k in self.resblock_kernel_sizes), "resblock kernels must be odd")
        _check(
            all(len(d) > 0 and min(d) >= 1 for d in self.resblock_dilation_sizes),
            "generator: dilations must be non-empty and >= 1",
        )

    @property
    def upsampling(self) -> int:
        """Audio samples per mel frame."""
        return math.prod(self.upsample_rates)


@dataclass(frozen=True)
class DiscriminatorConfig:
    """Multi-period and multi-scale discriminators (jik876 sizes by default; smaller
    channels make CPU training feasible)."""

    periods: tuple[int, ...] = (2, 3, 5, 7, 11)
    mpd_channels: tuple[int, ...] = (32, 128, 512, 1024, 1024)
    msd_scales: int = 3
    msd_channels: tuple[int, ...] = (128, 128, 256, 512, 1024, 1024, 1024)
    msd_groups: tuple[int, ...] = (1, 4, 16, 16, 16, 16, 1)

    def __post_init__(self) -> None:
        _check(len(self.periods) > 0 and min(self.periods) >= 1, "discriminator.periods >= 1")
        _check(len(self.mpd_channels) > 0, "discriminator.mpd_channels must not be empty")
        _check(self.msd_scales >= 1, "discriminator.msd_scales must be >= 1")
        _check(
            len(self.msd_channels) == len(self.msd_groups) == 7,
            "discriminator.msd_channels and msd_groups need 7 entries (one per conv layer)",
        )
        _check(self.msd_groups[0] == 1, "discriminator.msd_groups[0] must be 1 (mono input)")
        for i in range(1, 7):
            groups = self.msd_groups[i]
            _check(
                self.msd_channels[i - 1] % groups == 0 and self.msd_channels[i] % groups == 0,
                f"discriminator.msd_channels must divide by msd_groups at layer {i}",
            )


@dataclass(frozen=True)
class VocoderLossConfig:
    """Loss weights (jik876: mel-L1 × 45, feature matching × 2, adversarial × 1)."""

    mel_weight: float = 45.0
    feature_weight: float = 2.0
    adversarial_weight: float = 1.0

    def __post_init__(self) -> None:
        weights = (self.mel_weight, self.feature_weight, self.adversarial_weight)
        _check(min(weights) >= 0, "train.loss weights must be >= 0")


@dataclass(frozen=True)
class VocoderTrainConfig:
    """Data, optimisation and bookkeeping.

    ``lr_decay`` multiplies both learning rates once per *epoch* (one pass over
    the train manifest), as jik876/hifi-gan does. ``batch_size`` is per process.
    ``mels_dir`` (from ``tts dump-mels``) switches to fine-tuning: those mels are
    the generator input while the target audio stays the real recording.
    ``init_from`` starts a new run from a vocoder checkpoint (ours or jik876's
    generator file), e.g. to fine-tune a pretrained model.
    """

    manifest_dir: str = "data/prepared"
    mels_dir: str | None = None
    init_from: str | None = None
    seed: int = 1234
    max_steps: int = 500000
    segment_size: int = 8192
    batch_size: int = 16
    learning_rate: float = 2e-4
    adam_betas: tuple[float, float] = (0.8, 0.99)
    weight_decay: float = 0.01
    lr_decay: float = 0.999
    num_workers: int = 0
    log_every: int = 100
    val_every: int = 1000
    val_items: int = 4
    checkpoint_every: int = 5000
    keep_last: int = 3
    max_nonfinite: int = 10
    loss: VocoderLossConfig = field(default_factory=VocoderLossConfig)

    def __post_init__(self) -> None:
        _check(self.max_steps > 0 and self.batch_size > 0, "bad train.max_steps/batch_size")
        _check(self.learning_rate > 0, "train.learning_rate must be positive")
        _check(all(0 <= b < 1 for b in self.adam_betas), "train.adam_betas must be in [0, 1)")
        _check(0 < self.lr_decay <= 1, "train.lr_decay must be in (0, 1]")
        _check(self.num_workers >= 0 and self.val_items >= 0, "bad num_workers/val_items")
        _check(min(self.log_every, self.val_every, self.checkpoint_every) > 0, "bad intervals")
        _check(self.keep_last >= 1 and self.max_nonfinite >= 1, "bad keep_last/max_nonfinite")


@dataclass(frozen=True)
class VocoderConfig:
    """The whole vocoder experiment; ``audio`` must equal the acoustic model's."""

    audio: AudioConfig = field(default_factory=AudioConfig)
    generator: GeneratorConfig = field(default_factory=GeneratorConfig)
    discriminator: DiscriminatorConfig = field(default_factory=DiscriminatorConfig)
    train: VocoderTrainConfig = field(default_factory=VocoderTrainConfig)

    def __post_init__(self) -> None:
        _check(
            self.generator.upsampling == self.audio.hop_length,
            f"the generator upsamples by {self.generator.upsampling} "
            f"(product of generator.upsample_rates) but audio.hop_length is "
            f"{self.audio.hop_length}",
        )
        _check(
            self.train.segment_size % self.audio.hop_length == 0,
            "train.segment_size must be a multiple of audio.hop_length",
        )
        _check(
            self.train.segment_size >= self.audio.n_fft,
            "train.segment_size must be >= audio.n_fft (the mel loss needs whole frames)",
        )

    def to_dict(self) -> dict[str, Any]:
        return to_plain(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> VocoderConfig:
        return from_plain(cls, data, "")


def load_vocoder_config(
    path: str | Path | None = None, overrides: list[str] | None = None
) -> VocoderConfig:
    """Defaults ← recipe YAML deltas ← ``key.sub=value`` overrides (values parsed as YAML).

    Generator fields are merged as given (not pre-filled), so a recipe that names
    ``version: v3`` gets every V3 default rather than V1's leftovers.
    """
    tree = read_deltas(path, overrides)
    defaults = VocoderConfig().to_dict()
    defaults["generator"] = {"version": "v1"}  # the rest comes from the chosen version
    return VocoderConfig.from_dict(_merge(defaults, tree))


def save_vocoder_config(config: VocoderConfig, path: str | Path) -> None:
    Path(path).write_text(yaml.safe_dump(config.to_dict(), sort_keys=False))
