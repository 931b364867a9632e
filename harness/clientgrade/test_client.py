"""The client checks: one per scenario and rule it exists to check (``scenarios.py``).

Run with the plugin: ``pytest -p harness.clientgrade.plugin --pyargs harness.clientgrade
--asrx-client "COMMAND"`` (``asrx grade-client`` does). A verdict becomes a pytest outcome:
OK passes, NON-STRICT passes with the finding recorded (fails under ``--asrx-strict``),
FAILED fails, not graded is the suite's NOT JUDGED (a skip with the reason), and a scenario
that cannot be graded is an ERROR of each of its checks (the suite's "could not test").
"""

from __future__ import annotations

import pytest

from harness.clientgrade.plugin import client_settings, loaded
from harness.clientgrade.verdict import ScenarioGrade
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
def client_grade(
    client_check: tuple[str, str],
    asrx_client_grades: dict[str, ScenarioGrade],
    request: pytest.FixtureRequest,
) -> ScenarioGrade:
    """The check's scenario graded; a scenario that cannot be graded ends the check in its
    setup, as an ERROR (JUnit ``<error>``), not a failure."""
    scenario, _ = client_check
    grade = asrx_client_grades[scenario]
    request.node.user_properties.append(("asrx-client-scenario", scenario))
    request.node.user_properties.append(("asrx-client-seen", grade.seen))
    if grade.error:
        strict = client_settings(request.config).strict
        Grader(request.node, strict).cannot_test(f"the {scenario} scenario: {grade.error}")
    return grade


def test_client(
    client_check: tuple[str, str], client_grade: ScenarioGrade, request: pytest.FixtureRequest
) -> None:
    _, rule = client_check
    grader = Grader(request.node, client_settings(request.config).strict)
    verdict = client_grade.verdicts[rule]
    if verdict.not_graded:
        grader.not_judged(verdict.not_graded)
    # Keys were removed from everything a verdict says before it got here.
    grader.check(verdict.findings, context="; ".join(verdict.context))
