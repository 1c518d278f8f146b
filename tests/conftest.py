"""Shared test fixtures: paths to the optional real data and tiny synthetic audio."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"
SHARED_EVAL = REPO.parent / "shared" / "eval"


def shared_path(*parts: str) -> Path:
    """Path under ../shared/data, skipping the calling test when it is absent."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"real data not available: {path} is absent (see shared/data/README.md)")
    return path


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(0)
