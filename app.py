"""Gradio demo app (placeholder until the app issue lands)."""

import sys

if __name__ == "__main__":
    print(
        "The demo app is not built yet. Train a model with\n"
        "  recipes/ljspeech_part1/run.sh --stop-stage 2\n"
        "and follow the README for progress.",
        file=sys.stderr,
    )
    sys.exit(1)
