"""The asrx conformance suite: ``pytest --pyargs harness.conformance`` grades a server against
docs/protocol.md.

Layout (one job per file)::

    plugin.py      the pytest plugin (entry point ``asrx``): options, hooks, redaction,
                   the per-check log, the reports and the console summary
    fixtures.py    the fixtures: settings, the embedded server, the target (probed once),
                   the TLS target, the corpus, the ``Suite``, a ``Grader`` per check
    state.py       what the plugin keeps for a run; the one usage-error path
    settings.py    the ``--asrx-*`` options (env ``ASRX_*``) as one frozen ``SuiteSettings``
    suite.py       ``Suite``: what a check needs, and the session runs checks share (timed)
    sessions.py    whole sessions (``SessionRun``) and what a check may conclude from one
    probes.py      hand-driven sessions: a bad key, a bad text frame, an abrupt disconnect
    grading.py     findings -> OK / NON-STRICT / KNOWN / FAILED, one defect one failure
    known.py       the known-deviations file (``--asrx-known``)
    capped.py      a bounded read of a file the user names
    results.py     the run's result: grades, verdict, durations, known-deviation status
    report.py      the JSON result and the self-contained HTML report
    test_*.py      the checks, one module per concern of docs/protocol.md

Without ``--asrx-url`` the suite starts the reference server (``harness.server``, synthetic
engine unless ``--asrx-engine`` says otherwise) once per run on a free loopback port.
"""
