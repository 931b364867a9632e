"""The client checks: one per scenario and rule it exists to check (``scenarios.py``).

Run with the plugin: ``pytest -p harness.clientgrade.plugin --pyargs harness.clientgrade
--asrx-client "COMMAND"`` (``asrx grade-client`` does). A verdict becomes a pytest outcome:
OK passes, NON-STRICT passes with the finding recorded (fails under ``--asrx-strict``),
FAILED fails, not graded skips with the reason, and a scenario that cannot be graded is an
ERROR of each of its checks.
"""

from __future__ import annotations

import pytest

from harness.clientgrade.plugin import client_settings, loaded
from harness.clientgrade.verdict import ScenarioGrade, Verdict
from harness.conformance.grading import Grader


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "client_check" not in metafunc.fixturenames:
        return
    if not loaded(metafunc.config):
        raise pytest.UsageError(
            "client checks need their plugin: pytest -p harness.clientgrade.plugin ..."
        )
    params = [
        pytest.param((s.name, rule), id=f"{s.name}-{rule}", marks=pytest.mark.asrx_rule(rule))
        for s in client_settings(metafunc.config).scenarios
        for rule in s.rules
    ]
    metafunc.parametrize("client_check", params)


@pytest.fixture
def client_verdict(
    client_check: tuple[str, str],
    asrx_client_grades: dict[str, ScenarioGrade],
    request: pytest.FixtureRequest,
) -> Verdict:
    """The verdict of this check; an ERROR when its scenario cannot be graded."""
    scenario, rule = client_check
    grade = asrx_client_grades[scenario]
    request.node.user_properties.append(("asrx-client-scenario", scenario))
    request.node.user_properties.append(("asrx-client-seen", grade.seen))
    if grade.error:
        pytest.fail(f"cannot grade the {scenario} scenario: {grade.error}", pytrace=False)
    return grade.verdicts[rule]


def test_client(client_verdict: Verdict, request: pytest.FixtureRequest) -> None:
    if client_verdict.not_graded:
        pytest.skip(f"not graded: {client_verdict.not_graded}")
    strict = client_settings(request.config).strict
    # Keys were removed from everything a verdict says before it got here.
    Grader(request.node, strict, None).check(
        client_verdict.findings, context="; ".join(client_verdict.context)
    )
