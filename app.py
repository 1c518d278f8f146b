"""Gradio demo: type text, hear it, and see where the decoder attended while speaking it.

    python app.py                                   # the bundled default voice
    python app.py --checkpoint exp/run/best.pt      # one checkpoint
    python app.py --models-dir exp                  # every run in exp/, chosen in the page
    python app.py --vocoder hifigan:exp/hifigan/generator.pt --concurrency 4

Without a checkpoint and without a bundled voice the page still opens and says how to get
one. ``/synthesize`` is a named endpoint, so ``gradio_client`` can script the same thing.
"""

from __future__ import annotations

import argparse
import io
import logging
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import gradio as gr
import numpy as np
from matplotlib.figure import Figure
from PIL import Image

from tts.checkpoint import CheckpointError, checkpoints_in
from tts.eval.alignment import most_diagonal_head
from tts.plotting import (
    plot_alignment,
    plot_alignment_grid,
    plot_mel,
    save_figure,
)
from tts.pretrained import default_voice
from tts.synthesize import SynthesisError, SynthesisResult, Synthesizer

log = logging.getLogger("app")

TRAIN_COMMAND = "bash recipes/ljspeech_part1/run_short.sh"
BEST_HEAD = "most diagonal head"
ALL_HEADS = "all heads (grid)"
NO_MODEL = "(no voice installed)"
GRIFFIN_LIM = [
    ("Griffin-Lim (fast)", "griffin-lim"),
    ("Griffin-Lim (100 iterations)", "griffin-lim:100"),
]
EXAMPLES = [
    "The quick brown fox jumps over the lazy dog.",
    "On March 3, 1998, the 42 passengers paid $7.50 each for a 2.5 mile ride to Route 66.",
    "A speech synthesizer reads text one symbol at a time. At every step the decoder looks "
    "back at the encoded text through cross-attention, and the plot on the right shows "
    "where it looked. When the bright line runs cleanly from corner to corner, the model "
    "read every word in order; when it stalls or jumps, you hear a mumble or a skipped word.",
]
NO_VOICE_NOTICE = f"""\
### No voice is installed yet

This server has no checkpoint to speak with: the bundled default voice does not exist in
this checkout yet. Train it (a few hours on a CPU):

```bash
{TRAIN_COMMAND}
```

or start the app with a checkpoint you already have:

```bash
python app.py --checkpoint exp/run/best.pt
python app.py --models-dir exp
```
"""
NO_VOICE_ERROR = (
    f"No voice is loaded. Train the default voice ({TRAIN_COMMAND}) or restart the app "
    "with --checkpoint PATH or --models-dir DIR."
)
INTRO = """\
# Transformer TTS

Type some text and press **Synthesize**. The alignment plot shows which input symbol the
decoder attended to at every output step: a clean diagonal means the model read the text
in order.
"""
_VIEW = re.compile(r"layer (\d+) head (\d+)")


@dataclass(frozen=True)
class DemoSettings:
    """Server-wide limits; per-request settings come from the page."""

    max_chars: int = 500
    concurrency: int = 2
    queue_size: int = 64


class VoiceBank:
    """The checkpoints and vocoders this server offers.

    Each (model, vocoder) pair is loaded on first use and then shared by every request;
    a second vocoder for a loaded model reuses its weights. Synthesis runs one request
    at a time under ``synthesis_lock`` because the seed is applied to torch's
    process-wide RNG; plotting has its own lock because pyplot is not thread-safe, so
    one request can plot while the next one decodes.
    """

    def __init__(
        self, checkpoints: dict[str, Path], vocoders: list[str], device: str = "cpu"
    ) -> None:
        if not vocoders:
            raise ValueError("need at least one vocoder")
        self.checkpoints = dict(checkpoints)
        self.vocoders = list(vocoders)
        self.device = device
        self.synthesis_lock = threading.Lock()
        self.plot_lock = threading.Lock()
        self._loaded: dict[tuple[str, str], Synthesizer] = {}
        self._load_lock = threading.Lock()

    @property
    def models(self) -> list[str]:
        return list(self.checkpoints)

    @property
    def loaded(self) -> list[tuple[str, str]]:
        """The (model, vocoder) pairs loaded so far."""
        return list(self._loaded)

    def get(self, model: str, vocoder: str) -> Synthesizer:
        """The synthesizer for a pair, loading it the first time it is asked for."""
        if not self.checkpoints:
            raise CheckpointError(NO_VOICE_ERROR)
        if model not in self.checkpoints:
            raise CheckpointError(f"unknown model {model!r}; this server has {self.models}")
        if vocoder not in self.vocoders:
            raise ValueError(f"unknown vocoder {vocoder!r}; this server has {self.vocoders}")
        key = (model, vocoder)
        if key in self._loaded:  # the common case needs no lock
            return self._loaded[key]
        with self._load_lock:
            if key not in self._loaded:
                self._loaded[key] = self._load(model, vocoder)
            return self._loaded[key]

    def _load(self, model: str, vocoder: str) -> Synthesizer:
        from tts.vocoder import load_vocoder

        for (name, _), loaded in self._loaded.items():
            if name == model:
                voc = load_vocoder(vocoder, loaded.config.audio, loaded.device)
                return Synthesizer(loaded.model, loaded.config, voc, loaded.device, loaded.step)
        path = self.checkpoints[model]
        log.info("loading %s with %s", path, vocoder)
        return Synthesizer.from_checkpoint(path, vocoder, self.device)


def find_checkpoints(
    checkpoint: Path | None,
    models_dir: Path | None,
    default: Callable[[], Path | None] = default_voice,
) -> dict[str, Path]:
    """Display name → checkpoint path. In ``models_dir``: each ``*.pt`` file, and each run
    folder's ``best.pt`` (or its newest step checkpoint). Empty when there is nothing."""
    if checkpoint is not None:
        return {_display_name(checkpoint): checkpoint}
    if models_dir is None:
        voice = default()
        return {} if voice is None else {f"default voice ({voice.stem})": voice}
    if not models_dir.is_dir():
        raise CheckpointError(f"--models-dir {models_dir} is not a directory")
    found = {path.stem: path for path in sorted(models_dir.glob("*.pt"))}
    for run in sorted(p for p in models_dir.iterdir() if p.is_dir()):
        best = run / "best.pt"
        steps = checkpoints_in(run)
        if best.is_file():
            found[run.name] = best
        elif steps:
            found[run.name] = steps[-1]
    if not found:
        raise CheckpointError(f"no checkpoints (*.pt or run folders) in {models_dir}")
    return found


def _display_name(path: Path) -> str:
    return f"{path.parent.name}/{path.stem}" if path.parent.name else path.stem


def vocoder_label(spec: str) -> str:
    """What the vocoder menu shows for a ``--vocoder`` spelling."""
    labels = {value: label for label, value in GRIFFIN_LIM}
    kind, _, arg = spec.partition(":")
    if spec in labels:
        return labels[spec]
    if kind == "griffin-lim":
        return f"Griffin-Lim ({arg} iterations)"
    if kind == "hifigan":
        return f"HiFi-GAN ({Path(arg).parent.name or Path(arg).name})"
    return spec


def view_choices(synthesizer: Synthesizer | None) -> list[str]:
    """The alignment views a model offers: the best head, the grid, then every head."""
    if synthesizer is None:
        return [BEST_HEAD, ALL_HEADS]
    model = synthesizer.config.model
    heads = [
        f"layer {layer} head {head}"
        for layer in range(model.decoder_layers)
        for head in range(model.num_heads)
    ]
    return [BEST_HEAD, ALL_HEADS, *heads]


def speaker_choices(synthesizer: Synthesizer | None) -> list[tuple[str, int]]:
    """The speakers of a model, named for the corpora they were trained on (0 first)."""
    if synthesizer is None:
        return [("default", 0)]
    data, count = synthesizer.config.data, synthesizer.config.model.num_speakers
    names = [Path(data.manifest_dir).name, *(Path(folder).name for folder in data.extra_speakers)]
    return [(names[i] if i < len(names) else f"speaker {i}", i) for i in range(count)]


def figure_image(fig: Figure) -> Image.Image:
    """Render and close a figure (PNG in memory), so no pyplot state outlives the request."""
    buffer = io.BytesIO()
    save_figure(fig, buffer)
    buffer.seek(0)
    return Image.open(buffer).convert("RGB")


def alignment_image(alignment: np.ndarray, symbols: list[str], view: str) -> Image.Image:
    """One head (chosen or the most diagonal) or the grid of all of them."""
    alignment = np.asarray(alignment, dtype=np.float32)
    if view == ALL_HEADS:
        layers, heads = alignment.shape[:2]
        return figure_image(plot_alignment_grid(alignment, f"{layers} layers × {heads} heads"))
    match = _VIEW.fullmatch(view or "")
    if match and all(int(i) < n for i, n in zip(match.groups(), alignment.shape[:2], strict=True)):
        layer, head = int(match[1]), int(match[2])
        title = f"layer {layer} head {head}"
    else:
        layer, head, _ = most_diagonal_head(alignment)
        title = f"layer {layer} head {head} (most diagonal)"
    fig = plot_alignment(alignment[layer, head], symbols, title)
    # Symbols run up the y axis: give each label room, within a size a page can show.
    fig.set_size_inches(10, float(np.clip(0.085 * len(symbols) + 1.5, 4.5, 14)))
    fig.tight_layout()
    return figure_image(fig)


def info_markdown(result: SynthesisResult, model: str, vocoder: str) -> str:
    """The numbers people ask about first, as a one-row table."""
    stopped = result.stopped_by
    if result.hit_max:
        stopped = "**length cap** (raise the maximum length?)"
    columns = {
        "audio": f"{result.audio_seconds:.2f} s",
        "decoder steps": str(result.decoder_steps),
        "stopped by": stopped,
        "real-time factor": f"{result.rtf:.3f}",
        "sentences": str(len(result.sentences)),
    }
    lines = [
        "| " + " | ".join(columns) + " |",
        "|---" * len(columns) + "|",
        "| " + " | ".join(columns.values()) + " |",
        "",
        f"{model} · {vocoder_label(vocoder)} · {result.sample_rate} Hz · "
        f"{result.wall_seconds:.2f} s of compute",
    ]
    return "\n".join(lines)


def synthesize(
    voices: VoiceBank,
    settings: DemoSettings,
    text: str,
    model: str,
    vocoder: str,
    view: str,
    stop_threshold: float,
    max_len_ratio: float,
    monotonic: bool,
    seed: float | None,
    speaker: int | None = 0,
) -> tuple[tuple[int, np.ndarray], Image.Image, Image.Image, str, dict]:
    """The ``/synthesize`` endpoint: audio, alignment plot, mel plot, info, and the
    alignment kept in the session so changing the view needs no new synthesis."""
    try:
        synthesizer = voices.get(model, vocoder)
        limit = min(settings.max_chars, synthesizer.max_chars)
        if not text or not text.strip():
            raise SynthesisError("Please type some text to synthesise.")
        if len(text) > limit:
            raise SynthesisError(
                f"The text has {len(text)} characters; this demo accepts up to {limit}."
            )
        with voices.synthesis_lock:
            result = synthesizer(
                text,
                stop_threshold=float(stop_threshold),
                max_len_ratio=float(max_len_ratio),
                monotonic=bool(monotonic),
                seed=None if seed is None or seed < 0 else int(seed),
                speaker=int(speaker or 0),
            )
        with voices.plot_lock:
            alignment = alignment_image(result.alignment, result.symbols, view)
            mel = figure_image(plot_mel(result.mel, "predicted"))
    except (SynthesisError, CheckpointError, ValueError) as exc:
        raise gr.Error(str(exc)) from exc
    except Exception as exc:  # noqa: BLE001 - the page gets a message, the log the traceback
        log.exception("synthesis failed")
        message = f"Synthesis failed unexpectedly ({type(exc).__name__}); see the server log."
        raise gr.Error(message) from exc
    pcm = (np.clip(result.audio, -1.0, 1.0) * 32767).astype(np.int16)
    kept = {"alignment": result.alignment.astype(np.float16), "symbols": result.symbols}
    return (
        (result.sample_rate, pcm),
        alignment,
        mel,
        info_markdown(result, model, vocoder),
        kept,
    )


def redraw_alignment(voices: VoiceBank, view: str, kept: dict | None) -> Image.Image:
    """Re-plot the last alignment of this session in another view."""
    if not kept:
        return gr.skip()
    with voices.plot_lock:
        return alignment_image(kept["alignment"], kept["symbols"], view)


def seeded(synthesizer: Synthesizer | None) -> bool:
    """Whether the voice's output depends on the seed (prenet dropout at inference); the
    Seed box is shown only then."""
    return synthesizer is None or synthesizer.config.model.prenet_dropout_at_inference


def select_model(
    voices: VoiceBank, vocoder: str, model: str
) -> tuple[gr.Dropdown, gr.Dropdown, gr.Number]:
    """Load the chosen model now (once) and offer its layers and heads as views, its
    speakers, and a seed if its output depends on one."""
    try:
        synthesizer = voices.get(model, vocoder)
    except (CheckpointError, SynthesisError, ValueError) as exc:
        raise gr.Error(str(exc)) from exc
    speakers = speaker_choices(synthesizer)
    return (
        gr.Dropdown(choices=view_choices(synthesizer), value=BEST_HEAD),
        gr.Dropdown(choices=speakers, value=0, visible=len(speakers) > 1),
        gr.Number(visible=seeded(synthesizer)),
    )


def build_app(voices: VoiceBank, settings: DemoSettings | None = None) -> gr.Blocks:
    """The page. The first model is loaded here, so a broken default fails at start-up."""
    settings = settings or DemoSettings()
    first = voices.get(voices.models[0], voices.vocoders[0]) if voices.models else None
    limit = min(settings.max_chars, first.max_chars) if first else settings.max_chars
    model_names = voices.models or [NO_MODEL]  # the API still takes a value when there is none
    with gr.Blocks(title="Transformer TTS demo", analytics_enabled=False) as demo:
        gr.Markdown(INTRO)
        if first is None:
            gr.Markdown(NO_VOICE_NOTICE, elem_id="no-voice-notice")
        with gr.Row():
            with gr.Column(scale=2):
                text = gr.Textbox(
                    label="Text",
                    info=f"Up to {limit} characters; long text is split into sentences.",
                    placeholder="Type something to say…",
                    lines=4,
                    max_length=limit,
                    elem_id="text",
                )
                counter = gr.Markdown(f"0 / {limit} characters", elem_id="char-count")
                with gr.Row():
                    model = gr.Dropdown(
                        model_names,
                        value=model_names[0],
                        label="Model",
                        visible=len(voices.models) > 1,
                    )
                    vocoder = gr.Dropdown(
                        [(vocoder_label(v), v) for v in voices.vocoders],
                        value=voices.vocoders[0],
                        label="Vocoder",
                    )
                    speakers = speaker_choices(first)
                    speaker = gr.Dropdown(
                        speakers, value=0, label="Speaker", visible=len(speakers) > 1
                    )
                with gr.Accordion("Advanced settings", open=False):
                    stop_threshold = gr.Slider(
                        0.05,
                        1.0,
                        value=0.5,
                        step=0.05,
                        label="Stop threshold",
                        info="stop when the END probability passes this",
                    )
                    max_len_ratio = gr.Slider(
                        1.0,
                        30.0,
                        value=15.0,
                        step=0.5,
                        label="Maximum length",
                        info="output frames per input symbol before giving up (~6 is normal)",
                    )
                    monotonic = gr.Checkbox(
                        False,
                        label="Monotonic attention",
                        info="only let attention move forward, a few symbols at a time",
                    )
                    seed = gr.Number(
                        0,
                        precision=0,
                        label="Seed",
                        info="same seed, same audio (-1: a new one every time)",
                        visible=seeded(first),
                    )
                button = gr.Button("Synthesize", variant="primary", elem_id="synthesize")
                gr.Examples(EXAMPLES, inputs=[text], label="Examples")
            with gr.Column(scale=3):
                audio = gr.Audio(label="Audio", type="numpy", elem_id="audio")
                info = gr.Markdown(elem_id="info")
                view = gr.Dropdown(view_choices(first), value=BEST_HEAD, label="Alignment view")
                alignment = gr.Image(
                    label="Cross-attention alignment", format="png", elem_id="alignment"
                )
                mel = gr.Image(label="Mel-spectrogram", format="png", elem_id="mel")
        kept = gr.State(time_to_live=1800)

        inputs = [
            text,
            model,
            vocoder,
            view,
            stop_threshold,
            max_len_ratio,
            monotonic,
            seed,
            speaker,
        ]
        outputs = [audio, alignment, mel, info, kept]
        handler = partial(synthesize, voices, settings)
        button.click(
            handler,
            inputs,
            outputs,
            api_name="synthesize",
            concurrency_limit=settings.concurrency,
            concurrency_id="synthesis",
        )
        text.submit(
            handler,
            inputs,
            outputs,
            api_visibility="private",
            concurrency_limit=settings.concurrency,
            concurrency_id="synthesis",
        )
        text.change(
            None,
            text,
            counter,
            js=f"(t) => `${{(t || '').length}} / {limit} characters`",
            api_visibility="private",
        )
        view.change(
            partial(redraw_alignment, voices),
            [view, kept],
            alignment,
            api_visibility="private",
            concurrency_limit=settings.concurrency,
        )
        model.change(
            partial(select_model, voices),
            [vocoder, model],
            [view, speaker, seed],
            api_visibility="private",
        )
    demo.queue(default_concurrency_limit=settings.concurrency, max_size=settings.queue_size)
    return demo


def warm_up(voices: VoiceBank, settings: DemoSettings) -> None:
    """One short request before serving, so the first visitor does not wait for lazy
    imports and first-call set-up."""
    started = time.perf_counter()
    model, vocoder = voices.models[0], voices.vocoders[0]
    synthesize(voices, settings, "Hello.", model, vocoder, BEST_HEAD, 0.5, 1.0, False, 0)
    log.info("warmed up in %.1f s", time.perf_counter() - started)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--checkpoint", type=Path, help="one acoustic checkpoint")
    source.add_argument("--models-dir", type=Path, help="offer every checkpoint found here")
    parser.add_argument(
        "--vocoder",
        action="append",
        help="griffin-lim[:N_ITER] | hifigan:PATH; repeat to offer several (first is default)",
    )
    parser.add_argument("--host", default="127.0.0.1", help="0.0.0.0 to serve other machines")
    parser.add_argument("--port", type=int, default=7860)
    parser.add_argument("--share", action="store_true", help="also open a gradio.live link")
    parser.add_argument(
        "--concurrency",
        type=int,
        default=2,
        help="requests handled at once (decoding itself runs one at a time)",
    )
    parser.add_argument("--max-chars", type=int, default=500, help="longest text accepted")
    parser.add_argument("--device", default="auto", help="cpu | cuda | auto")
    args = parser.parse_args(argv)
    if args.concurrency < 1 or args.max_chars < 1:
        parser.error("--concurrency and --max-chars must be >= 1")
    return args


def main(argv: list[str] | None = None) -> None:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    args = parse_args(argv)
    vocoders = list(dict.fromkeys([*(args.vocoder or []), *(v for _, v in GRIFFIN_LIM)]))
    try:
        checkpoints = find_checkpoints(args.checkpoint, args.models_dir)
        voices = VoiceBank(checkpoints, vocoders, args.device)
        demo_settings = DemoSettings(args.max_chars, args.concurrency)
        demo = build_app(voices, demo_settings)
        if checkpoints:
            warm_up(voices, demo_settings)
    except (CheckpointError, SynthesisError, ValueError) as exc:
        raise SystemExit(f"error: {exc}") from exc
    except gr.Error as exc:
        raise SystemExit(f"error: {exc.message}") from exc
    if not checkpoints:
        log.warning("no checkpoint and no bundled voice: the page will say how to get one")
    demo.launch(
        server_name=args.host,
        server_port=args.port,
        share=args.share,
        theme=gr.themes.Default(
            font=["ui-sans-serif", "system-ui", "sans-serif"],
            font_mono=["ui-monospace", "monospace"],
        ),
    )


if __name__ == "__main__":
    main()
