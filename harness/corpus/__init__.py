"""PCM corpora: the manifest format, import from any audio, synthesized sets, checks, scoring.

A corpus is a folder holding ``manifest.jsonl`` (one utterance a line, see
``harness.corpus.manifest``) and 16 kHz mono s16le ``.pcm`` files. The harness ships its
corpora as package data (``harness/corpora/<name>``; a checkout's ``corpora/`` links to
them); ``shipped_corpus`` and ``default_corpus_dir`` find them.
"""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path

from harness.corpus.manifest import (
    MANIFEST_NAME,
    SCHEMA_PATH,
    Corpus,
    ManifestError,
    Utterance,
    load_corpus,
    write_manifest,
)
from harness.corpus.scoring import Score, metric_for, normalize, pool, score
from harness.errors import UsageError
from harness.protocol.words import ReferenceWord

#: Environment variable naming a folder that holds ``<lang>-synth`` corpora (or your own).
CORPORA_ENV = "ASRX_CORPORA"
#: The corpus used when none is named: ``en-synth``.
DEFAULT_CORPUS = "en-synth"
#: The shipped corpus of real read speech (public domain LibriVox, with word timings).
REAL_SPEECH_CORPUS = "en-real"


def shipped_corpora_root() -> Path:
    """The folder of the corpora shipped inside the package (``harness/corpora``)."""
    return Path(str(resources.files("harness") / "corpora"))


def shipped_corpus(name: str) -> Path:
    """The folder of the shipped corpus ``name`` (``en-synth``, ``th-synth``, ``en-real``)."""
    folder = shipped_corpora_root() / name
    if not (folder / MANIFEST_NAME).is_file():
        have = sorted(p.name for p in shipped_corpora_root().iterdir() if p.is_dir())
        raise UsageError(f"no shipped corpus {name!r} (shipped: {', '.join(have)})")
    return folder.resolve()


def _candidate_roots() -> list[Path]:
    roots: list[Path] = []
    if env := os.environ.get(CORPORA_ENV):
        roots.append(Path(env))
    roots.append(shipped_corpora_root())
    return roots


def default_corpus_dir(lang: str = "en") -> Path:
    """The shipped ``<lang>-synth`` corpus folder.

    ``$ASRX_CORPORA`` is looked in first (a folder holding ``<lang>-synth`` corpora of your
    own), then the corpora the package ships (found with ``importlib.resources``, so an
    installed wheel works from any folder).
    """
    name = f"{lang.split('-', 1)[0].lower()}-synth"
    tried: list[str] = []
    for root in _candidate_roots():
        folder = root / name
        if (folder / MANIFEST_NAME).is_file():
            return folder.resolve()
        tried.append(str(folder))
    raise UsageError(
        f"no {name} corpus found (looked in {', '.join(tried)}); "
        f"set {CORPORA_ENV} or pass a corpus folder"
    )


__all__ = [
    "CORPORA_ENV",
    "DEFAULT_CORPUS",
    "REAL_SPEECH_CORPUS",
    "MANIFEST_NAME",
    "SCHEMA_PATH",
    "Corpus",
    "ManifestError",
    "ReferenceWord",
    "Score",
    "Utterance",
    "default_corpus_dir",
    "shipped_corpora_root",
    "shipped_corpus",
    "load_corpus",
    "metric_for",
    "normalize",
    "pool",
    "score",
    "write_manifest",
]
