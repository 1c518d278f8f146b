"""Transformer TTS (Li et al., 2019): text → log-mel with an autoregressive decoder.

Dimension letters, used in every shape comment below:
    B  batch                      T_text  input symbols (including the end token)
    S  speakers (model.num_speakers)
    T_mel  mel frames             T_dec   decoder steps = ceil(T_mel / r)
    r  reduction factor           D  d_model
    M  mel bins                   L  decoder layers     H  attention heads

The model works on *normalised* log-mels (per-bin mean/std kept as buffers, so a
checkpoint is self-contained); :meth:`normalize` / :meth:`denormalize` convert.
Decoder step s reads the last frame of group s-1 (a zero "go" frame for s = 0)
and predicts the r frames of group s plus r stop logits.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor, nn

from tts.config import ModelConfig
from tts.model.alignment import monotonic_alignment
from tts.model.duration import DurationPredictor
from tts.model.positional import ScaledPositionalEncoding
from tts.model.postnet import Postnet
from tts.model.prenets import DecoderPrenet, EncoderPrenet
from tts.model.transformer import DecoderLayer, EncoderLayer, LayerCache


class TTSOutput(NamedTuple):
    mel_before: Tensor  # (B, T_dec * r, M) decoder output (normalised)
    mel_after: Tensor  # (B, T_dec * r, M) after the postnet residual
    stop_logits: Tensor  # (B, T_dec * r)
    cross_attention: list[Tensor]  # L × (B, H, T_dec, T_text)
    decoder_lengths: Tensor  # (B,) ceil(mel_lengths / r)
    context_mel: Tensor | None = None  # (B, T_dec * r, M) text-only prediction, if configured
    path: Tensor | None = None  # (B, T_dec, T_text) one-hot monotonic path ("mas" only)
    log_durations: Tensor | None = None  # (B, T_text) predicted (model.duration_decoding)


class AlignedText(NamedTuple):
    """The text along a path, which duration-decoding steps read."""

    memory: Tensor  # (B, T_dec, D) memory of each step's path symbol
    frames: Tensor  # (B, T_dec, r * M) text-only frames of each step, detached

    def steps(self, start: int, end: int) -> AlignedText:
        """Decoder steps [start, end)."""
        return AlignedText(self.memory[:, start:end], self.frames[:, start:end])


class EncoderOutput(NamedTuple):
    memory: Tensor  # (B, T_text, D)
    mask: Tensor  # (B, T_text) True at real symbols


def lengths_to_mask(lengths: Tensor, max_length: int | None = None) -> Tensor:
    """(B,) lengths → (B, T) bool mask, True at real positions."""
    max_length = int(lengths.max()) if max_length is None else max_length
    return torch.arange(max_length, device=lengths.device).unsqueeze(0) < lengths.unsqueeze(1)


def causal_mask(length: int, device: torch.device) -> Tensor:
    """(T, T) bool, True where query t may see key ≤ t."""
    return torch.ones(length, length, dtype=torch.bool, device=device).tril()


def pad_to_multiple(frames: Tensor, r: int) -> Tensor:
    """(B, T_mel, M) → (B, T_dec * r, M), padding with zeros at the end."""
    extra = (-frames.shape[1]) % r
    return nn.functional.pad(frames, (0, 0, 0, extra)) if extra else frames


def decoder_inputs(frames: Tensor, r: int) -> Tensor:
    """Teacher-forcing inputs (B, T_dec, M): a zero go frame, then the last frame of each
    previous group of r. ``frames`` is (B, T_dec * r, M)."""
    last_of_group = frames[:, r - 1 :: r]
    go = torch.zeros_like(last_of_group[:, :1])
    return torch.cat([go, last_of_group[:, :-1]], dim=1)


class TransformerTTS(nn.Module):
    def __init__(self, config: ModelConfig, vocab_size: int, n_mels: int) -> None:
        super().__init__()
        self.config = config
        self.n_mels = n_mels
        r = config.reduction_factor
        layer_args = (
            config.d_model,
            config.num_heads,
            config.ffn_dim,
            config.dropout,
            config.attention_dropout,
            config.norm_first,
        )
        self.encoder_prenet = EncoderPrenet(
            vocab_size,
            config.d_model,
            config.encoder_prenet_layers,
            config.encoder_prenet_kernel,
            config.encoder_prenet_dropout,
        )
        self.encoder_position = ScaledPositionalEncoding(config.d_model, config.dropout)
        self.encoder_layers = nn.ModuleList(
            EncoderLayer(*layer_args) for _ in range(config.encoder_layers)
        )
        self.encoder_norm = nn.LayerNorm(config.d_model) if config.norm_first else nn.Identity()
        self.decoder_prenet = DecoderPrenet(
            n_mels,
            config.decoder_prenet_dim,
            config.d_model,
            config.decoder_prenet_dropout,
            config.prenet_dropout_at_inference,
        )
        self.decoder_position = ScaledPositionalEncoding(config.d_model, config.dropout)
        self.decoder_layers = nn.ModuleList(
            DecoderLayer(*layer_args) for _ in range(config.decoder_layers)
        )
        self.decoder_norm = nn.LayerNorm(config.d_model) if config.norm_first else nn.Identity()
        self.mel_linear = nn.Linear(config.d_model, n_mels * r)
        self.stop_linear = nn.Linear(config.d_model, r)
        self.context_linear = (
            nn.Linear(config.d_model, n_mels * r) if config.context_alignment != "off" else None
        )
        self.duration_predictor, self.aligned_projection = None, None
        if config.duration_decoding:
            self.duration_predictor = DurationPredictor(
                config.d_model, config.duration_channels, config.duration_kernel, config.dropout
            )
            self.aligned_projection = nn.Linear(config.d_model, config.d_model)
        self.postnet = Postnet(
            n_mels,
            config.postnet_channels,
            config.postnet_layers,
            config.postnet_kernel,
            config.postnet_dropout,
        )
        self.speaker_embedding = None
        if config.num_speakers > 1:
            self.speaker_embedding = nn.Embedding(config.num_speakers, config.d_model)
            nn.init.zeros_(self.speaker_embedding.weight)
        self.register_buffer("mel_mean", torch.zeros(n_mels))
        self.register_buffer("mel_std", torch.ones(n_mels))

    @property
    def reduction_factor(self) -> int:
        return self.config.reduction_factor

    def set_mel_stats(self, mean: Tensor, std: Tensor) -> None:
        """Store per-bin feature statistics (from data preparation) in the weights."""
        self.mel_mean.copy_(mean)
        self.mel_std.copy_(std.clamp(min=1e-3))

    def normalize(self, mel: Tensor) -> Tensor:
        """Raw log-mel (..., M) → model space."""
        return (mel - self.mel_mean) / self.mel_std

    def denormalize(self, mel: Tensor) -> Tensor:
        """Model space (..., M) → raw log-mel, ready for a vocoder."""
        return mel * self.mel_std + self.mel_mean

    def encode(
        self, tokens: Tensor, lengths: Tensor, speakers: Tensor | None = None
    ) -> EncoderOutput:
        """tokens (B, T_text), lengths (B,) → memory (B, T_text, D). ``speakers`` (B,)
        int64 picks each item's speaker (default 0) when ``model.num_speakers`` > 1; the
        speaker's vector is added to every symbol's memory."""
        mask = lengths_to_mask(lengths, tokens.shape[1])
        x = self.encoder_position(self.encoder_prenet(tokens, mask))
        attention_mask = mask[:, None, None, :]
        for layer in self.encoder_layers:
            x = layer(x, attention_mask)
        memory = self.encoder_norm(x)
        if speakers is not None and not bool(
            ((speakers >= 0) & (speakers < self.config.num_speakers)).all()
        ):
            raise ValueError(
                f"speaker ids must be in [0, {self.config.num_speakers}), got {speakers.tolist()}"
            )
        if self.speaker_embedding is not None:
            if speakers is None:
                speakers = torch.zeros_like(lengths)
            memory = memory + self.speaker_embedding(speakers)[:, None]
        return EncoderOutput(memory, mask)

    def memory_caches(self, encoded: EncoderOutput) -> list[LayerCache]:
        """Cross-attention keys/values of the encoder output, once per utterance."""
        return [
            LayerCache(None, layer.cross_attention.project_memory(encoded.memory))
            for layer in self.decoder_layers
        ]

    def decode(
        self,
        inputs: Tensor,
        encoded: EncoderOutput,
        caches: list[LayerCache],
        offset: int = 0,
        memory_bias: Tensor | None = None,
        aligned: AlignedText | None = None,
    ) -> tuple[Tensor, Tensor, list[Tensor], list[LayerCache]]:
        """Run the decoder stack on new steps.

        inputs (B, T, M) previous frames; ``offset`` = steps already in the caches.
        ``memory_bias`` (B, 1, T, T_text) bool further restricts cross-attention
        (the inference-time monotonic constraint). ``aligned`` (:meth:`align_text` for
        these T steps) is required with ``model.duration_decoding``: the steps read their
        path symbol's memory and their frames add to the text-only frames. Returns frames
        (B, T * r, M), stop logits (B, T * r), L × (B, H, T, T_text) cross weights and
        new caches.
        """
        x = self.decoder_prenet(inputs)
        if self.aligned_projection is not None:
            if aligned is None:
                raise ValueError("model.duration_decoding needs the aligned memory of each step")
            x = x + self.aligned_projection(aligned.memory)
        x = self.decoder_position(x, offset)
        steps = inputs.shape[1]
        self_mask = None
        if steps > 1:
            self_mask = causal_mask(offset + steps, x.device)[offset:]
        memory_mask = encoded.mask[:, None, None, :]
        if memory_bias is not None:
            memory_mask = memory_mask & memory_bias
        weights, new_caches = [], []
        for layer, cache in zip(self.decoder_layers, caches, strict=True):
            out = layer(x, self_mask, memory_mask, cache)
            x = out.output
            weights.append(out.cross_weights)
            new_caches.append(out.cache)
        x = self.decoder_norm(x)
        batch = x.shape[0]
        frames = self.mel_linear(x).view(batch, steps * self.reduction_factor, self.n_mels)
        if aligned is not None:
            # The decoder learns what the text-only frames miss; their own loss trains them.
            frames = frames + aligned.frames.reshape(batch, -1, self.n_mels)
        stops = self.stop_linear(x).view(batch, steps * self.reduction_factor)
        return frames, stops, weights, new_caches

    def forward(
        self,
        tokens: Tensor,
        token_lengths: Tensor,
        mels: Tensor,
        mel_lengths: Tensor,
        inputs: Tensor | None = None,
        speakers: Tensor | None = None,
    ) -> TTSOutput:
        """Teacher-forced pass.

        tokens (B, T_text); mels (B, T_mel, M) normalised targets; ``inputs`` (B, T_dec, M)
        overrides the decoder inputs (scheduled sampling), defaulting to
        :func:`decoder_inputs` of the targets; ``speakers`` (B,) as in :meth:`encode`.
        """
        r = self.reduction_factor
        encoded = self.encode(tokens, token_lengths, speakers)
        frames = pad_to_multiple(mels, r)
        if inputs is None:
            inputs = decoder_inputs(frames, r)
        decoder_lengths = (mel_lengths + r - 1) // r
        context_mel, path, aligned, log_durations = None, None, None, None
        if self.config.context_alignment == "mas":
            context_mel, path = self.monotonic_prediction(
                encoded, frames, token_lengths, decoder_lengths
            )
        if self.duration_predictor is not None:
            aligned = self.align_text(encoded, path)
            log_durations = self.duration_predictor(encoded.memory, encoded.mask)
        before, stops, weights, _ = self.decode(
            inputs, encoded, self.memory_caches(encoded), aligned=aligned
        )
        if self.config.context_alignment == "attention":
            context_mel = self.attention_prediction(weights, encoded)
        frame_mask = lengths_to_mask(decoder_lengths * r, before.shape[1])
        after = before + self.postnet(before, frame_mask)
        return TTSOutput(
            before, after, stops, weights, decoder_lengths, context_mel, path, log_durations
        )

    def align_text(self, encoded: EncoderOutput, path: Tensor) -> AlignedText:
        """The text along ``path`` (B, T_dec, T_text) for duration decoding: each step's
        symbol memory and the context head's frames for it (detached)."""
        memory = path @ encoded.memory  # (B, T_dec, D)
        return AlignedText(memory, self.context_linear(memory).detach())

    def monotonic_prediction(
        self,
        encoded: EncoderOutput,
        frames: Tensor,
        token_lengths: Tensor,
        decoder_lengths: Tensor,
    ) -> tuple[Tensor, Tensor]:
        """``context_alignment="mas"``: the context head's frames (B, T_dec * r, M) along
        the monotonic path (B, T_dec, T_text) that best fits the targets ``frames``
        (B, T_dec * r, M)."""
        batch, steps = frames.shape[0], frames.shape[1] // self.reduction_factor
        means = self.context_linear(encoded.memory)  # (B, T_text, r * M)
        groups = frames.reshape(batch, steps, -1)
        distance = torch.cdist(means.float(), groups.float(), p=1)  # (B, T_text, T_dec)
        alignment, feasible = monotonic_alignment(-distance, token_lengths, decoder_lengths)
        # An item with more symbols than steps has no path: it predicts its own targets.
        predicted = torch.where(feasible[:, None, None], alignment @ means, groups)
        path = alignment * feasible[:, None, None]
        return predicted.view(batch, -1, self.n_mels), path

    def attention_prediction(self, weights: list[Tensor], encoded: EncoderOutput) -> Tensor:
        """``context_alignment="attention"``: the context head's frames (B, T_dec * r, M) for
        the mean of the first ``context_heads`` heads of the last layer (L × (B, H, T_dec,
        T_text) ``weights``). Detached: with a gradient, the attention learns to pick
        whichever symbol's memory encodes the wanted frame, a codebook that works as well
        with another text."""
        alignment = weights[-1][:, : self.config.context_heads].mean(1).detach()
        predicted = self.context_linear(alignment @ encoded.memory)  # (B, T_dec, r * M)
        return predicted.view(alignment.shape[0], -1, self.n_mels)
