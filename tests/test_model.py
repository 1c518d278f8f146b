"""Property tests of the Transformer TTS model, losses and scheduled sampling on tiny sizes."""

from __future__ import annotations

import itertools
import math

import pytest
import torch

from tts.config import LossConfig, ModelConfig, SamplingConfig
from tts.data import collate
from tts.losses import (
    duration_loss,
    guided_attention_loss,
    path_attention_loss,
    stop_targets,
    tts_loss,
)
from tts.model.alignment import monotonic_alignment, path_from_durations
from tts.model.duration import DurationPredictor
from tts.model.generate import generate
from tts.model.transformer_tts import TransformerTTS, decoder_inputs, pad_to_multiple
from tts.scheduled_sampling import (
    drop_frames,
    mix_inputs,
    rollout_inputs,
    sampling_probability,
    scheduled_sampling_forward,
)

VOCAB, MELS = 20, 8


def tiny(r: int = 1, **overrides) -> TransformerTTS:
    torch.manual_seed(0)
    config = ModelConfig(
        d_model=32,
        num_heads=2,
        encoder_layers=2,
        decoder_layers=2,
        ffn_dim=64,
        decoder_prenet_dim=32,
        postnet_channels=16,
        reduction_factor=r,
        prenet_dropout_at_inference=False,
        **overrides,
    )
    return TransformerTTS(config, VOCAB, MELS)


def example(batch=2, text=7, frames=12):
    torch.manual_seed(1)
    tokens = torch.randint(2, VOCAB, (batch, text))
    mels = torch.randn(batch, frames, MELS)
    return tokens, mels


@pytest.mark.parametrize("r", [1, 2, 3])
def test_decoder_is_causal_by_gradients(r):
    model = tiny(r).eval()
    tokens, mels = example(1, 6, 12)
    inputs = decoder_inputs(pad_to_multiple(mels, r), r).requires_grad_(True)
    out = model(tokens, torch.tensor([6]), mels, torch.tensor([12]), inputs=inputs)
    steps = inputs.shape[1]
    for step in range(steps - 1):
        frame_slice = slice(0, (step + 1) * r)
        grad = torch.autograd.grad(
            out.mel_before[0, frame_slice].sum() + out.stop_logits[0, frame_slice].sum(),
            inputs,
            retain_graph=True,
        )[0]
        assert grad[0, step + 1 :].abs().max() == 0, f"step {step} sees the future"
        assert grad[0, : step + 1].abs().max() > 0


@pytest.mark.parametrize("r", [1, 2])
def test_padding_invariance(r):
    model = tiny(r).eval()
    tokens, mels = example(2, 9, 14)
    token_lengths, mel_lengths = torch.tensor([9, 5]), torch.tensor([14, 8])
    batched = model(tokens, token_lengths, mels, mel_lengths)
    alone = model(tokens[1:, :5], token_lengths[1:], mels[1:, :8], mel_lengths[1:])
    steps = int(alone.decoder_lengths[0])
    torch.testing.assert_close(
        batched.mel_after[1, : steps * r], alone.mel_after[0], atol=1e-5, rtol=0
    )
    torch.testing.assert_close(
        batched.cross_attention[-1][1, :, :steps, :5],
        alone.cross_attention[-1][0],
        atol=1e-5,
        rtol=0,
    )
    assert batched.cross_attention[-1][1, :, :, 5:].abs().max() == 0


@pytest.mark.parametrize("r", [1, 2])
def test_cached_decoding_equals_uncached(r):
    model = tiny(r).eval()
    tokens, _ = example(2, 7)
    lengths = torch.tensor([7, 4])
    cached = generate(model, tokens, lengths, max_steps=12, stop_threshold=2.0)
    uncached = generate(model, tokens, lengths, max_steps=12, stop_threshold=2.0, use_cache=False)
    torch.testing.assert_close(cached.mel, uncached.mel, atol=1e-4, rtol=0)
    torch.testing.assert_close(cached.alignment, uncached.alignment, atol=1e-4, rtol=0)
    assert cached.hit_max.all() and (cached.decoder_steps == 12).all()


@pytest.mark.parametrize("r", [1, 3])
def test_step_by_step_cached_decoding_equals_teacher_forcing(r):
    """Feeding the teacher-forcing inputs one step at a time through the KV cache gives
    the same frames, stops and cross-attention as the parallel forward pass."""
    model = tiny(r).eval()
    tokens, mels = example(2, 7, 12)
    token_lengths, mel_lengths = torch.tensor([7, 7]), torch.tensor([12, 12])
    with torch.no_grad():
        forward = model(tokens, token_lengths, mels, mel_lengths)
        inputs = decoder_inputs(pad_to_multiple(mels, r), r)
        encoded = model.encode(tokens, token_lengths)
        caches = model.memory_caches(encoded)
        frames, stops, weights = [], [], []
        for step in range(inputs.shape[1]):
            out_frames, out_stops, out_weights, caches = model.decode(
                inputs[:, step : step + 1], encoded, caches, offset=step
            )
            frames.append(out_frames)
            stops.append(out_stops)
            weights.append(out_weights[-1])
    torch.testing.assert_close(torch.cat(frames, 1), forward.mel_before, atol=1e-5, rtol=0)
    torch.testing.assert_close(torch.cat(stops, 1), forward.stop_logits, atol=1e-5, rtol=0)
    torch.testing.assert_close(
        torch.cat(weights, 2), forward.cross_attention[-1], atol=1e-5, rtol=0
    )


def test_stop_token_ends_generation():
    model = tiny(2).eval()
    with torch.no_grad():
        model.stop_linear.bias.fill_(-20.0)
        model.stop_linear.bias[1] = 20.0  # the second frame of every step says "stop"
    tokens, _ = example(1)
    out = generate(model, tokens, torch.tensor([7]), max_steps=10, min_steps=3)
    assert int(out.decoder_steps[0]) == 4 and int(out.lengths[0]) == 8 and not out.hit_max[0]


@pytest.mark.parametrize("r", [1, 2, 3])
def test_stop_labels_and_lengths_with_reduction(r):
    model = tiny(r).eval()
    tokens, mels = example(2, 7, 10)
    mel_lengths = torch.tensor([10, 7])
    out = model(tokens, torch.tensor([7, 7]), mels, mel_lengths)
    expected_steps = [math.ceil(10 / r), math.ceil(7 / r)]
    assert out.decoder_lengths.tolist() == expected_steps
    assert out.mel_before.shape[1] == expected_steps[0] * r
    assert out.cross_attention[0].shape[2] == expected_steps[0]
    labels = stop_targets(mel_lengths, out.mel_before.shape[1])
    assert labels[0].tolist() == [0.0] * 9 + [1.0] * (expected_steps[0] * r - 9)
    assert labels[1, :6].sum() == 0 and labels[1, 6:].min() == 1
    # Decoder inputs: go frame, then the last frame of each earlier group.
    inputs = decoder_inputs(pad_to_multiple(mels, r), r)
    assert inputs[:, 0].abs().max() == 0
    for step in range(1, inputs.shape[1]):
        torch.testing.assert_close(inputs[:, step], pad_to_multiple(mels, r)[:, step * r - 1])


def test_collate_masks_and_stop_targets():
    from tts.data import Item

    items = [
        Item("a", torch.tensor([3, 4, 1]), torch.randn(5, MELS)),
        Item("b", torch.tensor([3, 1]), torch.randn(3, MELS)),
    ]
    batch = collate(items)
    assert batch.tokens.tolist() == [[3, 4, 1], [3, 1, 0]]
    assert batch.mel_mask.tolist() == [[True] * 5, [True] * 3 + [False] * 2]
    assert batch.stop_targets[1].tolist() == [0, 0, 1, 1, 1]
    assert batch.mels[1, 3:].max() == pytest.approx(math.log(1e-5))


def test_guided_attention_hand_computed():
    sigma = 0.4
    anti = torch.tensor([[0.0, 1.0], [1.0, 0.0]])[None, None]  # (B=1, H=1, T=2, N=2)
    lengths = torch.tensor([2])
    loss = guided_attention_loss([anti], lengths, lengths, sigma, 1, 1)
    off_diagonal = 1 - math.exp(-((0.5 - 0.0) ** 2) / (2 * sigma**2))
    assert float(loss) == pytest.approx(2 * off_diagonal / 4, abs=1e-6)


def test_guided_attention_zero_on_diagonal_and_ignores_padding():
    eye = torch.eye(40)[None, None]
    lengths = torch.tensor([40])
    assert float(guided_attention_loss([eye], lengths, lengths, 0.4, 1, 1)) < 1e-6
    padded = torch.zeros(1, 1, 50, 60)
    padded[0, 0, :40, :40] = torch.eye(40)
    padded[0, 0, 40:, :] = 1.0  # garbage in the padding must not count
    assert float(guided_attention_loss([padded], lengths, lengths, 0.4, 1, 1)) < 1e-6
    uniform = torch.full((1, 1, 40, 40), 1 / 40)
    assert float(guided_attention_loss([uniform], lengths, lengths, 0.4, 1, 1)) > 1e-3


def test_loss_terms_finite_and_weighted():
    model = tiny(2)
    tokens, mels = example()
    out = model(tokens, torch.tensor([7, 5]), mels, torch.tensor([12, 9]))
    config = LossConfig(guided_weight=0.0)
    terms = tts_loss(out, mels, torch.tensor([12, 9]), torch.tensor([7, 5]), config)
    assert torch.isfinite(terms.total)
    assert float(terms.total.detach()) == pytest.approx(
        float((terms.mel_before + terms.mel_after + terms.stop).detach()), rel=1e-5
    )


def test_context_head_loss_hand_computed():
    """The text-only predictor: (B, T_dec * r, M) frames from the attended memory, scored
    by L1 on real frames only and added to the total with its weight."""
    tl, ml = torch.tensor([7, 5]), torch.tensor([12, 8])
    tokens, mels = example()
    assert tiny(3)(tokens, tl, mels, ml).context_mel is None
    model = tiny(3, context_alignment="attention", context_heads=1).eval()
    out = model(tokens, tl, mels, ml)
    assert out.context_mel.shape == (2, 12, MELS)
    encoded = model.encode(tokens, tl)
    alignment = out.cross_attention[-1][:, 0]
    expected = model.context_linear(alignment @ encoded.memory).view(2, 12, MELS)
    torch.testing.assert_close(out.context_mel, expected)
    hand = torch.cat(
        [
            (out.context_mel[0] - mels[0]).abs().flatten(),
            (out.context_mel[1, :8] - mels[1, :8]).abs().flatten(),
        ]
    ).mean()
    terms = {
        w: tts_loss(out, mels, ml, tl, LossConfig(guided_weight=0.0, context_weight=w))
        for w in (0.0, 2.0)
    }
    assert terms[2.0].context.item() == pytest.approx(hand.item(), rel=1e-5)
    assert (terms[2.0].total - terms[0.0].total).item() == pytest.approx(2 * hand.item(), rel=1e-4)
    assert float(tts_loss(tiny(3)(tokens, tl, mels, ml), mels, ml, tl, LossConfig()).context) == 0


def test_context_head_trains_the_encoder_not_the_attention():
    """Its gradient reaches the text side only: a trainable attention would learn to use
    the memory as a codebook chosen by the decoder, which needs no text."""
    model = tiny(2, context_alignment="attention")
    tokens, mels = example()
    out = model(tokens, torch.tensor([7, 5]), mels, torch.tensor([12, 9]))
    out.context_mel.square().sum().backward()
    assert model.encoder_prenet.embedding.weight.grad.abs().sum() > 0
    assert model.context_linear.weight.grad.abs().sum() > 0
    for name, parameter in model.decoder_prenet.named_parameters():
        assert parameter.grad is None, name


def brute_force_path(scores: torch.Tensor) -> list[int]:
    """Best monotonic path of a (T_text, T_dec) score table by trying every segmentation."""
    symbols, steps = scores.shape
    best, best_path = -math.inf, None
    for cuts in itertools.combinations(range(1, steps), symbols - 1):
        bounds = (0, *cuts, steps)
        path = [n for n in range(symbols) for _ in range(bounds[n], bounds[n + 1])]
        total = sum(float(scores[n, s]) for s, n in enumerate(path))
        if total > best:
            best, best_path = total, path
    return best_path


def test_monotonic_alignment_is_the_best_path_per_item():
    """Batched search with padding gives each item the brute-force best path; an item with
    fewer steps than symbols is reported as having none."""
    torch.manual_seed(0)
    text_lengths, step_lengths = torch.tensor([3, 1, 4, 5]), torch.tensor([6, 4, 7, 3])
    scores = torch.randn(4, 5, 7)
    alignment, feasible = monotonic_alignment(scores, text_lengths, step_lengths)
    assert feasible.tolist() == [True, True, True, False]
    for b in range(3):
        n, s = int(text_lengths[b]), int(step_lengths[b])
        assert alignment[b, :s].argmax(1).tolist() == brute_force_path(scores[b, :n, :s])
        assert alignment[b, :s].sum(1).eq(1).all() and alignment[b, s:].eq(0).all()


def test_mas_context_head_recovers_a_planted_alignment():
    """Symbols whose means match known stretches of frames are aligned to those stretches."""
    means = torch.eye(4).repeat_interleave(2, dim=1)  # (T_text 4, 8): distinct patterns
    durations = torch.tensor([3, 1, 4, 2])
    frames = means.repeat_interleave(durations, dim=0) + 0.1 * torch.randn(10, 8)
    distance = torch.cdist(means[None], frames[None], p=1)
    alignment, _ = monotonic_alignment(-distance, torch.tensor([4]), torch.tensor([10]))
    assert alignment[0].argmax(1).tolist() == [0, 0, 0, 1, 2, 2, 2, 2, 3, 3]
    model = tiny(2, context_alignment="mas")
    tokens, mels = example()
    out = model(tokens, torch.tensor([6, 3]), mels, torch.tensor([12, 7]))
    assert out.context_mel.shape == (2, 12, MELS)


def test_path_attention_loss_hand_computed():
    """Mass two symbols off the path costs 1 − e^(−2) at σ=1; mass on it costs nothing;
    padded steps are ignored."""
    path = torch.zeros(1, 3, 4)
    path[0, [0, 1, 2], [0, 1, 3]] = 1
    attention = torch.zeros(1, 1, 3, 4)
    attention[0, 0, [0, 1, 2], [0, 3, 3]] = 1
    off = 1 - math.exp(-2)
    for steps, expected in ((3, off / 3), (2, off / 2), (1, 0.0)):
        loss = path_attention_loss([attention], path, torch.tensor([steps]), 1.0, 1, 1)
        assert loss.item() == pytest.approx(expected, abs=1e-6)


def test_durations_rebuild_the_monotonic_path():
    """Steps per symbol of a searched path give back the same path, padding included."""
    torch.manual_seed(3)
    text_lengths, step_lengths = torch.tensor([3, 5, 2]), torch.tensor([7, 6, 2])
    path, _ = monotonic_alignment(torch.randn(3, 5, 7), text_lengths, step_lengths)
    durations = path.sum(1).long()
    assert durations.sum(1).tolist() == step_lengths.tolist()
    torch.testing.assert_close(path_from_durations(durations, 7), path)
    assert path_from_durations(durations, 4)[0].argmax(1).tolist() == path[0, :4].argmax(1).tolist()


def test_duration_loss_hand_computed():
    """Squared log error per real symbol; items without a path are ignored."""
    path = torch.zeros(2, 4, 3)
    path[0, [0, 1, 2, 3], [0, 0, 0, 1]] = 1  # durations 3, 1 (third symbol is padding)
    log_durations = torch.tensor([[0.0, 1.0, 5.0], [2.0, 2.0, 2.0]])
    loss = duration_loss(log_durations, path, torch.tensor([2, 3]))
    expected = ((0.0 - math.log(3)) ** 2 + (1.0 - 0.0) ** 2) / 2
    assert loss.item() == pytest.approx(expected, abs=1e-6)


def test_duration_predictor_rounds_to_whole_steps_and_reads_memory_detached():
    predictor = DurationPredictor(8, 4, 3, 0.0)
    memory = torch.randn(1, 5, 8, requires_grad=True)
    mask = torch.tensor([[True, True, True, False, False]])
    log_steps = predictor(memory, mask)
    assert log_steps[0, 3:].eq(0).all()
    log_steps.sum().backward()
    assert memory.grad is None
    steps = DurationPredictor.steps(torch.tensor([[math.log(2.6), -3.0, 0.0, 1.0]]), mask[:, :4])
    assert steps.tolist() == [[3, 1, 1, 0]]
    # The running total is rounded: five symbols of 1.4 steps take 7 steps, not 5.
    even = torch.full((1, 5), math.log(1.4))
    assert DurationPredictor.steps(even, torch.ones(1, 5, dtype=torch.bool)).tolist() == [
        [1, 2, 1, 2, 1]
    ]
    doubled = DurationPredictor.steps(even, torch.ones(1, 5, dtype=torch.bool), 2.0)
    assert int(doubled.sum()) == 14


def test_duration_decoding_adds_the_decoder_to_the_text_only_frames():
    """With the decoder's own projection zeroed, teacher-forced frames are exactly the
    context head's frames along the path: the text reaches the output directly."""
    model = tiny(2, context_alignment="mas", duration_decoding=True).eval()
    tokens, mels = example()
    tl, ml = torch.tensor([5, 4]), torch.tensor([12, 9])
    with torch.no_grad():
        model.mel_linear.weight.zero_()
        model.mel_linear.bias.zero_()
        out = model(tokens, tl, mels, ml)
    assert out.log_durations.shape == (2, 7) and out.path.shape == (2, 6, 7)
    torch.testing.assert_close(out.mel_before[0], out.context_mel[0])
    torch.testing.assert_close(out.mel_before[1, :10], out.context_mel[1, :10])
    with pytest.raises(ValueError, match="aligned memory"):
        encoded = model.encode(tokens, tl)
        model.decode(mels[:, :1], encoded, model.memory_caches(encoded))


def test_duration_decoding_generates_the_planned_length_whatever_the_stop_token():
    """Free running takes the predicted steps per symbol; cached equals uncached decoding;
    a stop token that always fires changes nothing."""
    model = tiny(3, context_alignment="mas", duration_decoding=True).eval()
    tokens, _ = example(2, 7)
    lengths = torch.tensor([7, 4])
    with torch.no_grad():
        model.stop_linear.bias.fill_(50.0)
        encoded = model.encode(tokens, lengths)
        planned = DurationPredictor.steps(
            model.duration_predictor(encoded.memory, encoded.mask), encoded.mask
        ).sum(1)
    cached = generate(model, tokens, lengths, max_steps=100)
    slower = generate(model, tokens, lengths, max_steps=400, length_scale=2.0)
    assert (slower.decoder_steps > planned).all() and not slower.hit_max.any()
    uncached = generate(model, tokens, lengths, max_steps=100, use_cache=False)
    assert cached.decoder_steps.tolist() == planned.tolist()
    assert cached.lengths.tolist() == (planned * 3).tolist() and not cached.hit_max.any()
    torch.testing.assert_close(cached.mel, uncached.mel, atol=1e-4, rtol=0)
    capped = generate(model, tokens, lengths, max_steps=int(planned.min()) - 1)
    assert capped.hit_max.all()
    dictated = torch.tensor([[1, 2, 3, 1, 1, 1, 1], [4, 4, 1, 2, 0, 0, 0]])
    told = generate(model, tokens, lengths, max_steps=100, durations=dictated)
    assert told.decoder_steps.tolist() == [10, 11]
    with pytest.raises(ValueError, match="duration_decoding"):
        generate(tiny(3), tokens, lengths, max_steps=5, durations=dictated)


def test_monotonic_window_follows_the_path_with_duration_decoding():
    """A zero-width window puts all cross-attention on each step's path symbol."""
    model = tiny(2, context_alignment="mas", duration_decoding=True).eval()
    tokens, _ = example(2, 7)
    lengths = torch.tensor([7, 4])
    durations = torch.tensor([[1, 2, 3, 1, 1, 1, 1], [4, 4, 1, 2, 0, 0, 0]])
    out = generate(model, tokens, lengths, 100, monotonic=(0, 0), durations=durations)
    for item, steps in enumerate(out.decoder_steps.tolist()):
        symbols = path_from_durations(durations, steps)[item].argmax(-1)
        on_path = out.alignment[item, :, :, torch.arange(steps), symbols]  # (L, H, steps)
        torch.testing.assert_close(on_path, torch.ones_like(on_path))


def test_sequential_rollout_follows_the_path_with_duration_decoding():
    model = tiny(2, context_alignment="mas", duration_decoding=True).eval()
    tokens, mels = example()
    tl, ml = torch.tensor([5, 4]), torch.tensor([12, 9])
    frames = pad_to_multiple(mels, 2)
    teacher_inputs = decoder_inputs(frames, 2)
    with pytest.raises(ValueError, match="targets"):
        rollout_inputs(model, tokens, tl, teacher_inputs, 1.0)
    free = rollout_inputs(model, tokens, tl, teacher_inputs, 1.0, None, frames, ml)
    with torch.no_grad():
        again = model(tokens, tl, mels, ml, inputs=free)
    torch.testing.assert_close(free[:, 1:], again.mel_before[:, 1::2][:, :-1], atol=1e-5, rtol=1e-4)


def test_scheduled_sampling_extremes():
    model = tiny(2).eval()
    tokens, mels = example()
    tl, ml = torch.tensor([7, 5]), torch.tensor([12, 9])
    teacher = model(tokens, tl, mels, ml)
    p0 = scheduled_sampling_forward(model, 2, tokens, tl, mels, ml, 0.0)
    torch.testing.assert_close(p0.output.mel_after, teacher.mel_after)
    assert p0.teacher_output is None
    p1 = scheduled_sampling_forward(model, 2, tokens, tl, mels, ml, 1.0)
    torch.testing.assert_close(p1.inputs, decoder_inputs(teacher.mel_before, 2))
    torch.testing.assert_close(p1.teacher_output.mel_after, teacher.mel_after)
    mixed = mix_inputs(torch.zeros(4, 1000, 1), torch.ones(4, 1000, 1), 0.3)
    assert 0.25 < float(mixed.mean()) < 0.35


def test_frame_dropout_zeroes_whole_frames_at_its_rate():
    inputs = torch.rand(4, 2000, 3) + 1.0
    assert drop_frames(inputs, 0.0) is inputs
    dropped = drop_frames(inputs, 0.4)
    zero = (dropped == 0).all(-1)
    kept = (dropped == inputs).all(-1)
    assert bool((zero | kept).all()), "frames are dropped whole, never in part"
    assert 0.37 < float(zero.float().mean()) < 0.43


def test_frame_dropout_reaches_the_decoder_in_both_sampling_modes():
    model = tiny(2).eval()
    tokens, mels = example()
    tl, ml = torch.tensor([7, 5]), torch.tensor([12, 9])
    teacher = scheduled_sampling_forward(model, 2, tokens, tl, mels, ml, 0.0)
    for p in (0.0, 0.5):
        torch.manual_seed(3)
        out = scheduled_sampling_forward(model, 2, tokens, tl, mels, ml, p, frame_dropout=0.5)
        dropped = (out.inputs == 0).all(-1)[:, 1:]
        assert bool(dropped.any()) and not bool(dropped.all())
        assert not torch.allclose(out.output.mel_after, teacher.output.mel_after)


@pytest.mark.parametrize("schedule", ["constant", "linear", "exponential", "inverse_sigmoid"])
def test_sampling_schedules(schedule):
    config = SamplingConfig(
        schedule=schedule, start_step=100, ramp_steps=1000, max_prob=0.5, sigmoid_k=200.0
    )
    values = [sampling_probability(config, s) for s in (0, 99, 100, 600, 1100, 10**6)]
    assert values[0] == values[1] == 0.0
    assert all(0 <= v <= 0.5 for v in values)
    assert values[-1] == pytest.approx(0.5, abs=1e-3)
    assert values == sorted(values)


@pytest.mark.parametrize(
    "settings",
    [
        {"context_alignment": "off"},
        {"context_alignment": "attention"},
        {"context_alignment": "mas"},
        {"context_alignment": "mas", "duration_decoding": True},
    ],
)
def test_every_parameter_updates(settings):
    model = tiny(2, **settings)
    model.train()
    tokens, mels = example()
    tl, ml = torch.tensor([7, 5]), torch.tensor([12, 9])
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    for _ in range(3):
        out = model(tokens, tl, mels, ml)
        terms = tts_loss(out, mels, ml, tl, LossConfig())
        optimizer.zero_grad()
        terms.total.backward()
        optimizer.step()
    stale = [n for n, p in model.named_parameters() if torch.equal(p, before[n])]
    assert not stale, f"parameters never updated: {stale}"


def test_long_inputs_work_without_a_maximum_length():
    model = tiny(1).eval()
    tokens = torch.randint(2, VOCAB, (1, 3000))
    mels = torch.randn(1, 20, MELS)
    out = model(tokens, torch.tensor([3000]), mels, torch.tensor([20]))
    assert torch.isfinite(out.mel_after).all()


def test_sequential_rollout_reads_its_own_frames_like_inference():
    """Each rollout step reads either the teacher's frame or the last frame the decoder
    produced from the rollout's own earlier inputs (p = 1: pure free-running)."""
    model = tiny(2).eval()
    tokens, mels = example()
    tl = torch.tensor([7, 5])
    teacher_inputs = decoder_inputs(pad_to_multiple(mels, 2), 2)
    encoded = model.encode(tokens, tl)

    def own_frames(inputs):
        frames, _, _, _ = model.decode(inputs, encoded, model.memory_caches(encoded))
        return decoder_inputs(frames, 2)

    free = rollout_inputs(model, tokens, tl, teacher_inputs, 1.0)
    torch.testing.assert_close(free, own_frames(free), atol=1e-5, rtol=1e-4)
    assert not torch.allclose(free[:, 1:], teacher_inputs[:, 1:])
    torch.testing.assert_close(
        rollout_inputs(model, tokens, tl, teacher_inputs, 0.0), teacher_inputs
    )
    torch.manual_seed(1)
    mixed = rollout_inputs(model, tokens, tl, teacher_inputs, 0.5)
    from_teacher = (mixed == teacher_inputs).all(-1)
    from_self = torch.isclose(mixed, own_frames(mixed), atol=1e-5, rtol=1e-4).all(-1)
    assert bool((from_teacher | from_self).all()) and bool(from_teacher[:, 0].all())
    assert bool(from_teacher.any()) and bool((from_self & ~from_teacher).any())


def test_sequential_sampling_trains_on_the_rollout_inputs():
    model = tiny(2).eval()
    tokens, mels = example()
    tl, ml = torch.tensor([7, 5]), torch.tensor([12, 9])
    torch.manual_seed(2)
    out = scheduled_sampling_forward(model, 2, tokens, tl, mels, ml, 1.0, rollout="sequential")
    torch.manual_seed(2)
    expected = rollout_inputs(model, tokens, tl, decoder_inputs(pad_to_multiple(mels, 2), 2), 1.0)
    torch.testing.assert_close(out.inputs, expected)
    assert out.teacher_output is None
    torch.testing.assert_close(
        out.output.mel_after, model(tokens, tl, mels, ml, inputs=expected).mel_after
    )


def test_speaker_vectors_start_at_zero_and_then_set_the_voice():
    model = tiny(num_speakers=3).eval()
    tokens, mels = example()
    lengths, mel_lengths = torch.tensor([7, 5]), torch.tensor([12, 9])

    def run(speakers):
        return model(tokens, lengths, mels, mel_lengths, speakers=speakers).mel_after

    # Zero-initialised: a voice grown from a single-speaker one speaks as it did.
    torch.testing.assert_close(run(torch.tensor([2, 1])), run(None))
    with torch.no_grad():
        model.speaker_embedding.weight.normal_()
    torch.testing.assert_close(run(None), run(torch.tensor([0, 0])))
    assert not torch.allclose(run(torch.tensor([1, 0]))[0], run(None)[0])
    torch.testing.assert_close(run(torch.tensor([1, 0]))[1], run(None)[1])
    with pytest.raises(ValueError, match=r"speaker ids must be in \[0, 3\)"):
        run(torch.tensor([3, 0]))
    with pytest.raises(ValueError, match=r"speaker ids must be in \[0, 1\)"):
        tiny().encode(tokens, lengths, torch.tensor([1, 0]))


def test_collate_carries_speakers():
    from tts.data import Item

    items = [Item("a", torch.tensor([3, 1]), torch.randn(4, MELS), speaker=1)]
    items.append(Item("b", torch.tensor([3, 1]), torch.randn(4, MELS)))
    assert collate(items).speakers.tolist() == [1, 0]
