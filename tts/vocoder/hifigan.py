"""HiFi-GAN generator (Kong et al., 2020) and the :class:`HifiGanVocoder` built on it.

The module tree mirrors jik876/hifi-gan's ``Generator`` (``conv_pre``, ``ups.N``,
``resblocks.N.convs1.M`` / ``convs2.M`` for type 1, ``resblocks.N.convs.M`` for
type 2, ``conv_post``), so its published generator files load with ``strict=True``.
Weight norm uses ``torch.nn.utils.parametrizations`` (the old hook API is
deprecated); the old API's ``weight_g`` / ``weight_v`` keys are mapped onto it
when a state dict is loaded. Shapes: B batch, M mel bins, T frames, C channels.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.utils import parametrize
from torch.nn.utils.parametrizations import weight_norm

from tts.checkpoint import (
    FORMAT_VERSION,
    CheckpointError,
    check_format_version,
    git_sha,
    write_atomic,
)
from tts.config import AudioConfig, ConfigError
from tts.vocoder import VocoderError
from tts.vocoder.config import VERSIONS, GeneratorConfig, VocoderConfig

LRELU_SLOPE = 0.1
CHECKPOINT_KIND = "hifigan"


def _padding(kernel: int, dilation: int) -> int:
    """'Same' padding of an odd kernel with dilation."""
    return (kernel * dilation - dilation) // 2


def _conv(channels: int, kernel: int, dilation: int) -> nn.Conv1d:
    conv = nn.Conv1d(
        channels, channels, kernel, 1, dilation=dilation, padding=_padding(kernel, dilation)
    )
    return _init_weight_norm(conv)


def _init_weight_norm(conv: nn.Module) -> nn.Module:
    """N(0, 0.01) weights (jik876's init), then weight norm (g starts at ||v||, so the
    effective weight is unchanged)."""
    nn.init.normal_(conv.weight, 0.0, 0.01)
    return weight_norm(conv)


class ResBlock1(nn.Module):
    """Per dilation d: x += conv_1(lrelu(conv_d(lrelu(x))))."""

    def __init__(self, channels: int, kernel: int, dilations: tuple[int, ...]) -> None:
        super().__init__()
        self.convs1 = nn.ModuleList(_conv(channels, kernel, d) for d in dilations)
        self.convs2 = nn.ModuleList(_conv(channels, kernel, 1) for _ in dilations)

    def forward(self, x: Tensor) -> Tensor:
        for dilated, plain in zip(self.convs1, self.convs2, strict=True):
            y = dilated(F.leaky_relu(x, LRELU_SLOPE))
            x = x + plain(F.leaky_relu(y, LRELU_SLOPE))
        return x


class ResBlock2(nn.Module):
    """Per dilation d: x += conv_d(lrelu(x)) (V3's lighter block)."""

    def __init__(self, channels: int, kernel: int, dilations: tuple[int, ...]) -> None:
        super().__init__()
        self.convs = nn.ModuleList(_conv(channels, kernel, d) for d in dilations)

    def forward(self, x: Tensor) -> Tensor:
        for conv in self.convs:
            x = x + conv(F.leaky_relu(x, LRELU_SLOPE))
        return x


class HifiGanGenerator(nn.Module):
    """Log-mel (B, M, T) → waveform (B, 1, T * prod(upsample_rates)) in [-1, 1].

    Each stage: leaky ReLU, transposed-conv upsampling that halves the channels,
    then the mean of parallel residual blocks (one per kernel size): the
    multi-receptive-field fusion that lets one stage see several time scales.
    """

    def __init__(self, config: GeneratorConfig, n_mels: int) -> None:
        super().__init__()
        self.config = config
        channels = config.upsample_initial_channel
        self.num_kernels = len(config.resblock_kernel_sizes)
        self.conv_pre = weight_norm(nn.Conv1d(n_mels, channels, 7, 1, padding=3))
        block = ResBlock1 if config.resblock == 1 else ResBlock2
        self.ups = nn.ModuleList()
        self.resblocks = nn.ModuleList()
        for i, (rate, kernel) in enumerate(
            zip(config.upsample_rates, config.upsample_kernel_sizes, strict=True)
        ):
            in_ch, out_ch = channels // 2**i, channels // 2 ** (i + 1)
            up = nn.ConvTranspose1d(in_ch, out_ch, kernel, rate, padding=(kernel - rate) // 2)
            self.ups.append(_init_weight_norm(up))
            for size, dilations in zip(
                config.resblock_kernel_sizes, config.resblock_dilation_sizes, strict=True
            ):
                self.resblocks.append(block(out_ch, size, dilations))
        final = channels // 2 ** len(config.upsample_rates)
        self.conv_post = _init_weight_norm(nn.Conv1d(final, 1, 7, 1, padding=3))
        self.register_load_state_dict_pre_hook(_accept_old_weight_norm_keys)

    def forward(self, mel: Tensor) -> Tensor:
        x = self.conv_pre(mel)
        for i, up in enumerate(self.ups):
            x = up(F.leaky_relu(x, LRELU_SLOPE))
            blocks = self.resblocks[i * self.num_kernels : (i + 1) * self.num_kernels]
            x = sum(block(x) for block in blocks) / self.num_kernels
        # The last activation uses PyTorch's default slope (0.01), as in jik876's code;
        # pretrained weights expect it.
        return torch.tanh(self.conv_post(F.leaky_relu(x)))

    def remove_weight_norm(self) -> None:
        """Fold g·v/‖v‖ into plain weights: same output, no per-call normalisation."""
        for module in self.modules():
            if parametrize.is_parametrized(module, "weight"):
                parametrize.remove_parametrizations(module, "weight", leave_parametrized=True)


def _accept_old_weight_norm_keys(
    module: nn.Module, state_dict: dict, prefix: str, *args: Any
) -> None:
    """Rename ``X.weight_g`` / ``X.weight_v`` (torch.nn.utils.weight_norm, as in jik876's
    files) to this module's layout: the parametrization's ``original0/1`` while weight
    norm is on, or the folded ``X.weight`` once it has been removed."""
    for key in [k for k in state_dict if k.startswith(prefix) and k.endswith(".weight_g")]:
        base = key[: -len(".weight_g")]
        if base + ".weight_v" not in state_dict:
            continue
        try:
            target = module.get_submodule(base[len(prefix) :])
        except AttributeError:
            continue  # unknown module: leave the keys so strict loading names them
        g, v = state_dict.pop(key), state_dict.pop(base + ".weight_v")
        if parametrize.is_parametrized(target, "weight"):
            state_dict[base + ".parametrizations.weight.original0"] = g
            state_dict[base + ".parametrizations.weight.original1"] = v
        else:
            norm = torch.linalg.vector_norm(v, dim=tuple(range(1, v.dim())), keepdim=True)
            state_dict[base + ".weight"] = g * v / norm


# ---------------------------------------------------------------- checkpoints


def save_vocoder_checkpoint(
    path: str | Path, config: VocoderConfig, generator_state: dict, step: int, **extra: Any
) -> None:
    """Atomically write a self-describing vocoder checkpoint (format of :mod:`tts.checkpoint`,
    with ``kind`` = "hifigan" and the generator weights under ``generator``)."""
    payload = {
        "format_version": FORMAT_VERSION,
        "kind": CHECKPOINT_KIND,
        "config": config.to_dict(),
        "git_sha": git_sha(),
        "step": step,
        "generator": generator_state,
        **extra,
    }
    write_atomic(path, payload)


def read_vocoder_file(path: str | Path, map_location: str | torch.device = "cpu") -> dict:
    """Load either file kind with ``weights_only=True``; errors are :class:`VocoderError`."""
    path = Path(path)
    if not path.is_file():
        raise VocoderError(f"HiFi-GAN checkpoint not found: {path}")
    try:
        payload = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any unpickling failure means "not a checkpoint"
        raise VocoderError(f"cannot read HiFi-GAN checkpoint {path}: {exc}") from exc
    if not isinstance(payload, dict) or "generator" not in payload:
        raise VocoderError(
            f"{path} is neither a tts vocoder checkpoint nor a jik876/hifi-gan generator "
            "file ({'generator': state_dict})"
        )
    return payload


def load_vocoder_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> dict:
    """Read one of our vocoder checkpoints; ``config`` comes back as a :class:`VocoderConfig`."""
    return _own_checkpoint(read_vocoder_file(path, map_location), path)


def _own_checkpoint(payload: dict, path: str | Path) -> dict:
    if payload.get("kind") != CHECKPOINT_KIND or "format_version" not in payload:
        raise CheckpointError(f"{path} is not a tts vocoder checkpoint")
    check_format_version(payload, path)
    try:
        payload["config"] = VocoderConfig.from_dict(payload["config"])
    except ConfigError as exc:
        raise CheckpointError(f"{path} holds an invalid vocoder config: {exc}") from exc
    return payload


def jik876_config(path: str | Path) -> VocoderConfig:
    """The :class:`VocoderConfig` described by a jik876/hifi-gan ``config.json``."""
    path = Path(path)
    if not path.is_file():
        raise VocoderError(
            f"{path} not found: a jik876/hifi-gan generator file needs the config.json it "
            "was trained with in the same folder"
        )
    try:
        raw = json.loads(path.read_text())
        audio = AudioConfig(
            sample_rate=int(raw["sampling_rate"]),
            n_fft=int(raw["n_fft"]),
            hop_length=int(raw["hop_size"]),
            win_length=int(raw["win_size"]),
            n_mels=int(raw["num_mels"]),
            fmin=float(raw.get("fmin") or 0.0),
            fmax=float(raw.get("fmax") or int(raw["sampling_rate"]) / 2),
        )
        fields = {
            "resblock": int(raw["resblock"]),
            "upsample_rates": tuple(raw["upsample_rates"]),
            "upsample_kernel_sizes": tuple(raw["upsample_kernel_sizes"]),
            "upsample_initial_channel": int(raw["upsample_initial_channel"]),
            "resblock_kernel_sizes": tuple(raw["resblock_kernel_sizes"]),
            "resblock_dilation_sizes": tuple(tuple(d) for d in raw["resblock_dilation_sizes"]),
        }
        # The version is only a label here (every field is explicit): name the matching one.
        version = next((v for v, preset in VERSIONS.items() if preset == fields), "v1")
        return VocoderConfig(audio=audio, generator=GeneratorConfig(version=version, **fields))
    except (ValueError, KeyError, TypeError) as exc:  # ConfigError is a ValueError
        raise VocoderError(f"{path} is not a usable HiFi-GAN config: {exc!r}") from exc


class VocoderFile(NamedTuple):
    config: VocoderConfig
    payload: dict  # "generator" state (ours add "discriminator", optimisers, ...)


def open_vocoder_file(path: str | Path, map_location: str | torch.device = "cpu") -> VocoderFile:
    """Either kind of generator file, with the config that describes it."""
    path = Path(path)
    payload = read_vocoder_file(path, map_location)
    if "format_version" not in payload:
        return VocoderFile(jik876_config(path.parent / "config.json"), payload)
    try:
        payload = _own_checkpoint(payload, path)
    except CheckpointError as exc:
        raise VocoderError(str(exc)) from exc
    return VocoderFile(payload["config"], payload)


def load_generator_weights(generator: HifiGanGenerator, state: dict, source: str | Path) -> None:
    """Strict load; a mismatch names the file instead of only listing keys."""
    try:
        generator.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        raise VocoderError(
            f"{source}: weights do not fit the generator its config describes: {exc}"
        ) from exc


FEATURE_FIELDS = ("sample_rate", "n_fft", "hop_length", "win_length", "n_mels", "fmin", "fmax")


def check_audio_match(vocoder: AudioConfig, acoustic: AudioConfig, source: str) -> None:
    """A vocoder only understands mels made exactly like its training features."""
    fields = (*FEATURE_FIELDS, "log_clamp")
    diffs = [
        f"audio.{name}: vocoder {getattr(vocoder, name)!r}, acoustic model "
        f"{getattr(acoustic, name)!r}"
        for name in fields
        if getattr(vocoder, name) != getattr(acoustic, name)
    ]
    if diffs:
        raise VocoderError(
            f"{source} was trained on different features than the acoustic model: "
            + "; ".join(diffs)
        )


class HifiGanVocoder:
    """Inference wrapper: eval mode, weight norm folded away, no gradients."""

    name = "hifigan"

    def __init__(
        self,
        generator: HifiGanGenerator,
        config: VocoderConfig,
        device: str | torch.device = "cpu",
    ) -> None:
        generator.remove_weight_norm()
        self.generator = generator.eval().to(device)
        self.config = config
        self.device = torch.device(device)
        self.sample_rate = config.audio.sample_rate
        self.hop_length = config.audio.hop_length

    @classmethod
    def from_path(
        cls, path: str | Path, audio: AudioConfig, device: str | torch.device = "cpu"
    ) -> HifiGanVocoder:
        """Our vocoder checkpoint, or a jik876 generator file with ``config.json`` beside it.

        ``audio`` is the acoustic model's feature config; any difference is an error.
        """
        found = open_vocoder_file(path)
        check_audio_match(found.config.audio, audio, str(path))
        generator = HifiGanGenerator(found.config.generator, found.config.audio.n_mels)
        load_generator_weights(generator, found.payload["generator"], path)
        return cls(generator, found.config, device)

    @torch.no_grad()
    def __call__(self, mel: Tensor) -> Tensor:
        """(B, n_mels, T) natural-log mel → (B, T * hop) audio in [-1, 1], on mel's device."""
        audio = self.generator(mel.to(self.device, torch.float32)).squeeze(1)
        return audio.to(mel.device)
