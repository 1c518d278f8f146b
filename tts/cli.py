"""The ``tts`` command. Each subcommand lives in the module named for its concept.

A subcommand module exposes ``add_arguments(parser)`` and ``run(args) -> int``;
modules are imported lazily so ``tts --help`` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "prepare": ("data_prep.prepare", "dataset folder -> manifests + cached log-mel features"),
    "flite-corpus": ("data_prep.flite", "LJ transcripts -> synthetic corpus spoken by flite"),
    "train": ("tts.train", "train the Transformer TTS acoustic model"),
    "synthesize": ("tts.synthesize", "text -> wav files (+ alignment plots, JSON summary)"),
    "export": ("tts.export", "training checkpoint -> small (fp16) inference file"),
    "plot-alignment": ("tts.plot_alignment", "plot the cross-attention of a synthesis"),
    "eval": ("tts.eval.evaluate", "score a checkpoint: ASR WER/CER, robustness, alignment"),
    "dump-mels": ("tts.vocoder.dump_mels", "teacher-forced mels for vocoder fine-tuning"),
    "train-vocoder": ("tts.vocoder.train", "train a HiFi-GAN vocoder"),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tts", description="Transformer TTS toolkit")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (module, help_text) in SUBCOMMANDS.items():
        sub_parser = sub.add_parser(name, help=help_text, description=help_text)
        sub_parser.set_defaults(_module=module)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = build_parser()
    # Parse the command name first, then let its module declare its own options.
    known, _ = parser.parse_known_args(argv[:1] if argv and not argv[0].startswith("-") else argv)
    module = importlib.import_module(known._module)
    sub_parser = argparse.ArgumentParser(
        prog=f"tts {known.command}", description=SUBCOMMANDS[known.command][1]
    )
    module.add_arguments(sub_parser)
    args = sub_parser.parse_args(argv[1:])
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    return int(module.run(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
