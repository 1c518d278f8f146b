"""HiFi-GAN: generator shapes, jik876 checkpoint loading, discriminators, losses, the
train-vocoder and dump-mels commands (tiny models, CPU)."""

from __future__ import annotations

import json
import math
import warnings
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
from conftest import TINY_MODEL
from torch.nn.utils import parametrize

from data_prep.prepare import prepare_dataset
from tts.audio import log_mel
from tts.checkpoint import checkpoints_in, save_checkpoint
from tts.cli import main
from tts.config import AudioConfig, ConfigError, load_config, to_plain
from tts.train import build_model
from tts.vocoder import VocoderError, load_vocoder
from tts.vocoder.config import DiscriminatorConfig, GeneratorConfig, load_vocoder_config
from tts.vocoder.discriminators import DiscriminatorOutput, HifiGanDiscriminator, split_batch
from tts.vocoder.hifigan import HifiGanGenerator, load_vocoder_checkpoint
from tts.vocoder.losses import (
    adversarial_loss,
    discriminator_loss,
    feature_matching_loss,
    generator_loss,
)
from tts.vocoder.train import epoch_batches, train

TINY_DISCRIMINATOR = [
    "discriminator.periods=[2,3]",
    "discriminator.mpd_channels=[4,4,4]",
    "discriminator.msd_scales=2",
    "discriminator.msd_channels=[4,4,4,4,4,4,4]",
    "discriminator.msd_groups=[1,2,2,2,2,2,1]",
]
TINY_VOCODER = [
    "generator.version=v3",
    "generator.upsample_initial_channel=16",
    *TINY_DISCRIMINATOR,
    "train.segment_size=2048",
    "train.batch_size=2",
    "train.log_every=1",
    "train.val_every=2",
    "train.val_items=1",
    "train.checkpoint_every=2",
]

# jik876/hifi-gan config_v1.json (LJ_V1's), as its users download it.
JIK876_V1_CONFIG = {
    "resblock": "1",
    "num_gpus": 0,
    "batch_size": 16,
    "learning_rate": 0.0002,
    "adam_b1": 0.8,
    "adam_b2": 0.99,
    "lr_decay": 0.999,
    "seed": 1234,
    "upsample_rates": [8, 8, 2, 2],
    "upsample_kernel_sizes": [16, 16, 4, 4],
    "upsample_initial_channel": 512,
    "resblock_kernel_sizes": [3, 7, 11],
    "resblock_dilation_sizes": [[1, 3, 5], [1, 3, 5], [1, 3, 5]],
    "segment_size": 8192,
    "num_mels": 80,
    "num_freq": 1025,
    "n_fft": 1024,
    "hop_size": 256,
    "win_size": 1024,
    "sampling_rate": 22050,
    "fmin": 0,
    "fmax": 8000,
    "fmax_for_loss": None,
    "num_workers": 4,
    "dist_config": {"dist_backend": "nccl", "dist_url": "tcp://localhost:54321", "world_size": 1},
}


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Tiny convolutions are far slower with two threads on a busy two-core machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def tiny_generator(version: str = "v1") -> HifiGanGenerator:
    return HifiGanGenerator(GeneratorConfig(version=version, upsample_initial_channel=32), 80)


# ---------------------------------------------------------------- generator


@pytest.mark.parametrize("version", ["v1", "v2", "v3"])
def test_generator_output_is_frames_times_hop(version):
    generator = tiny_generator(version)
    assert generator.config.upsampling == 256
    with torch.no_grad():
        audio = generator(torch.randn(2, 80, 7))
    assert audio.shape == (2, 1, 7 * 256)
    assert audio.abs().max() <= 1


def test_version_defaults_and_validation():
    v3 = GeneratorConfig(version="v3")
    assert v3.resblock == 2 and v3.upsample_rates == (8, 8, 4)
    assert v3.resblock_dilation_sizes == ((1, 2), (2, 6), (3, 12))
    assert GeneratorConfig(version="v2").upsample_initial_channel == 128
    with pytest.raises(ConfigError, match="hop_length"):
        load_vocoder_config(
            None, ["generator.upsample_rates=[8,8,2]", "generator.upsample_kernel_sizes=[16,16,4]"]
        )
    with pytest.raises(ConfigError, match="even"):
        GeneratorConfig(upsample_kernel_sizes=(16, 16, 5, 4))


def test_remove_weight_norm_keeps_output():
    generator = tiny_generator("v1")
    mel = torch.randn(1, 80, 5)
    with torch.no_grad():
        before = generator(mel)
        generator.remove_weight_norm()
        after = generator(mel)
    assert not any(parametrize.is_parametrized(m) for m in generator.modules())
    torch.testing.assert_close(after, before, atol=1e-6, rtol=0)


def jik876_keys() -> set[str]:
    """jik876's V1 Generator state_dict keys, spelled out from its module tree."""
    wn = ("weight_g", "weight_v", "bias")
    keys = {f"conv_pre.{k}" for k in wn} | {f"conv_post.{k}" for k in wn}
    keys |= {f"ups.{i}.{k}" for i in range(4) for k in wn}
    keys |= {
        f"resblocks.{b}.{convs}.{m}.{k}"
        for b in range(12)
        for convs in ("convs1", "convs2")
        for m in range(3)
        for k in wn
    }
    return keys


def write_jik876_generator(folder: Path, config: dict) -> tuple[Path, HifiGanGenerator]:
    """A generator file exactly as jik876's train.py saves it ({'generator': state_dict} with
    torch.nn.utils.weight_norm's weight_g / weight_v), plus its config.json."""
    folder.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)
    generator = HifiGanGenerator(GeneratorConfig(version="v1"), 80)
    reference = HifiGanGenerator(GeneratorConfig(version="v1"), 80)
    reference.load_state_dict(generator.state_dict())
    # Re-apply weight norm with the old hook API, the one jik876's code uses.
    generator.remove_weight_norm()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        for module in generator.modules():
            if isinstance(module, torch.nn.Conv1d | torch.nn.ConvTranspose1d):
                torch.nn.utils.weight_norm(module)
    state = generator.state_dict()
    assert set(state) == jik876_keys()
    torch.save({"generator": state}, folder / "generator_v1")
    (folder / "config.json").write_text(json.dumps(config, indent=4))
    return folder / "generator_v1", reference


def test_jik876_generator_file_loads_and_matches(tmp_path):
    path, reference = write_jik876_generator(tmp_path / "LJ_V1", JIK876_V1_CONFIG)
    vocoder = load_vocoder(f"hifigan:{path}", AudioConfig())
    assert vocoder.name == "hifigan" and vocoder.sample_rate == 22050 and vocoder.hop_length == 256
    mel = torch.randn(1, 80, 12) - 4
    audio = vocoder(mel)
    assert audio.shape == (1, 12 * 256)
    with torch.no_grad():
        expected = reference(mel).squeeze(1)
    torch.testing.assert_close(audio, expected, atol=1e-5, rtol=0)
    assert not vocoder.generator.training
    assert not any(parametrize.is_parametrized(m) for m in vocoder.generator.modules())
    assert vocoder.config.generator.version == "v1"
    # A generator whose weight norm is already folded takes the same file (g·v/‖v‖).
    plain = HifiGanGenerator(GeneratorConfig(version="v1"), 80)
    plain.remove_weight_norm()
    plain.load_state_dict(torch.load(path, weights_only=True)["generator"])
    with torch.no_grad():
        torch.testing.assert_close(plain(mel).squeeze(1), expected, atol=1e-5, rtol=0)


def test_jik876_errors_are_clear(tmp_path):
    folder = tmp_path / "other"
    folder.mkdir()
    torch.save({"generator": {}}, folder / "g_00100000")
    with pytest.raises(VocoderError, match="config.json"):
        load_vocoder(f"hifigan:{folder / 'g_00100000'}", AudioConfig())
    (folder / "config.json").write_text(json.dumps({**JIK876_V1_CONFIG, "sampling_rate": 24000}))
    with pytest.raises(VocoderError, match="sample_rate: vocoder 24000, acoustic model 22050"):
        load_vocoder(f"hifigan:{folder / 'g_00100000'}", AudioConfig())
    with pytest.raises(VocoderError, match="n_mels"):
        load_vocoder(f"hifigan:{folder / 'g_00100000'}", AudioConfig(sample_rate=24000, n_mels=64))
    with pytest.raises(VocoderError, match="not found"):
        load_vocoder(f"hifigan:{tmp_path / 'missing'}", AudioConfig())
    (folder / "config.json").write_text(json.dumps(JIK876_V1_CONFIG))
    with pytest.raises(VocoderError, match="do not fit"):
        load_vocoder(f"hifigan:{folder / 'g_00100000'}", AudioConfig())


# ---------------------------------------------------------------- discriminators and losses


def test_discriminator_shapes():
    config = DiscriminatorConfig(
        mpd_channels=(4, 8, 8, 8, 8), msd_channels=(16,) * 7, msd_groups=(1, 4, 16, 16, 16, 16, 1)
    )
    discriminator = HifiGanDiscriminator(config)
    length = 4096
    out = discriminator(torch.randn(3, 1, length))
    assert len(out.logits) == len(out.features) == 5 + 3
    for i, period in enumerate(config.periods):
        height = math.ceil(length / period)
        for _ in range(4):  # four stride-3 convs, padding 2, kernel 5
            height = math.ceil(height / 3)
        assert out.logits[i].shape == (3, height * period)
        assert len(out.features[i]) == 6 and out.features[i][0].shape[1:3] == (
            4,
            math.ceil(length / period / 3),
        )
    # Strides 1, 2, 2, 4, 4, 1, 1; each pooled scale is 2048 + 1, 1024 + 1 samples long.
    assert [x.shape for x in out.logits[5:]] == [(3, 64), (3, 33), (3, 17)]
    assert all(len(f) == 8 for f in out.features[5:])
    first, second = discriminator.msd.discriminators[0], discriminator.msd.discriminators[1]
    assert type(first.convs[0].parametrizations.weight[0]).__name__ == "_SpectralNorm"
    assert type(second.convs[0].parametrizations.weight[0]).__name__ == "_WeightNorm"
    real, fake = split_batch(out, 1)
    assert real.logits[0].shape[0] == 1 and fake.features[6][2].shape[0] == 2


def test_losses_match_hand_computed_values():
    real = DiscriminatorOutput(
        [torch.tensor([[1.0, 0.5]]), torch.tensor([[0.0]])],
        [[torch.tensor([1.0, 2.0]), torch.tensor([0.0])], [torch.tensor([3.0])]],
    )
    fake = DiscriminatorOutput(
        [torch.tensor([[0.0, 0.5]]), torch.tensor([[1.0]])],
        [[torch.tensor([0.0, 2.0]), torch.tensor([1.0])], [torch.tensor([1.0])]],
    )
    # D: (mean(0, .25) + mean(0, .25)) + (1 + 1) ; G: mean(1, .25) + 0 ; FM: .5 + 1 + 2
    assert float(discriminator_loss(real, fake)) == pytest.approx(2.25)
    assert float(adversarial_loss(fake)) == pytest.approx(0.625)
    assert float(feature_matching_loss(real, fake)) == pytest.approx(3.5)

    audio_config = AudioConfig()
    audio = (0.1 * torch.randn(1, 4096)).requires_grad_()
    target = log_mel(audio.detach(), audio_config) + 0.1
    weights = load_vocoder_config().train.loss
    assert (weights.mel_weight, weights.feature_weight) == (45.0, 2.0)
    terms = generator_loss(real, fake, audio, target, audio_config, weights)
    assert float(terms.mel.detach()) == pytest.approx(0.1, abs=1e-5)
    assert float(terms.total.detach()) == pytest.approx(0.625 + 2 * 3.5 + 45 * 0.1, abs=1e-3)
    terms.total.backward()  # the mel loss is differentiable through tts.audio.log_mel
    assert audio.grad is not None and audio.grad.abs().sum() > 0


def test_epoch_batches_split_ranks_evenly():
    one = epoch_batches(10, 2, seed=1, epoch=0)
    assert len(one) == 5 and sorted(i for b in one for i in b) == list(range(10))
    assert one != epoch_batches(10, 2, seed=1, epoch=1)
    ranks = [epoch_batches(11, 2, seed=1, epoch=0, rank=r, world_size=2) for r in range(2)]
    assert len(ranks[0]) == len(ranks[1]) == 2
    assert not {i for b in ranks[0] for i in b} & {i for b in ranks[1] for i in b}


# ---------------------------------------------------------------- commands


@pytest.fixture(scope="module")
def prepared(tmp_path_factory) -> Path:
    """Eight short harmonic 'recordings' run through the real `tts prepare` pipeline."""
    root = tmp_path_factory.mktemp("corpus")
    (root / "wavs").mkdir()
    lines = []
    words = ["the", "cat", "sat", "on", "a", "mat", "printing", "press"]
    for i in range(8):
        t = np.arange(int(22050 * (0.6 + 0.05 * i))) / 22050
        f0 = 110 + 15 * i
        wav = sum(0.3 / k * np.sin(2 * np.pi * k * f0 * t) for k in range(1, 5))
        sf.write(root / "wavs" / f"utt{i}.wav", wav.astype(np.float32), 22050)
        lines.append(f"utt{i}|{' '.join(words[: 2 + i % 5])}.")
    (root / "metadata.csv").write_text("\n".join(lines) + "\n")
    out = tmp_path_factory.mktemp("prepared")
    summary = prepare_dataset(root, out, load_config(), workers=0)
    assert summary.kept == 8 and summary.splits["val"] >= 1
    return out


def test_train_vocoder_cli_runs_resumes_and_loads(prepared, tmp_path):
    out = tmp_path / "run"
    overrides = [f"train.manifest_dir={prepared}", *TINY_VOCODER]
    common = ["train-vocoder", "--out", str(out), "--device", "cpu", "--set", *overrides]
    assert main([*common, "train.max_steps=3"]) == 0
    first = load_vocoder_checkpoint(checkpoints_in(out)[-1])
    assert [p.name for p in checkpoints_in(out)] == [
        "checkpoint_00000002.pt",
        "checkpoint_00000003.pt",
    ]
    assert first["step"] == 3 and len(first["progress"]["history"]) == 3
    for key in ("discriminator", "optimizer_g", "optimizer_d", "scheduler_g", "rng"):
        assert key in first
    assert (out / "best.pt").is_file() and (out / "config.yaml").is_file()
    assert list((out / "tensorboard").iterdir())

    assert main([*common, "train.max_steps=5", "--resume"]) == 0
    resumed = load_vocoder_checkpoint(checkpoints_in(out)[-1])
    assert resumed["step"] == 5
    history = resumed["progress"]["history"]
    assert history[:3] == first["progress"]["history"] and len(history) == 5
    config = load_vocoder_config(None, [*overrides, "train.max_steps=5"])
    straight = train(config, tmp_path / "straight", device="cpu").progress.history
    assert history == pytest.approx(straight, abs=1e-5, rel=0)  # resume is exact on CPU
    assert resumed["progress"]["epoch"] >= 1  # 6 train items / batch 2 = 3 steps per epoch
    lr = resumed["optimizer_g"]["param_groups"][0]["lr"]
    assert lr == pytest.approx(2e-4 * 0.999 ** resumed["progress"]["epoch"])

    vocoder = load_vocoder(f"hifigan:{checkpoints_in(out)[-1]}", AudioConfig())
    assert vocoder(torch.randn(2, 80, 9) - 5).shape == (2, 9 * 256)
    with pytest.raises(VocoderError, match="hop_length"):
        load_vocoder(f"hifigan:{out / 'best.pt'}", AudioConfig(hop_length=128))


def test_train_vocoder_reports_bad_setups(prepared, tmp_path):
    args = ["train-vocoder", "--out", str(tmp_path / "x"), "--device", "cpu", "--set"]
    assert main([*args, f"train.manifest_dir={tmp_path / 'nowhere'}"]) == 1
    assert main([*args, f"train.manifest_dir={prepared}", "audio.sample_rate=16000"]) == 1
    missing = [f"train.manifest_dir={prepared}", f"train.mels_dir={tmp_path}", *TINY_VOCODER]
    assert main([*args, *missing]) == 1


def test_dump_mels_then_fine_tune(prepared, tmp_path):
    config = load_config(None, [f"data.manifest_dir={prepared}", *TINY_MODEL])
    model = build_model(config)
    stats = json.loads((prepared / "stats.json").read_text())
    model.set_mel_stats(torch.tensor(stats["mean"]), torch.tensor(stats["std"]))
    save_checkpoint(tmp_path / "am.pt", config, model.state_dict(), 0)

    gta = tmp_path / "gta"
    assert main(["dump-mels", "--checkpoint", str(tmp_path / "am.pt"), "--out", str(gta)]) == 0
    rows = [json.loads(line) for line in (prepared / "all.jsonl").read_text().splitlines()]
    for row in rows:
        mel = np.load(gta / f"{row['id']}.npy")
        assert mel.dtype == np.float32 and mel.shape == (80, row["n_frames"])
        assert np.isfinite(mel).all()
    assert json.loads((gta / "info.json").read_text())["items"] == len(rows)

    out = tmp_path / "ft"
    args = ["train-vocoder", "--out", str(out), "--device", "cpu", "--set"]
    args += [f"train.manifest_dir={prepared}", f"train.mels_dir={gta}", *TINY_VOCODER]
    assert main([*args, "train.max_steps=2"]) == 0
    assert load_vocoder_checkpoint(checkpoints_in(out)[-1])["step"] == 2
    assert to_plain(load_vocoder_checkpoint(out / "best.pt")["config"].audio) == to_plain(
        config.audio
    )
