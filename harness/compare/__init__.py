"""Release gates against a baseline: did this load run get slower than an earlier one?

Two load summaries (``asrx-summary/2`` with their histograms, written by every load run)
are compared metric by metric, with the uncertainty of each change taken from the runs'
own samples, and judged *regressed*, *improved*, *within tolerance*, *no detectable
change* or *not comparable* (docs/compare.md).

Layout (one job per file)::

    identity.py    what a run was (corpus, target, users, duration, ...), written into
                   the summary, and which differences make two runs not comparable
    record.py      reading a summary back: one line for a file that is not one
    resample.py    the block bootstrap over the runs' time windows (numpy only)
    tolerance.py   how much a figure may change before it counts: options, [compare]
    verdicts.py    a metric's figures judged: regressed, improved, within tolerance...
    judge.py       two runs compared: every metric, the exit code, the one-line headline
    page.py        the self-contained HTML comparison (and its section in the report)
    history.py     a directory of past summaries as a p50/p95 trend across runs
    gate.py        a load run against a baseline: the check before, the verdict after

``harness.cli.compare`` is ``asrx compare``; ``harness.load.baseline`` runs the same
comparison at the end of a load run (``--asrx-baseline``, ``--asrx-history``).
"""
