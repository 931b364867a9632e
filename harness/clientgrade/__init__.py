"""Client grading: the reference server as a conformance kit for asrx *clients*
(``asrx grade-client``, docs/grade-client.md).

Layout::

    scenarios.py    the scenarios: the server behaviour each sets up, the rules it checks
    audio.py        the corpus utterance a client streams, as raw PCM and as WAV
    process.py      running the client command: a process group, bounded in time and output
    runner.py       one scenario: its own reference server (``--record-clients``), the
                    client with {url}, {apikey}, {audio} filled in, the records read back
    facts.py        measurements from a run: pacing, gaps, how the client left, its output
    checks.py       one function per client rule (``C.*``): facts in, a ``Verdict`` out
    verdict.py      ``Verdict`` (OK / NON-STRICT / FAILED / not graded) and options
    grading.py      the rules of each scenario in session order, each defect counted once
    plugin.py       the pytest plugin (``-p harness.clientgrade.plugin``): options, the run
    test_client.py  the checks, one per scenario and rule, for JUnit XML and the HTML report
"""
