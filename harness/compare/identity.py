"""What a load run was, and whether two runs may be compared at all.

A latency only means something beside the load that produced it: the same corpus, the
same server (or the same engine of the embedded one), the same number of users, a
similar duration, the same frame size and pacing. ``run_identity`` writes these into the
summary (``"identity"``) when a run ends; ``differences`` lists what makes two runs *not
comparable* and ``notes`` what differs without making them so (another harness version,
another URL of an outside service).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from harness import __version__
from harness.corpus import MANIFEST_NAME, default_corpus_dir, load_corpus
from harness.errors import HarnessError

#: Two durations differing by more than this fraction of the longer one are not comparable.
DURATION_TOLERANCE = 0.2
#: What ``--allow-different`` may name: each a reason two runs can be not comparable.
ASPECTS: dict[str, str] = {
    "corpus": "the corpus (its utterance ids or its manifest)",
    "target": "the embedded engine, or embedded server against an outside service",
    "users": "the peak number of users",
    "duration": f"the duration, beyond {DURATION_TOLERANCE:.0%} of the longer run",
    "frame_bytes": "the audio frame size",
    "speed": "the pacing (--asrx-speed)",
    "order": "the utterance order (--asrx-order)",
    "shape": "the load shape (a capacity ramp against a steady run)",
    "saturated": "a run whose harness was saturated (its latencies are untrusted)",
}


def _corpus_identity(folder: str) -> dict[str, Any]:
    """The corpus a run replayed: its name, utterance ids and manifest digest."""
    try:
        root = Path(folder) if folder else default_corpus_dir("en")
        corpus = load_corpus(root)
        digest = hashlib.sha256((corpus.root / MANIFEST_NAME).read_bytes()).hexdigest()
    except (HarnessError, OSError) as exc:  # e.g. a master without the workers' corpus
        return {"path": folder, "name": Path(folder).name, "error": str(exc)}
    return {
        "path": folder or str(corpus.root),
        "name": corpus.root.name,
        "utterances": [u.id for u in corpus.utterances],
        "manifest_sha256": digest,
    }


def peak_users(settings: Mapping[str, Any], timeseries: Sequence[Mapping[str, Any]]) -> int | None:
    """The most users the run held (the time series), else the ones asked for."""
    seen = [int(r["users"]) for r in timeseries if isinstance(r.get("users"), int)]
    if seen and max(seen) > 0:
        return max(seen)
    asked = settings.get("num_users")
    return int(asked) if isinstance(asked, int | float) else None


def run_identity(
    settings: Mapping[str, Any],
    target: Mapping[str, Any],
    duration_s: float | None,
    timeseries: Sequence[Mapping[str, Any]],
    saturated: bool,
) -> dict[str, Any]:
    """The ``"identity"`` section of a summary (``settings`` are Locust's parsed options)."""
    return {
        "harness_version": __version__,
        "target": {"url": target.get("url"), "embedded_engine": target.get("embedded_engine")},
        "corpus": _corpus_identity(str(settings.get("asrx_corpus") or "")),
        "users": peak_users(settings, timeseries),
        "duration_s": duration_s,
        "frame_bytes": settings.get("asrx_frame_bytes"),
        "speed": settings.get("asrx_speed"),
        "order": settings.get("asrx_order"),
        "shape": settings.get("shape_class"),
        "saturated": saturated,
    }


# -- comparing two identities ----------------------------------------------------------------
def _target_text(target: Mapping[str, Any]) -> str:
    engine = target.get("embedded_engine")
    return f"embedded reference server ({engine})" if engine else str(target.get("url") or "?")


def _corpus_text(corpus: Mapping[str, Any]) -> str:
    ids = corpus.get("utterances")
    count = f", {len(ids)} utterances" if isinstance(ids, list) else ""
    digest = str(corpus.get("manifest_sha256") or "")[:12]
    return f"{corpus.get('name') or '?'}{count}" + (f", manifest {digest}" if digest else "")


def _differing(base: Mapping[str, Any], cur: Mapping[str, Any]) -> dict[str, str]:
    """Aspect -> what differs, for every aspect of ``ASPECTS`` that does."""
    out: dict[str, str] = {}
    bc, cc = base.get("corpus") or {}, cur.get("corpus") or {}
    same_ids = set(bc.get("utterances") or ()) == set(cc.get("utterances") or ())
    known = "utterances" in bc and "utterances" in cc
    if known and (not same_ids or bc.get("manifest_sha256") != cc.get("manifest_sha256")):
        out["corpus"] = f"{_corpus_text(bc)} vs {_corpus_text(cc)}"
    bt, ct = base.get("target") or {}, cur.get("target") or {}
    if bt.get("embedded_engine") != ct.get("embedded_engine"):
        out["target"] = f"{_target_text(bt)} vs {_target_text(ct)}"
    for aspect in ("users", "frame_bytes", "speed", "order", "shape"):
        if base.get(aspect) != cur.get(aspect):
            out[aspect] = f"{base.get(aspect)} vs {cur.get(aspect)}"
    bd, cd = base.get("duration_s"), cur.get("duration_s")
    if isinstance(bd, int | float) and isinstance(cd, int | float):
        longer = max(bd, cd)
        if longer > 0 and abs(bd - cd) / longer > DURATION_TOLERANCE:
            out["duration"] = f"{bd:.0f} s vs {cd:.0f} s"
    which = [
        name for name, ident in (("baseline", base), ("current", cur)) if ident.get("saturated")
    ]
    if which:
        out["saturated"] = f"the {' and the '.join(which)} run's harness was saturated"
    return out


def differences(
    base: Mapping[str, Any], cur: Mapping[str, Any], allowed: Iterable[str] = ()
) -> tuple[list[str], list[str]]:
    """(what makes the runs not comparable, what differs but was allowed), one line each."""
    allow = set(allowed)
    found = _differing(base, cur)
    refused = [f"{k}: {v}" for k, v in found.items() if k not in allow]
    let_through = [f"{k}: {v} (allowed)" for k, v in found.items() if k in allow]
    return refused, let_through


def notes(base: Mapping[str, Any], cur: Mapping[str, Any]) -> list[str]:
    """Differences worth knowing that do not make the runs not comparable."""
    out = []
    if base.get("harness_version") != cur.get("harness_version"):
        out.append(f"harness version {base.get('harness_version')} vs {cur.get('harness_version')}")
    bt, ct = base.get("target") or {}, cur.get("target") or {}
    outside = not bt.get("embedded_engine") and not ct.get("embedded_engine")
    if outside and bt.get("url") != ct.get("url"):
        out.append(f"service URL {bt.get('url')} vs {ct.get('url')}")
    for name, ident in (("baseline", base), ("current", cur)):
        corpus = ident.get("corpus") or {}
        if "error" in corpus:
            out.append(f"the {name} run's corpus could not be identified: {corpus['error']}")
    return out
