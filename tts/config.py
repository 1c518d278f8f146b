"""One frozen, nested, typed configuration for the whole toolkit.

Recipe YAML files hold only deltas from these defaults; the CLI applies dotted
overrides (``model.d_model=384``) on top. Every checkpoint stores the full
config as a plain dict, so one file is enough to rebuild the model.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from tts.text.symbols import DEFAULT_CHARACTERS, default_symbols

ScheduleKind = Literal["constant", "linear", "exponential", "inverse_sigmoid"]
RolloutKind = Literal["parallel", "sequential"]


class ConfigError(ValueError):
    """A configuration value or key is invalid."""


def _check(condition: bool, message: str) -> None:
    if not condition:
        raise ConfigError(message)


@dataclass(frozen=True)
class AudioConfig:
    """Waveform and log-mel settings (HiFi-GAN convention by default)."""

    sample_rate: int = 22050
    n_fft: int = 1024
    hop_length: int = 256
    win_length: int = 1024
    n_mels: int = 80
    fmin: float = 0.0
    fmax: float = 8000.0
    log_clamp: float = 1e-5
    peak_normalize: bool = True
    peak_level: float = 0.95
    trim_silence: bool = True
    trim_top_db: float = 45.0

    def __post_init__(self) -> None:
        _check(self.sample_rate > 0, "audio.sample_rate must be positive")
        _check(self.win_length <= self.n_fft, "audio.win_length must be <= audio.n_fft")
        _check(0 < self.hop_length <= self.win_length, "audio.hop_length must be in (0, win]")
        _check((self.n_fft - self.hop_length) % 2 == 0, "audio.n_fft - hop_length must be even")
        _check(self.n_mels > 0, "audio.n_mels must be positive")
        _check(0 <= self.fmin < self.fmax <= self.sample_rate / 2, "need 0 <= fmin < fmax <= sr/2")
        _check(self.log_clamp > 0, "audio.log_clamp must be positive")
        _check(0 < self.peak_level <= 1, "audio.peak_level must be in (0, 1]")


@dataclass(frozen=True)
class TextConfig:
    """Text front-end: the symbol inventory is saved with every checkpoint."""

    frontend: Literal["characters", "phonemes"] = "characters"
    language: str = "en-us"
    symbols: tuple[str, ...] = DEFAULT_CHARACTERS
    max_chars: int = 1000

    def __post_init__(self) -> None:
        _check(self.frontend in ("characters", "phonemes"), "text.frontend: characters|phonemes")
        if self.frontend != "characters" and self.symbols == DEFAULT_CHARACTERS:
            # Store the front-end's own table so a checkpoint names the symbols it was trained on.
            object.__setattr__(self, "symbols", default_symbols(self.frontend))
        _check(len(self.symbols) > 0, "text.symbols must not be empty")
        _check(len(set(self.symbols)) == len(self.symbols), "text.symbols has duplicates")
        _check(self.max_chars > 0, "text.max_chars must be positive")


@dataclass(frozen=True)
class DataConfig:
    """Where prepared data lives and which utterances are kept."""

    manifest_dir: str = "data/prepared"
    min_seconds: float = 0.5
    max_seconds: float = 15.0
    val_fraction: float = 0.05
    test_fraction: float = 0.05
    clip_fraction: float = 0.01
    split_seed: int = 1234
    # Other speakers' prepared corpora (manifest folders) whose training splits join this
    # one's: speaker 1, 2, … in their order (this corpus is speaker 0, the voice that
    # synthesis uses by default). Validation stays on this corpus. ``main_repeat`` lists this
    # corpus's batches that many times per epoch, so a small corpus is not drowned;
    # ``main_share`` (when > 0) says the same as a share of each epoch's batches instead,
    # which stays right when an extra corpus grows.
    extra_speakers: tuple[str, ...] = ()
    main_repeat: int = 1
    main_share: float = 0.0

    def __post_init__(self) -> None:
        _check(self.main_repeat >= 1, "data.main_repeat must be >= 1")
        _check(0 <= self.main_share < 1, "data.main_share must be in [0, 1)")
        _check(
            self.main_share == 0 or (self.main_repeat == 1 and self.extra_speakers),
            "data.main_share needs data.extra_speakers and replaces data.main_repeat (leave it 1)",
        )
        _check(0 <= self.min_seconds < self.max_seconds, "need 0 <= data.min_seconds < max")
        _check(0 <= self.val_fraction < 1 and 0 <= self.test_fraction < 1, "bad split fractions")
        _check(self.val_fraction + self.test_fraction < 1, "val + test fractions must be < 1")
        _check(0 < self.clip_fraction <= 1, "data.clip_fraction must be in (0, 1]")


@dataclass(frozen=True)
class ModelConfig:
    """Transformer TTS architecture."""

    d_model: int = 256
    num_heads: int = 4
    encoder_layers: int = 3
    decoder_layers: int = 3
    ffn_dim: int = 1024
    dropout: float = 0.1
    attention_dropout: float = 0.1
    norm_first: bool = True
    encoder_prenet_layers: int = 3
    encoder_prenet_kernel: int = 5
    encoder_prenet_dropout: float = 0.2
    decoder_prenet_dim: int = 256
    decoder_prenet_dropout: float = 0.5
    # Tacotron 2 keeps the decoder prenet's dropout on at inference against attention loops.
    # Duration voices (the path is fixed) may do better without it: measure with
    # `tts eval --prenet-dropout off`, then `tts export --prenet-dropout off`.
    prenet_dropout_at_inference: bool = True
    postnet_layers: int = 5
    postnet_channels: int = 256
    postnet_kernel: int = 5
    postnet_dropout: float = 0.1
    reduction_factor: int = 2
    # Text-only auxiliary mel predictor (a training signal; "off" by default): one linear
    # layer predicts each decoder step's r frames from the aligned encoder memory alone. The
    # decoder can predict a frame from the frames before it and ignore the text; this head
    # cannot, so its loss makes the encoder say what each symbol sounds like. Its alignment:
    # "attention", the mean of the first ``context_heads`` heads of the last decoder layer,
    # or "mas", the monotonic path that best matches the frames to the symbols (Glow-TTS).
    context_alignment: Literal["off", "attention", "mas"] = "off"
    context_heads: int = 2
    # With context_alignment="mas": the path also drives the decoder. A duration predictor
    # learns the path's steps per symbol; each decoder step reads its path symbol's memory
    # and adds its output to the context head's frames for that symbol. At inference the
    # predicted durations fix the path and the length, so nothing can skip, repeat or fail
    # to stop, and the text reaches the output without the decoder having to read it.
    duration_decoding: bool = False
    duration_channels: int = 256
    duration_kernel: int = 3
    # Inference only: predicted durations are multiplied by this (> 1 speaks slower). The
    # predictor fits log steps, whose mean undershoots the mean step count (Jensen), so a
    # voice may store a scale above 1, as Piper voices store their length_scale.
    length_scale: float = 1.0
    # A learnt vector per speaker added to the encoder output (zero at the start, so a
    # single-speaker voice loaded with train.init_from speaks as before for every speaker).
    num_speakers: int = 1

    def __post_init__(self) -> None:
        _check(self.num_speakers >= 1, "model.num_speakers must be >= 1")
        _check(self.context_heads >= 1, "model.context_heads must be >= 1")
        _check(
            not self.duration_decoding or self.context_alignment == "mas",
            "model.duration_decoding needs model.context_alignment=mas",
        )
        _check(self.duration_channels >= 1, "model.duration_channels must be >= 1")
        _check(self.duration_kernel % 2 == 1, "model.duration_kernel must be odd")
        _check(0 < self.length_scale <= 10, "model.length_scale must be in (0, 10]")
        _check(
            self.context_alignment != "attention" or self.context_heads <= self.num_heads,
            "model.context_heads must be <= num_heads",
        )
        _check(self.d_model % self.num_heads == 0, "model.d_model must divide by num_heads")
        _check(self.encoder_layers >= 1 and self.decoder_layers >= 1, "need >= 1 layer each")
        _check(1 <= self.reduction_factor <= 10, "model.reduction_factor must be 1..10")
        for name in ("encoder_prenet_kernel", "postnet_kernel"):
            _check(getattr(self, name) % 2 == 1, f"model.{name} must be odd")
        for name in ("dropout", "attention_dropout", "decoder_prenet_dropout", "postnet_dropout"):
            _check(0 <= getattr(self, name) < 1, f"model.{name} must be in [0, 1)")


@dataclass(frozen=True)
class LossConfig:
    """Loss weights (never inline constants in the training code)."""

    l1_weight: float = 1.0
    l2_weight: float = 0.0
    stop_weight: float = 1.0
    stop_pos_weight: float = 5.0
    context_weight: float = 1.0  # the text-only predictor of model.context_alignment
    # With model.context_alignment="mas": the guided heads' attention mass further than
    # about ``path_sigma`` symbols from the monotonic path, per decoder step.
    path_weight: float = 0.0
    path_sigma: float = 1.0
    # With model.duration_decoding: squared error of the predicted log steps per symbol.
    duration_weight: float = 1.0
    guided_weight: float = 1.0
    guided_sigma: float = 0.4
    guided_heads: int = 2
    guided_layers: int = 2
    guided_decay: float = 1.0
    guided_decay_every: int = 1000

    def __post_init__(self) -> None:
        _check(self.guided_sigma > 0, "train.loss.guided_sigma must be positive")
        _check(self.path_sigma > 0, "train.loss.path_sigma must be positive")
        _check(0 < self.guided_decay <= 1, "train.loss.guided_decay must be in (0, 1]")
        _check(self.guided_decay_every > 0, "train.loss.guided_decay_every must be positive")
        _check(self.guided_heads >= 0 and self.guided_layers >= 0, "guided heads/layers >= 0")


@dataclass(frozen=True)
class SamplingConfig:
    """Against exposure bias: scheduled sampling (probability p(step) of feeding the
    model's own frame) and frame dropout."""

    schedule: ScheduleKind = "linear"
    start_step: int = 0
    ramp_steps: int = 10000
    max_prob: float = 0.0
    sigmoid_k: float = 2000.0
    # Where sampled frames come from: "parallel" (a teacher-forced pass, one step from the
    # truth; cheap) or "sequential" (a step-by-step pass on its own frames, as at
    # inference; about one extra forward pass per decoder step, without gradient).
    rollout: RolloutKind = "parallel"
    # Probability of replacing a decoder input frame by the go frame (training only).
    frame_dropout: float = 0.0

    def __post_init__(self) -> None:
        _check(0 <= self.max_prob <= 1, "train.sampling.max_prob must be in [0, 1]")
        _check(0 <= self.frame_dropout < 1, "train.sampling.frame_dropout must be in [0, 1)")
        _check(self.ramp_steps > 0 and self.start_step >= 0, "bad scheduled-sampling steps")
        _check(self.sigmoid_k > 1, "train.sampling.sigmoid_k must be > 1")


@dataclass(frozen=True)
class TrainConfig:
    """Optimisation, batching, checkpointing and logging."""

    seed: int = 1234
    # Fine-tuning: a checkpoint whose model weights start a fresh run (optimiser, step and
    # feature statistics are new), or a finished run's folder (its last checkpoint). Ignored
    # when resuming a run that has checkpoints.
    init_from: str | None = None
    # Fine-tuning: top-level modules of the model whose weights stay as they are, e.g.
    # ``[encoder_prenet, encoder_layers, encoder_norm]`` keeps what a large corpus taught the
    # encoder about spelling while a small one brings in its speaker.
    freeze: tuple[str, ...] = ()
    # Fine-tuning into another symbol table (characters → phonemes): the symbols both tables
    # share keep their embeddings, the others start fresh. Off, another table is an error.
    init_new_symbols: bool = False
    max_steps: int = 20000
    batch_frames: int = 6000
    max_batch_size: int = 64
    grad_accum: int = 1
    learning_rate: float = 1e-3
    warmup_steps: int = 1000
    adam_betas: tuple[float, float] = (0.9, 0.98)
    weight_decay: float = 0.0
    grad_clip: float = 1.0
    amp: Literal["none", "bf16", "fp16"] = "bf16"
    num_workers: int = 0
    log_every: int = 50
    val_every: int = 500
    checkpoint_every: int = 500
    keep_last: int = 3
    max_nonfinite: int = 10
    val_sentences: int = 2
    loss: LossConfig = field(default_factory=LossConfig)
    sampling: SamplingConfig = field(default_factory=SamplingConfig)

    def __post_init__(self) -> None:
        _check(self.max_steps > 0 and self.batch_frames > 0, "bad train.max_steps/batch_frames")
        _check(self.grad_accum >= 1, "train.grad_accum must be >= 1")
        _check(self.learning_rate > 0 and self.warmup_steps >= 0, "bad learning rate/warmup")
        _check(self.keep_last >= 1 and self.max_nonfinite >= 1, "bad keep_last/max_nonfinite")
        _check(min(self.log_every, self.val_every, self.checkpoint_every) > 0, "bad intervals")


@dataclass(frozen=True)
class Config:
    """The whole experiment."""

    audio: AudioConfig = field(default_factory=AudioConfig)
    text: TextConfig = field(default_factory=TextConfig)
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)

    def __post_init__(self) -> None:
        _check(
            self.model.num_speakers >= 1 + len(self.data.extra_speakers),
            f"data.extra_speakers lists {len(self.data.extra_speakers)} other speaker(s): "
            f"model.num_speakers must be at least {1 + len(self.data.extra_speakers)}",
        )

    def to_dict(self) -> dict[str, Any]:
        return to_plain(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Config:
        return from_plain(cls, data, "")


def to_plain(obj: Any) -> Any:
    """Dataclass → nested dicts/lists of builtins (YAML- and torch-safe)."""
    if dataclasses.is_dataclass(obj):
        return {f.name: to_plain(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, (tuple, list)):
        return [to_plain(v) for v in obj]
    return obj


def _coerce(tp: Any, value: Any, where: str) -> Any:
    origin = typing.get_origin(tp)
    if dataclasses.is_dataclass(tp):
        _check(isinstance(value, dict), f"{where} must be a mapping")
        return from_plain(tp, value, where + ".")
    if origin is Literal:
        _check(value in typing.get_args(tp), f"{where} must be one of {typing.get_args(tp)}")
        return value
    if origin is tuple:
        _check(isinstance(value, (list, tuple)), f"{where} must be a list")
        args = typing.get_args(tp)
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_coerce(args[0], v, where) for v in value)
        _check(len(args) == len(value), f"{where} must have {len(args)} items")
        return tuple(_coerce(a, v, where) for a, v in zip(args, value, strict=True))
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in typing.get_args(tp):
            return None
        inner = [a for a in typing.get_args(tp) if a is not type(None)]
        return _coerce(inner[0], value, where)
    if tp is float:
        if isinstance(value, str):  # YAML 1.1 reads "1e-3" (no dot) as a string
            try:
                value = float(value)
            except ValueError:
                raise ConfigError(f"{where} must be a number, got {value!r}") from None
        _check(isinstance(value, (int, float)) and not isinstance(value, bool), f"{where}: number")
        return float(value)
    if tp is int:
        _check(isinstance(value, int) and not isinstance(value, bool), f"{where} must be an int")
        return value
    if tp is bool:
        _check(isinstance(value, bool), f"{where} must be true or false")
        return value
    if tp is str:
        _check(isinstance(value, str), f"{where} must be a string")
        return value
    return value


def from_plain(cls: type, data: dict[str, Any], prefix: str) -> Any:
    """Nested dict → dataclass, rejecting unknown keys and wrong types by name."""
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - names)
    _check(not unknown, f"unknown config key(s): {', '.join(prefix + k for k in unknown)}")
    kwargs = {k: _coerce(hints[k], v, prefix + k) for k, v in data.items()}
    return cls(**kwargs)


def _set_dotted(tree: dict[str, Any], dotted: str, value: Any) -> None:
    keys = dotted.split(".")
    node = tree
    for key in keys[:-1]:
        node = node.setdefault(key, {})
        _check(isinstance(node, dict), f"cannot override inside non-mapping at {dotted}")
    node[keys[-1]] = value


def _merge(base: dict[str, Any], delta: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in delta.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def load_config(path: str | Path | None = None, overrides: list[str] | None = None) -> Config:
    """Defaults ← recipe YAML deltas ← ``key.sub=value`` overrides (values parsed as YAML)."""
    return Config.from_dict(_merge(Config().to_dict(), read_deltas(path, overrides)))


def read_deltas(path: str | Path | None, overrides: list[str] | None) -> dict[str, Any]:
    """The recipe YAML's tree with ``key.sub=value`` overrides applied; any config type
    (acoustic or vocoder) merges it over its own defaults."""
    tree: dict[str, Any] = {}
    if path is not None:
        path = Path(path)
        if not path.is_file():
            raise ConfigError(f"config file not found: {path}")
        loaded = yaml.safe_load(path.read_text()) or {}
        _check(isinstance(loaded, dict), f"{path} must hold a mapping at the top level")
        tree = loaded
    for item in overrides or []:
        _check("=" in item, f"override must look like key.sub=value, got {item!r}")
        key, raw = item.split("=", 1)
        _set_dotted(tree, key.strip(), yaml.safe_load(raw))
    return tree


def save_config(config: Config, path: str | Path) -> None:
    Path(path).write_text(yaml.safe_dump(config.to_dict(), sort_keys=False))
