"""The asrx conformance suite: ``pytest harness/conformance`` grades a server against PROTOCOL.md.

Layout::

    plugin.py      the pytest plugin (entry point ``asrx``): --asrx-* options, fixtures,
                   redaction of the apikey, the HTML report hook
    settings.py    the options turned into one frozen ``SuiteSettings``
    grading.py     findings -> pass / NON-STRICT / fail, with the rule, expected and seen
    probes.py      the I/O the checks need: whole sessions, raw sessions, the corpus run
    report.py      the self-contained HTML report
    test_*.py      the checks, one module per PROTOCOL.md concern

Without ``--asrx-url`` the suite starts the reference server (``harness.server``, synthetic
engine unless ``--asrx-engine`` says otherwise) once per run on a free loopback port.
"""
