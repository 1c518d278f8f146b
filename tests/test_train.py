"""Training: exact resume, DDP with two CPU processes, non-finite guard, the CLI."""

from __future__ import annotations

import dataclasses
import json
import math
import os
import socket
import subprocess
import sys
from collections import Counter

import pytest
import torch
import torch.multiprocessing as mp
from conftest import REPO, TINY_MODEL, make_prepared

from tts.checkpoint import checkpoints_in, load_checkpoint
from tts.config import ConfigError, load_config
from tts.text.symbols import DEFAULT_CHARACTERS
from tts.train import TrainingError, build_model, init_from_checkpoint, train


def tiny_config(data_dir, *extra):
    return load_config(
        None,
        [
            f"data.manifest_dir={data_dir}",
            *TINY_MODEL,
            "train.batch_frames=400",
            "train.log_every=2",
            "train.val_every=4",
            "train.checkpoint_every=3",
            "train.val_sentences=1",
            "train.warmup_steps=2",
            "train.sampling.max_prob=0.5",
            "train.sampling.ramp_steps=2",
            *extra,
        ],
    )


def test_resume_continues_exactly(tmp_path):
    data = make_prepared(tmp_path / "data")
    straight = train(tiny_config(data, "train.max_steps=7"), tmp_path / "straight").progress
    first = train(tiny_config(data, "train.max_steps=3"), tmp_path / "resumed").progress
    assert len(first.history) == 3
    resumed = train(tiny_config(data, "train.max_steps=7"), tmp_path / "resumed", resume=True)
    assert resumed.progress.history[:3] == first.history
    assert resumed.progress.history == pytest.approx(straight.history, abs=1e-6, rel=0)
    checkpoint = load_checkpoint(checkpoints_in(tmp_path / "resumed")[-1])
    assert checkpoint["step"] == 7 and "optimizer" in checkpoint and "rng" in checkpoint
    assert checkpoint["symbols"] == list(checkpoint["config"].text.symbols)
    assert (tmp_path / "resumed" / "best.pt").is_file()
    assert list((tmp_path / "resumed" / "alignments").glob("*.png"))
    rows = [
        json.loads(x) for x in (tmp_path / "resumed" / "val_log.jsonl").read_text().splitlines()
    ]
    assert [row["step"] for row in rows] == [4]
    assert rows[0]["val_free/errors"] in (0, 1) and rows[0]["val/total"] > 0
    assert math.isfinite(rows[0]["val/text_gain"])


def test_keeps_only_last_checkpoints(tmp_path):
    data = make_prepared(tmp_path / "data")
    train(
        tiny_config(data, "train.max_steps=10", "train.checkpoint_every=2", "train.keep_last=2"),
        tmp_path / "run",
    )
    names = [p.name for p in checkpoints_in(tmp_path / "run")]
    assert names == ["checkpoint_00000008.pt", "checkpoint_00000010.pt"]


def test_non_finite_losses_stop_with_a_clear_message(tmp_path):
    data = make_prepared(tmp_path / "data")
    config = tiny_config(
        data, "train.max_steps=20", "train.max_nonfinite=3", "train.learning_rate=1e30"
    )
    with pytest.raises(TrainingError, match="non-finite"):
        train(config, tmp_path / "run")


def _ddp_worker(rank: int, world: int, port: int, data, out, result_dir) -> None:
    os.environ.update(
        RANK=str(rank),
        WORLD_SIZE=str(world),
        LOCAL_RANK=str(rank),
        MASTER_ADDR="127.0.0.1",
        MASTER_PORT=str(port),
    )
    torch.set_num_threads(1)
    outcome = train(tiny_config(data, "train.max_steps=4"), out, device="cpu")
    # Parameters only: BatchNorm running stats are broadcast from rank 0 at each forward.
    parameters = {name: p.detach() for name, p in outcome.model.named_parameters()}
    torch.save(parameters, result_dir / f"rank{rank}.pt")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_ddp_two_cpu_processes_keep_parameters_identical(tmp_path):
    data = make_prepared(tmp_path / "data", n_items=16)
    mp.spawn(_ddp_worker, args=(2, _free_port(), data, tmp_path / "run", tmp_path), nprocs=2)
    rank0 = torch.load(tmp_path / "rank0.pt", weights_only=True)
    rank1 = torch.load(tmp_path / "rank1.pt", weights_only=True)
    for name, value in rank0.items():
        torch.testing.assert_close(value, rank1[name], msg=f"{name} differs between ranks")
    assert load_checkpoint(checkpoints_in(tmp_path / "run")[-1])["step"] == 4


def test_cli_train_and_resume(tmp_path):
    data = make_prepared(tmp_path / "data")
    common = [
        sys.executable,
        "-m",
        "tts.cli",
        "train",
        "--out",
        str(tmp_path / "run"),
        "--set",
        f"data.manifest_dir={data}",
        *TINY_MODEL,
        "train.batch_frames=400",
    ]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    first = subprocess.run(
        [*common, "train.max_steps=2"], capture_output=True, text=True, env=env, cwd=REPO
    )
    assert first.returncode == 0, first.stderr
    second = subprocess.run(
        [*common, "train.max_steps=4", "--resume"],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
    )
    assert second.returncode == 0, second.stderr
    assert "resumed from" in second.stderr
    assert load_checkpoint(checkpoints_in(tmp_path / "run")[-1])["step"] == 4
    missing = subprocess.run(
        [
            sys.executable,
            "-m",
            "tts.cli",
            "train",
            "--out",
            str(tmp_path / "x"),
            "--set",
            f"data.manifest_dir={tmp_path / 'nowhere'}",
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
    )
    assert missing.returncode == 1 and "tts prepare" in missing.stderr
    assert "Traceback" not in missing.stderr


def test_gradient_accumulation_consumes_micro_batches_per_step(tmp_path):
    data = make_prepared(tmp_path / "data", n_items=20)
    config = tiny_config(data, "train.max_steps=2", "train.grad_accum=3", "train.val_every=100")
    progress = train(config, tmp_path / "run").progress
    assert progress.step == 2 and len(progress.history) == 2
    assert progress.epoch * 100 + progress.batch_in_epoch in (
        6,
        100,
    )  # 6 micro-batches, or a new epoch


def test_init_from_starts_fine_tuning_from_other_weights(tmp_path):
    data = make_prepared(tmp_path / "data")
    other = make_prepared(tmp_path / "other", seed=5)
    source = train(tiny_config(data, "train.max_steps=3"), tmp_path / "pretrain")
    start = checkpoints_in(tmp_path / "pretrain")[-1]
    config = tiny_config(other, "train.max_steps=1", f"train.init_from={start}", "train.seed=9")
    fresh = tiny_config(other, "train.max_steps=1", "train.seed=9")
    tuned = train(config, tmp_path / "finetune").model
    scratch = train(fresh, tmp_path / "scratch").model
    pretrained = source.model.state_dict()
    # One small step from the pre-trained weights stays far closer to them than a fresh init.
    name = "decoder_layers.0.self_attention.query.weight"
    near = (tuned.state_dict()[name] - pretrained[name]).abs().max()
    far = (scratch.state_dict()[name] - pretrained[name]).abs().max()
    assert near < 0.1 * far
    # Feature statistics come from the new data, not the pre-training data.
    stats = torch.tensor(json.loads((other / "stats.json").read_text())["mean"])
    torch.testing.assert_close(tuned.mel_mean, stats)
    wrong = tiny_config(other, "train.max_steps=1", f"train.init_from={start}", "model.d_model=48")
    with pytest.raises(TrainingError, match="another model"):
        train(wrong, tmp_path / "wrong")
    # A model that only adds modules (the context head, durations) grows from the weights,
    # and inference-only settings and dropout rates may change on the way.
    grown = tiny_config(
        other,
        "train.max_steps=1",
        f"train.init_from={start}",
        "model.context_alignment=mas",
        "model.duration_decoding=true",
        "model.prenet_dropout_at_inference=false",
        "model.decoder_prenet_dropout=0.3",
        "train.seed=9",
    )
    grown_state = train(grown, tmp_path / "grown").model.state_dict()
    assert "duration_predictor.output.weight" in grown_state
    assert (grown_state[name] - pretrained[name]).abs().max() < 0.1 * far


def test_init_from_a_run_folder_takes_its_last_checkpoint_only_when_finished(tmp_path):
    data = make_prepared(tmp_path / "data")
    train(tiny_config(data, "train.max_steps=7"), tmp_path / "pretrain")
    last = checkpoints_in(tmp_path / "pretrain")[-1]
    assert last.name == "checkpoint_00000007.pt"
    by_folder = train(
        tiny_config(data, "train.max_steps=1", f"train.init_from={tmp_path / 'pretrain'}"),
        tmp_path / "by_folder",
    ).model.state_dict()
    by_file = train(
        tiny_config(data, "train.max_steps=1", f"train.init_from={last}"), tmp_path / "by_file"
    ).model.state_dict()
    assert all(torch.equal(by_folder[name], by_file[name]) for name in by_file)
    # A run that stopped early (its last checkpoint is step 6 of 7) must not start the next.
    last.unlink()
    unfinished = tiny_config(data, "train.max_steps=1", f"train.init_from={tmp_path / 'pretrain'}")
    with pytest.raises(TrainingError, match="stopped at step 6 of 7"):
        train(unfinished, tmp_path / "unfinished")
    (tmp_path / "empty").mkdir()
    empty = tiny_config(data, "train.max_steps=1", f"train.init_from={tmp_path / 'empty'}")
    with pytest.raises(TrainingError, match="without step checkpoints"):
        train(empty, tmp_path / "from_empty")


def test_added_decoder_layers_start_as_the_identity_below_the_trained_ones(tmp_path):
    data = make_prepared(tmp_path / "data")
    train(tiny_config(data, "train.max_steps=3"), tmp_path / "pretrain")
    start = checkpoints_in(tmp_path / "pretrain")[-1]
    source = load_checkpoint(start)["model"]
    config = tiny_config(
        data,
        "train.max_steps=2",
        f"train.init_from={start}",
        "model.decoder_layers=4",
        "model.prenet_dropout_at_inference=false",
    )
    deeper = build_model(config)
    init_from_checkpoint(deeper, config, start)
    weights = deeper.state_dict()
    for key, value in source.items():
        if key.startswith("decoder_layers."):
            index, rest = key.split(".", 2)[1:]
            torch.testing.assert_close(weights[f"decoder_layers.{int(index) + 2}.{rest}"], value)
    assert weights["decoder_layers.1.cross_attention.out.weight"].abs().sum() == 0
    # The deeper model speaks exactly as the trained one: same frames, same top attention.
    shallow = build_model(
        dataclasses.replace(config, model=dataclasses.replace(config.model, decoder_layers=2))
    )
    shallow.load_state_dict(source)
    shallow.eval()
    deeper.eval()
    generator = torch.Generator().manual_seed(0)
    tokens = torch.randint(1, len(config.text.symbols), (2, 9), generator=generator)
    mels = torch.randn(2, 14, config.audio.n_mels, generator=generator)
    args = (tokens, torch.tensor([9, 6]), mels, torch.tensor([14, 10]))
    with torch.no_grad():
        before, after = shallow(*args), deeper(*args)
    torch.testing.assert_close(after.mel_after, before.mel_after)
    assert len(after.cross_attention) == 4
    torch.testing.assert_close(after.cross_attention[2:], before.cross_attention)
    # Training moves the new layers; a run cannot drop trained ones.
    grown = train(config, tmp_path / "deeper").model.state_dict()
    assert grown["decoder_layers.0.feed_forward.net.3.weight"].abs().sum() > 0
    fewer = tiny_config(data, f"train.init_from={start}", "model.decoder_layers=1")
    with pytest.raises(TrainingError, match="not remove"):
        init_from_checkpoint(build_model(fewer), fewer, start)


def test_init_new_symbols_keeps_the_embeddings_of_shared_symbols(tmp_path):
    data = make_prepared(tmp_path / "data")
    train(tiny_config(data, "train.max_steps=2"), tmp_path / "pretrain")
    start = checkpoints_in(tmp_path / "pretrain")[-1]
    source = load_checkpoint(start)["model"]
    # Same letters at other indices, one letter dropped and one new symbol, as from
    # characters to phonemes.
    symbols = DEFAULT_CHARACTERS[:2] + tuple(reversed(DEFAULT_CHARACTERS[2:-1])) + ("ʃ",)
    base = tiny_config(data, f"train.init_from={start}")
    config = dataclasses.replace(base, text=dataclasses.replace(base.text, symbols=symbols))
    with pytest.raises(TrainingError, match="init_new_symbols"):
        init_from_checkpoint(build_model(config), config, start)
    config = dataclasses.replace(
        config, train=dataclasses.replace(config.train, init_new_symbols=True)
    )
    model = build_model(config)
    fresh = model.state_dict()["encoder_prenet.embedding.weight"].clone()
    init_from_checkpoint(model, config, start)
    weights = model.state_dict()
    old = source["encoder_prenet.embedding.weight"]
    embedding = weights["encoder_prenet.embedding.weight"]
    assert embedding.shape == (len(symbols), old.shape[1])
    for index, symbol in enumerate(symbols):
        if symbol in DEFAULT_CHARACTERS:
            torch.testing.assert_close(embedding[index], old[DEFAULT_CHARACTERS.index(symbol)])
        else:
            torch.testing.assert_close(embedding[index], fresh[index])
    name = "decoder_layers.0.self_attention.query.weight"
    torch.testing.assert_close(weights[name], source[name])


def test_freeze_keeps_the_named_modules_and_trains_the_rest(tmp_path):
    data = make_prepared(tmp_path / "data")
    train(tiny_config(data, "train.max_steps=2"), tmp_path / "pretrain")
    start = checkpoints_in(tmp_path / "pretrain")[-1]
    before = load_checkpoint(start)["model"]
    frozen = ("encoder_prenet", "encoder_layers")
    config = tiny_config(
        data, "train.max_steps=3", f"train.init_from={start}", f"train.freeze=[{','.join(frozen)}]"
    )
    after = train(config, tmp_path / "tuned").model.state_dict()
    for name, weight in after.items():
        if name.startswith("mel_"):
            continue  # feature statistics, not weights
        same = torch.equal(weight, before[name])
        assert same == name.startswith(frozen), name
    wrong = tiny_config(data, "train.max_steps=1", "train.freeze=[encoder]")
    with pytest.raises(TrainingError, match="no module encoder"):
        train(wrong, tmp_path / "wrong")


def test_cli_reports_a_bad_config_without_traceback(tmp_path, caplog):
    from tts.cli import main

    assert main(["train", "--out", str(tmp_path / "run"), "--set", "model.num_heads=3"]) == 1
    assert "num_heads" in caplog.text


def test_mixed_sampler_keeps_each_batch_to_one_corpus_and_repeats_the_first():
    from tts.data import FrameBudgetSampler, MixedSampler

    small = FrameBudgetSampler([10] * 4, 20, seed=3)  # 2 batches
    large = FrameBudgetSampler([10] * 10, 20, seed=3)  # 5 batches
    sampler = MixedSampler([small, large], [4, 10], first_repeat=3)
    batches = list(sampler)
    assert len(batches) == len(sampler) == 3 * 2 + 5
    first = [b for b in batches if max(b) < 4]
    second = [b for b in batches if min(b) >= 4]
    assert len(first) == 6 and len(second) == 5
    assert sorted(i for b in second for i in b) == list(range(4, 14))
    assert sorted(i for b in first for i in b) == sorted(list(range(4)) * 3)
    assert list(sampler) == batches  # the same epoch is the same order (resume)
    sampler.set_epoch(1)
    assert sorted(map(sorted, sampler)) == sorted(map(sorted, batches))


def test_mixed_sampler_share_cuts_the_first_corpus_to_a_share_of_the_epoch():
    from tts.data import FrameBudgetSampler, MixedSampler

    small = FrameBudgetSampler([10] * 6, 20, seed=3)  # 3 batches
    large = FrameBudgetSampler([10] * 14, 20, seed=3)  # 7 batches
    sampler = MixedSampler([small, large], [6, 14], first_share=2 / 3)
    batches = list(sampler)
    first = [b for b in batches if max(b) < 6]
    assert len(first) == 14  # twice the other corpus's 7: 4 full passes and 2 of the 3 again
    assert len(batches) - len(first) == 7
    counts = Counter(tuple(b) for b in first)
    assert sorted(counts.values()) == [4, 5, 5]
    assert list(sampler) == batches
    with pytest.raises(ValueError, match="second corpus"):
        MixedSampler([small], [6], first_share=0.5)
    with pytest.raises(ConfigError, match="main_share needs"):
        load_config(None, ["data.main_share=0.5"])
    with pytest.raises(ConfigError, match="main_share needs"):
        load_config(None, ["data.main_share=0.5", "data.main_repeat=2", "data.extra_speakers=[x]"])


def test_extra_speakers_train_their_own_vector_from_a_single_speaker_voice(tmp_path):
    main = make_prepared(tmp_path / "main", n_items=8)
    other = make_prepared(tmp_path / "other", n_items=8, seed=1)
    train(tiny_config(main, "train.max_steps=2"), tmp_path / "single")
    start = checkpoints_in(tmp_path / "single")[-1]
    with pytest.raises(ConfigError, match="num_speakers must be at least 2"):
        tiny_config(main, f"data.extra_speakers=[{other}]")
    config = tiny_config(
        main,
        "train.max_steps=4",
        f"train.init_from={start}",
        f"data.extra_speakers=[{other}]",
        "data.main_share=0.5",
        "model.num_speakers=2",
    )
    model = train(config, tmp_path / "mixed").model
    vectors = model.speaker_embedding.weight.detach()
    assert vectors.shape == (2, config.model.d_model)
    assert vectors.abs().sum(1).min() > 0  # both speakers' batches trained their vector
    source = load_checkpoint(start)["model"]
    name = "decoder_layers.0.self_attention.query.weight"
    assert not torch.equal(model.state_dict()[name], source[name])
    three = dataclasses.replace(config, model=dataclasses.replace(config.model, num_speakers=3))
    mixed = checkpoints_in(tmp_path / "mixed")[-1]
    with pytest.raises(TrainingError, match="another shape: speaker_embedding.weight"):
        init_from_checkpoint(build_model(three), three, str(mixed))
