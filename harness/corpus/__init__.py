"""PCM corpora: the manifest format, import from any audio, synthesized sets, checks, scoring.

A corpus is a folder holding ``manifest.jsonl`` (one utterance a line, see
``harness.corpus.manifest``) and 16 kHz mono s16le ``.pcm`` files. The harness ships two
synthesized corpora, ``corpora/en-synth`` and ``corpora/th-synth``; ``default_corpus_dir``
finds them.
"""

from __future__ import annotations

import os
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

#: Environment variable naming a folder that holds ``<lang>-synth`` corpora (or your own).
CORPORA_ENV = "ASRX_CORPORA"
#: The corpus used when none is named: ``en-synth``.
DEFAULT_CORPUS = "en-synth"


def _candidate_roots() -> list[Path]:
    roots: list[Path] = []
    if env := os.environ.get(CORPORA_ENV):
        roots.append(Path(env))
    # A source checkout (editable install): <repo>/harness/corpus/__init__.py -> <repo>/corpora.
    roots.append(Path(__file__).resolve().parents[2] / "corpora")
    roots.append(Path.cwd() / "corpora")
    return roots


def default_corpus_dir(lang: str = "en") -> Path:
    """The shipped ``<lang>-synth`` corpus folder.

    Looked for, in order, in ``$ASRX_CORPORA``, in ``corpora/`` of the source checkout this
    package runs from, and in ``./corpora``. An installed wheel does not carry the corpora:
    set ``ASRX_CORPORA`` to a checkout's ``corpora/`` folder or pass a corpus path.
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
    "MANIFEST_NAME",
    "SCHEMA_PATH",
    "Corpus",
    "ManifestError",
    "Score",
    "Utterance",
    "default_corpus_dir",
    "load_corpus",
    "metric_for",
    "normalize",
    "pool",
    "score",
    "write_manifest",
]
