"""Self-describing checkpoints: one file is enough to synthesise.

Every file holds the format version, the full config (as a plain dict), the
symbol table, the git sha, the step and the model weights; training checkpoints
add optimiser, scheduler, data position and RNG state. Files are written
atomically and read with ``weights_only=True``.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

import torch

from tts.config import Config, ConfigError

FORMAT_VERSION = 1


class CheckpointError(ValueError):
    """A checkpoint is missing, unreadable or incompatible."""


def git_sha() -> str | None:
    """The current commit of the source tree, when it is a git checkout."""
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=Path(__file__).resolve().parent,
            capture_output=True,
            text=True,
            timeout=5,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


def write_atomic(path: str | Path, payload: dict[str, Any]) -> None:
    """``torch.save`` to a tmp file, then rename: a crash never leaves half a checkpoint."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    torch.save(payload, tmp)
    os.replace(tmp, path)


def check_format_version(payload: dict[str, Any], path: str | Path) -> None:
    """Refuse files written by a newer version of the checkpoint format."""
    if payload["format_version"] > FORMAT_VERSION:
        raise CheckpointError(
            f"{path} has format {payload['format_version']}, newer than this code "
            f"({FORMAT_VERSION}); upgrade tts"
        )


def save_checkpoint(path: str | Path, config: Config, model_state: dict, step: int, **extra: Any):
    """Write a self-describing acoustic-model checkpoint (atomically)."""
    payload = {
        "format_version": FORMAT_VERSION,
        "config": config.to_dict(),
        "symbols": list(config.text.symbols),
        "git_sha": git_sha(),
        "step": step,
        "model": model_state,
        **extra,
    }
    write_atomic(path, payload)


def load_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Read and validate a checkpoint; errors name the file and the problem."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint not found: {path}")
    try:
        payload = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any unpickling failure means "not ours"
        raise CheckpointError(f"cannot read checkpoint {path}: {exc}") from exc
    if not isinstance(payload, dict) or "format_version" not in payload:
        raise CheckpointError(f"{path} is not a tts checkpoint (no format_version)")
    check_format_version(payload, path)
    try:
        payload["config"] = Config.from_dict(payload["config"])
    except ConfigError as exc:
        raise CheckpointError(f"{path} holds an invalid config: {exc}") from exc
    return payload


def checkpoints_in(directory: str | Path) -> list[Path]:
    """Step checkpoints in a run folder, oldest first."""
    return sorted(Path(directory).glob("checkpoint_*.pt"))
