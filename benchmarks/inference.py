"""Inference speed: acoustic model with and without the key/value cache, vocoders, a peer.

Everything is measured in this one run, on random weights (speed does not depend on
training), with a fixed number of CPU threads, and printed as one table. Output
lengths are forced (the stop token is disabled) so every row decodes the same frames.
Real-time factor (RTF) = wall seconds / seconds of audio; below 1 is faster than real time.

    python benchmarks/inference.py                     # CPU, 2 threads, 200/500/1000 frames
    python benchmarks/inference.py --device cuda --frames 500 1000 2000
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import torch

from tts.config import AudioConfig, Config, load_config
from tts.model.generate import generate
from tts.train import build_model
from tts.vocoder.config import GeneratorConfig
from tts.vocoder.griffin_lim import GriffinLim
from tts.vocoder.hifigan import HifiGanGenerator

CONFIGS = {
    "small": "recipes/ljspeech_part1/conf/small.yaml",
    "ljspeech": "recipes/ljspeech/conf/transformer.yaml",
}
TEXT_SYMBOLS = 100  # about 6 frames per symbol: a 600-frame sentence


def timed(fn: Callable[[], object], device: str, repeats: int) -> float:
    """Best-of-``repeats`` wall seconds (callers warm up with a short input first)."""
    best = float("inf")
    for _ in range(repeats):
        if device == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        fn()
        if device == "cuda":
            torch.cuda.synchronize()
        best = min(best, time.perf_counter() - start)
    return best


def count(model: torch.nn.Module) -> float:
    return sum(p.numel() for p in model.parameters()) / 1e6


def acoustic_rows(name: str, config: Config, frames: list[int], device: str, repeats: int):
    model = build_model(config).to(device).eval()
    r = config.model.reduction_factor
    tokens = torch.randint(2, len(config.text.symbols), (1, TEXT_SYMBOLS), device=device)
    lengths = torch.tensor([TEXT_SYMBOLS], device=device)
    generate(model, tokens, lengths, max_steps=5, stop_threshold=2.0)  # warm-up
    for n in frames:
        steps = -(-n // r)
        walls = {}
        for cache in (True, False):
            run = lambda cache=cache, steps=steps: generate(  # noqa: E731
                model, tokens, lengths, max_steps=steps, stop_threshold=2.0, use_cache=cache
            )
            walls[cache] = timed(run, device, repeats)
        for cache in (True, False):
            yield {
                "model": f"TransformerTTS {name} (r={r})",
                "params_m": count(model),
                "variant": "kv cache" if cache else "no cache",
                "frames": steps * r,
                "wall": walls[cache],
                "speedup": walls[False] / walls[cache] if cache else 1.0,
            }


def tacotron2(target_params: float):
    """torchaudio's Tacotron 2 scaled in width to about ``target_params`` million."""
    from torchaudio.models import Tacotron2

    def build(width: int, max_steps: int = 10):
        return Tacotron2(
            n_symbol=len(Config().text.symbols),
            symbol_embedding_dim=width,
            encoder_embedding_dim=width,
            decoder_rnn_dim=2 * width,
            attention_rnn_dim=2 * width,
            prenet_dim=max(64, width // 2),
            postnet_embedding_dim=width,
            decoder_max_step=max_steps,
            decoder_early_stopping=False,
        )

    width = min(range(64, 1537, 32), key=lambda w: abs(count(build(w)) - target_params))
    return lambda max_steps: build(width, max_steps)


def tacotron_rows(target: float, label: str, frames: list[int], device: str, repeats: int):
    make = tacotron2(target)
    tokens = torch.randint(1, len(Config().text.symbols), (1, TEXT_SYMBOLS), device=device)
    lengths = torch.tensor([TEXT_SYMBOLS], device=device)
    with torch.no_grad():
        make(5).to(device).eval().infer(tokens, lengths)  # warm-up
    for n in frames:
        model = make(n).to(device).eval()
        with torch.no_grad():
            wall = timed(lambda model=model: model.infer(tokens, lengths), device, repeats)
        yield {
            "model": f"torchaudio Tacotron2 (~{label}, r=1)",
            "params_m": count(model),
            "variant": "peer",
            "frames": n,
            "wall": wall,
            "speedup": float("nan"),
        }


def vocoder_rows(frames: int, device: str, repeats: int):
    audio = AudioConfig()
    mel = torch.randn(1, audio.n_mels, frames, device=device) - 5.0
    vocoders = [("Griffin-Lim 32 iter", GriffinLim(audio, n_iter=32), None)]
    for version in ("v1", "v3"):
        generator = HifiGanGenerator(GeneratorConfig(version=version), audio.n_mels)
        generator.remove_weight_norm()
        generator = generator.to(device).eval()
        vocoders.append((f"HiFi-GAN {version.upper()}", generator, count(generator)))
    for label, vocoder, params in vocoders:
        with torch.no_grad():
            vocoder(mel[..., :20])  # warm-up
            wall = timed(lambda vocoder=vocoder: vocoder(mel), device, repeats)
        yield {
            "model": label,
            "params_m": params if params is not None else 0.0,
            "variant": "vocoder",
            "frames": frames,
            "wall": wall,
            "speedup": float("nan"),
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--frames", type=int, nargs="+", default=[200, 500, 1000])
    parser.add_argument("--configs", nargs="+", default=list(CONFIGS), choices=list(CONFIGS))
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--skip-peer", action="store_true")
    parser.add_argument(
        "--ljspeech-max-frames",
        type=int,
        default=500,
        help="longest output for the 50M ljspeech config (its uncached path is slow on CPU)",
    )
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)

    print(f"device {args.device}, {args.threads} threads, text {TEXT_SYMBOLS} symbols")
    print("| model | params (M) | variant | frames | wall s | RTF | cache speed-up |")
    print("|---|---:|---|---:|---:|---:|---:|", flush=True)
    for name in args.configs:
        config = load_config(CONFIGS[name])
        frames = args.frames
        if name == "ljspeech":
            frames = [n for n in frames if n <= args.ljspeech_max_frames]
        print_rows(acoustic_rows(name, config, frames, args.device, args.repeats))
        if not args.skip_peer:
            target = count(build_model(config))
            print_rows(tacotron_rows(target, name, frames, args.device, args.repeats))
    print_rows(vocoder_rows(max(args.frames), args.device, args.repeats))


def print_rows(rows) -> None:
    """Print each row as soon as it is measured (a long run shows progress)."""
    hop, rate = AudioConfig().hop_length, AudioConfig().sample_rate
    for row in rows:
        seconds = row["frames"] * hop / rate
        speedup = "" if row["speedup"] != row["speedup"] else f"{row['speedup']:.1f}x"
        params = f"{row['params_m']:.1f}" if row["params_m"] else "-"
        print(
            f"| {row['model']} | {params} | {row['variant']} | {row['frames']} | "
            f"{row['wall']:.2f} | {row['wall'] / seconds:.3f} | {speedup} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
