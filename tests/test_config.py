"""Config: defaults validate, YAML deltas and dotted overrides apply, bad values are named."""

from __future__ import annotations

from pathlib import Path

import pytest

from tts.config import Config, ConfigError, load_config, save_config
from tts.vocoder.config import VocoderConfig, load_vocoder_config


def test_round_trip_through_dict_and_yaml(tmp_path):
    config = load_config(None, ["model.d_model=128", "train.learning_rate=2e-3"])
    assert config.train.learning_rate == 0.002
    assert Config.from_dict(config.to_dict()) == config
    path = tmp_path / "c.yaml"
    save_config(config, path)
    assert load_config(path) == config


def test_yaml_deltas_and_overrides(tmp_path):
    path = tmp_path / "recipe.yaml"
    path.write_text("model:\n  d_model: 192\n  num_heads: 3\ntrain:\n  adam_betas: [0.8, 0.9]\n")
    config = load_config(path, ["model.num_heads=2", "train.sampling.schedule=exponential"])
    assert config.model.d_model == 192 and config.model.num_heads == 2
    assert config.train.adam_betas == (0.8, 0.9)
    assert config.train.sampling.schedule == "exponential"
    assert config.audio == Config().audio


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("model.d_modle=3", "unknown config key"),
        ("model.d_model=250", "divide by num_heads"),
        ("model.reduction_factor=11", "1..10"),
        ("train.sampling.frame_dropout=1", "frame_dropout"),
        ("train.amp=fp8", "one of"),
        ("train.sampling.rollout=beam", "rollout must be one of"),
        ("audio.hop_length=abc", "must be an int"),
        ("train.sampling.max_prob=2", r"\[0, 1\]"),
        ("model.context_heads=0", "context_heads"),
        ("model.length_scale=0", "length_scale"),
        ("model.context_alignment=ctc", "one of"),
    ],
)
def test_bad_values_are_named(override, message):
    with pytest.raises(ConfigError, match=message):
        load_config(None, [override])


def test_duration_decoding_needs_the_monotonic_path():
    with pytest.raises(ConfigError, match="duration_decoding needs"):
        load_config(None, ["model.duration_decoding=true"])
    config = load_config(None, ["model.context_alignment=mas", "model.duration_decoding=true"])
    assert config.model.duration_decoding and config.train.loss.duration_weight == 1.0


def test_context_heads_must_exist_only_when_attention_aligns_the_context_head():
    assert load_config(None, ["model.context_heads=5"]).model.context_alignment == "off"
    with pytest.raises(ConfigError, match="context_heads must be <= num_heads"):
        load_config(None, ["model.context_heads=5", "model.context_alignment=attention"])


def test_config_is_frozen():
    with pytest.raises(AttributeError):
        Config().model.d_model = 3  # type: ignore[misc]


def test_phoneme_frontend_stores_its_own_symbol_table():
    from tts.text.symbols import DEFAULT_PHONEMES

    config = load_config(None, ["text.frontend=phonemes"])
    assert config.text.symbols == DEFAULT_PHONEMES
    assert Config.from_dict(config.to_dict()).text.symbols == DEFAULT_PHONEMES


RECIPE_CONFIGS = sorted(Path(__file__).parents[1].glob("recipes/*/conf/*.yaml"))


@pytest.mark.parametrize("path", RECIPE_CONFIGS, ids=lambda p: f"{p.parent.parent.name}/{p.name}")
def test_every_recipe_config_validates(path):
    """A typo in a recipe YAML must fail here, not hours into an unattended run."""
    if "hifigan" in path.name:
        manifest_dir = load_vocoder_config(path).train.manifest_dir
        default = VocoderConfig().train.manifest_dir
    else:
        manifest_dir = load_config(path).data.manifest_dir
        default = Config().data.manifest_dir
    assert manifest_dir != default, "a recipe must name its own data"
