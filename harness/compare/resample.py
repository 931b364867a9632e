"""How uncertain a run's figure is, from its own samples: a block bootstrap over time.

Latencies within a load run are not independent samples: the sentences of one session
share its connection and its server worker, and the sessions of one moment share the
server's and the machine's load (a burst of garbage collection, a noisy neighbour). A
bootstrap that draws single samples, or a rank test such as Mann-Whitney, treats them as
independent and gives intervals too narrow: a gate built on it cries wolf. So the
resampling unit is a stretch of time: the summary holds one histogram per time-series
interval, and a replicate of the run is drawn as a *moving-block bootstrap* (Künsch 1989)
of those intervals, blocks of consecutive intervals chosen with replacement (circularly)
until the replicate is as long as the run, their histograms added bucket by bucket. A
block spans at least ``MIN_BLOCK_S`` seconds and ``n ** (1/3)`` intervals (the usual
order for variance estimation), so a session's samples and a slow moment stay together.

A run with fewer than ``MIN_WINDOWS`` intervals (or whose intervals do not add up to its
histogram, after a reset in the web UI) is resampled by session instead: ``n`` draws
from its histogram, ``n`` the number of completed sessions rather than of samples, so
sentences of one session are not counted as independent evidence. Nothing within one run
measures the run-to-run noise of a shared machine: the tolerances are for that
(``harness.compare.tolerance``), and docs/compare.md gives the false-alarm rate measured.

Only numpy is needed: ``scipy.stats.bootstrap`` resamples raw samples, not histograms,
and has no block resampling.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np

from harness.compare.record import RunRecord, Sparse, bucket_values

#: The percentiles compared.
PERCENTILES = (50, 95, 99)
DEFAULT_RESAMPLES = 2000
#: Fewer intervals than this: resampled by session.
MIN_WINDOWS = 8
#: More intervals than this are merged, consecutive ones together (bounds the work).
MAX_WINDOWS = 240
#: A block of intervals spans at least this long (a session, a slow moment).
MIN_BLOCK_S = 8.0
#: The windows must hold at least this share of the run's samples to stand for it.
MIN_WINDOW_SHARE = 0.9
#: Values beyond a percentile needed to resample it (see ``resolved``).
MIN_TAIL = 10
#: Replicates computed at once (memory: this many times the buckets of a metric).
_CHUNK = 256


@dataclass(frozen=True)
class Blocks:
    """A run's intervals grouped and weighted for each replicate."""

    #: Interval (time-series row) -> group.
    group: np.ndarray
    #: (replicates, groups): how often each group is in each replicate.
    weights: np.ndarray
    #: How the run was resampled, for the reader.
    method: str
    #: Blocks in a replicate, less one (the interval's degrees of freedom).
    df: float


def block_weights(rng: np.random.Generator, groups: int, block: int, resamples: int) -> np.ndarray:
    """Circular moving-block bootstrap: (resamples, groups) counts of each group drawn."""
    per_replicate = math.ceil(groups / block)
    starts = rng.integers(0, groups, size=(resamples, per_replicate))
    drawn = (starts[:, :, None] + np.arange(block)) % groups
    drawn = drawn.reshape(resamples, per_replicate * block)[:, :groups]
    offsets = np.arange(resamples)[:, None] * groups
    counts = np.bincount((drawn + offsets).ravel(), minlength=resamples * groups)
    return counts.reshape(resamples, groups).astype(float)


def plan_blocks(run: RunRecord, rng: np.random.Generator, resamples: int) -> Blocks | None:
    """The block resampling of ``run``, or None when it has too few intervals."""
    rows = len(run.sessions)
    if rows < MIN_WINDOWS or not run.window_s:
        return None
    merge = math.ceil(rows / MAX_WINDOWS)
    group = np.arange(rows) // merge
    groups = int(group[-1]) + 1
    span = run.window_s * merge
    block = max(2, round(groups ** (1 / 3)), math.ceil(MIN_BLOCK_S / span))
    block = min(block, max(groups // 4, 1))
    weights = block_weights(rng, groups, block, resamples)
    method = (
        f"block bootstrap over {groups} intervals of {span:.3g} s, blocks of {block} "
        f"({block * span:.3g} s)"
    )
    return Blocks(group, weights, method, math.ceil(groups / block) - 1.0)


def percentiles_of(counts: np.ndarray, values: np.ndarray, ps: Sequence[float]) -> np.ndarray:
    """Per row of bucket ``counts``: the percentiles ``ps``, as ``LatencyHistogram`` gives
    them (hdrh's target count, the bucket's highest value); NaN for an empty row."""
    counts = np.atleast_2d(counts)
    cumulative = np.cumsum(counts, axis=1)
    total = cumulative[:, -1]
    out = np.full((counts.shape[0], len(ps)), np.nan)
    for j, p in enumerate(ps):
        target = np.maximum(np.floor(p * total / 100.0 + 0.5), 1)
        index = (cumulative < target[:, None]).sum(axis=1)
        out[:, j] = values[np.minimum(index, len(values) - 1)]
    out[total <= 0] = np.nan
    return out


def _dense(sparse: Sequence[Sparse], columns: np.ndarray) -> np.ndarray:
    matrix = np.zeros((len(sparse), len(columns)))
    for row, hist in enumerate(sparse):
        matrix[row, np.searchsorted(columns, hist.index)] = hist.counts
    return matrix


@dataclass(frozen=True)
class Figures:
    """One metric of one run: its percentiles and their bootstrap replicates."""

    #: Point values (the whole run's histogram), one per percentile.
    point: np.ndarray
    #: (replicates, percentiles).
    replicates: np.ndarray
    samples: int
    method: str
    #: Independent units the replicates come from, less one (blocks, sessions, ...).
    df: float


def metric_figures(
    run: RunRecord,
    name: str,
    blocks: Blocks | None,
    rng: np.random.Generator,
    resamples: int,
    ps: Sequence[float] = PERCENTILES,
) -> Figures | None:
    """The percentiles of metric ``name`` in ``run`` with their replicates (None: no samples)."""
    whole = run.histograms.get(name)
    if whole is None or whole.total == 0:
        return None
    windows = run.windows.get(name) or []
    columns = np.union1d(whole.index, np.concatenate([w.index for w in windows] or [whole.index]))
    values = bucket_values(columns)
    point = percentiles_of(_dense([whole], columns), values, ps)[0]
    in_windows = sum(w.total for w in windows)
    if blocks is not None and len(windows) and in_windows >= MIN_WINDOW_SHARE * whole.total:
        per_row = _dense(windows, columns)
        grouped = np.zeros((int(blocks.group[-1]) + 1, len(columns)))
        np.add.at(grouped, blocks.group, per_row)
        reps = np.vstack(
            [
                percentiles_of(blocks.weights[i : i + _CHUNK] @ grouped, values, ps)
                for i in range(0, resamples, _CHUNK)
            ]
        )
        return Figures(point, reps, whole.total, blocks.method, blocks.df)
    draws = max(1, min(whole.total, run.completed or whole.total))
    probabilities = _dense([whole], columns)[0] / whole.total
    reps = np.vstack(
        [
            percentiles_of(
                rng.multinomial(draws, probabilities, size=min(_CHUNK, resamples - i)),
                values,
                ps,
            )
            for i in range(0, resamples, _CHUNK)
        ]
    )
    method = f"bootstrap by session ({draws} independent draws; too few intervals for blocks)"
    return Figures(point, reps, whole.total, method, draws - 1.0)


def error_ratio_figures(
    run: RunRecord, blocks: Blocks | None, rng: np.random.Generator, resamples: int
) -> Figures | None:
    """Failed sessions over judged ones, with replicates (None: no session judged)."""
    judged = run.completed + run.failed
    if not judged:
        return None
    point = np.array([run.failed / judged])
    table = np.array(run.sessions, dtype=float).reshape(-1, 2)
    if blocks is not None and table[:, 1].sum() == run.failed and len(table) == len(blocks.group):
        grouped = np.zeros((int(blocks.group[-1]) + 1, 2))
        np.add.at(grouped, blocks.group, table)
        ok, failed = (blocks.weights @ grouped).T
        with np.errstate(invalid="ignore", divide="ignore"):
            reps = np.where(ok + failed > 0, failed / (ok + failed), np.nan)
        return Figures(point, reps[:, None], judged, blocks.method, blocks.df)
    reps = rng.binomial(judged, point[0], size=resamples) / judged
    method = f"binomial bootstrap over {judged} sessions"
    return Figures(point, reps[:, None], judged, method, judged - 1.0)


def paired_rate_replicates(
    errors: np.ndarray, units: np.ndarray, rng: np.random.Generator, resamples: int
) -> np.ndarray:
    """Pooled error rates (errors/units) of both runs over utterances drawn with
    replacement, the same draw for both: ``errors``, ``units`` are (2, utterances)."""
    count = errors.shape[1]
    draw = rng.integers(0, count, size=(resamples, count))
    e = errors[:, draw].sum(axis=2)
    u = units[:, draw].sum(axis=2)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(u > 0, e / u, np.nan).T


def t_quantile(p: float, df: float) -> float:
    """Student's t quantile, Abramowitz & Stegun 26.7.5 (within 0.2 % from 3 degrees of
    freedom on; fewer are taken as 3): the only one the comparison needs, so no scipy."""
    z = NormalDist().inv_cdf(p)
    v = max(df, 3.0)
    g = (
        (z**3 + z) / 4,
        (5 * z**5 + 16 * z**3 + 3 * z) / 96,
        (3 * z**7 + 19 * z**5 + 17 * z**3 - 15 * z) / 384,
        (79 * z**9 + 776 * z**7 + 1482 * z**5 - 1920 * z**3 - 945 * z) / 92160,
    )
    return z + sum(gi / v ** (i + 1) for i, gi in enumerate(g))


def resolved(samples: int, percentile: float) -> bool:
    """Whether ``samples`` hold enough values beyond ``percentile`` to resample it: the
    bootstrap of an extreme percentile (the maximum, at worst) cannot go beyond the
    largest value seen, and its interval is too narrow."""
    return samples * (1.0 - percentile / 100.0) >= MIN_TAIL


def interval(
    change: float, replicates: np.ndarray, confidence: float, df: float
) -> tuple[float, float] | None:
    """``change`` plus or minus Student's t (``df`` degrees of freedom) times the
    replicates' standard deviation; None when most replicates are empty.

    A run holds few independent stretches of time (``df`` is the number of blocks less
    one), and a bootstrap's spread from few units is too small: the t quantile widens it as
    batch means do.
    """
    finite = replicates[np.isfinite(replicates)]
    if finite.size < 0.9 * replicates.size or finite.size < 2:
        return None
    half = t_quantile(0.5 + confidence / 2.0, df) * float(np.std(finite, ddof=1))
    return change - half, change + half
