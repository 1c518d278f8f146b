"""``tts flite-corpus``: seeded sentence choice, exclusions, resume, and clear errors.

A stand-in ``flite`` script keeps these tests fast and independent of the Debian package;
one test runs the real binary when it is installed (``scripts/system_deps.sh`` installs it).
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from data_prep.corpora import CorpusError, read_corpus
from data_prep.flite import FliteError, choose, make_corpus, read_transcripts
from tts.cli import main as cli_main

# Writes a tone whose length grows with the text; exits 3 on text containing "FAIL".
FAKE_FLITE = """#!{python}
import sys
import numpy as np
import soundfile as sf
args = sys.argv[1:]
text = sys.stdin.read()
if "FAIL" in text:
    sys.stderr.write("synthesis failed")
    sys.exit(3)
out = args[args.index("-o") + 1]
n = 160 * (len(text) + 1)
sf.write(out, 0.3 * np.sin(np.arange(n) * 0.2), 16000, subtype="PCM_16")
"""


@pytest.fixture
def fake_flite(tmp_path: Path) -> str:
    path = tmp_path / "bin" / "flite"
    path.parent.mkdir()
    path.write_text(FAKE_FLITE.format(python=sys.executable))
    path.chmod(0o755)
    return str(path)


def write_transcripts(path: Path, count: int) -> Path:
    lines = [
        f"LJ{i // 100 + 1:03d}-{i % 100 + 1:04d}|Sentence number {i}, said once."
        for i in range(count)
    ]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_choice_is_seeded_sorted_and_respects_exclusions(tmp_path: Path) -> None:
    rows = read_transcripts(write_transcripts(tmp_path / "t.psv", 300))
    exclude = {row[0] for row in rows[:100]}
    first = choose(rows, 50, exclude, seed=0)
    assert first == choose(rows, 50, exclude, seed=0)
    assert first != choose(rows, 50, exclude, seed=1)
    assert [row[0] for row in first] == sorted(row[0] for row in first)
    assert len({row[0] for row in first}) == 50
    assert not exclude & {row[0] for row in first}
    with pytest.raises(CorpusError, match="only 200 are eligible"):
        choose(rows, 201, exclude, seed=0)


def test_corpus_is_lj_layout_and_resumes(tmp_path: Path, fake_flite: str) -> None:
    transcripts = write_transcripts(tmp_path / "t.psv", 40)
    held_out = tmp_path / "real"
    held_out.mkdir()
    (held_out / "metadata.csv").write_text("LJ001-0001|x|x\nLJ001-0002|y|y\n")
    out = tmp_path / "corpus"
    made = make_corpus(transcripts, out, 10, [held_out], flite=fake_flite, workers=2)
    assert made == 10
    utterances = list(read_corpus(out))
    assert len(utterances) == 10
    assert not {"LJ001-0001", "LJ001-0002"} & {u.id for u in utterances}
    for utt in utterances:
        audio, rate = sf.read(utt.audio_path)
        assert rate == 16000 and len(audio) == 160 * (len(utt.text) + 1)
    assert not list(out.glob("wavs/*.partial.wav"))
    # A killed run left one file missing: only that one is made again.
    utterances[3].audio_path.unlink()
    assert make_corpus(transcripts, out, 10, [held_out], flite=fake_flite) == 1
    assert len(list(read_corpus(out))) == 10


def test_errors_are_clear(tmp_path: Path, fake_flite: str, capsys) -> None:
    transcripts = write_transcripts(tmp_path / "t.psv", 5)
    with pytest.raises(FliteError, match="apt-get install -y flite"):
        make_corpus(transcripts, tmp_path / "a", 2, flite="no-such-flite-binary")
    bad = tmp_path / "bad.psv"
    bad.write_text("LJ001-0001|fine\nLJ001-0002|FAIL here\n")
    with pytest.raises(FliteError, match="LJ001-0002.*exit 3.*synthesis failed"):
        make_corpus(bad, tmp_path / "b", 2, flite=fake_flite, workers=1)
    assert not list((tmp_path / "b").glob("wavs/*.partial.wav"))
    assert not (tmp_path / "b" / "metadata.csv").exists()
    (tmp_path / "junk.psv").write_text("no separator here\n")
    argv = ["flite-corpus", str(tmp_path / "junk.psv"), "--out", str(tmp_path / "c")]
    assert cli_main([*argv, "--count", "1"]) == 2
    assert "expected 'id|text'" in capsys.readouterr().err
    assert cli_main([*argv, "--count", "0"]) == 2
    missing = ["flite-corpus", str(tmp_path / "none.psv"), "--out", str(tmp_path / "d")]
    assert cli_main([*missing, "--count", "1"]) == 2
    assert "transcript file not found" in capsys.readouterr().err


@pytest.mark.skipif(
    shutil.which("flite") is None, reason="flite not installed (apt-get install flite)"
)
def test_real_flite_speaks(tmp_path: Path) -> None:
    transcripts = tmp_path / "t.psv"
    transcripts.write_text("LJ050-0001|The birch canoe slid on the smooth planks.\n")
    make_corpus(transcripts, tmp_path / "corpus", 1)
    audio, rate = sf.read(tmp_path / "corpus" / "wavs" / "LJ050-0001.wav")
    assert rate == 16000
    assert 1.5 < len(audio) / rate < 5.0
    assert np.abs(audio).max() > 0.1
