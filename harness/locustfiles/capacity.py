"""Find the concurrency limit: a step ramp of asrx users that stops at the first SLO breach.

    asrx load --capacity --headless --step-start 2 --step-users 2 \\
        --step-hold 30 --step-max 40 --slo-p95-first-partial-ms 1000
    asrx load --capacity --headless --asrx-engine pocketsphinx     # embedded server

Each step holds its user count for ``--step-hold`` seconds and is judged on that step's
sessions only (``harness.load.capacity``). The highest step that held goes to one log
line, the summary JSON (``capacity.highest_held_users``) and the HTML report's step table.
``-u``/``-r`` are ignored: the shape sets the users.
"""

from __future__ import annotations

from typing import Any

from locust import LoadTestShape, events

import harness.load.gate  # noqa: F401  (SLO gate, reports, web UI tab, exit code)
from harness.errors import UsageError
from harness.load import capacity
from harness.load.abort import fail_usage
from harness.load.options import slo_from_options
from harness.load.runstate import run_stats
from harness.load.user import ReplayUser


@events.init_command_line_parser.add_listener
def add_step_options(parser: Any) -> None:
    group = parser.add_argument_group("asrx capacity (step ramp)")
    group.add_argument(
        "--step-start",
        env_var="ASRX_STEP_START",
        type=int,
        default=capacity.STEP_START,
        help="users in the first step (default 1)",
    )
    group.add_argument(
        "--step-users",
        env_var="ASRX_STEP_USERS",
        type=int,
        default=capacity.STEP_USERS,
        help="users added per step (default 1)",
    )
    group.add_argument(
        "--step-hold",
        env_var="ASRX_STEP_HOLD",
        type=float,
        default=capacity.STEP_HOLD_S,
        help=f"seconds each step holds (default {capacity.STEP_HOLD_S:g})",
    )
    group.add_argument(
        "--step-max",
        env_var="ASRX_STEP_MAX",
        type=int,
        default=capacity.STEP_MAX,
        help=f"users of the last step (default {capacity.STEP_MAX})",
    )
    group.add_argument(
        "--step-spawn-rate",
        env_var="ASRX_STEP_SPAWN_RATE",
        type=float,
        default=None,
        help="users started per second (default: a step in 1 s)",
    )


def plan_from_options(options: Any) -> capacity.StepPlan:
    return capacity.StepPlan(
        start=options.step_start,
        step=options.step_users,
        hold_s=options.step_hold,
        max_users=options.step_max,
        spawn_rate=options.step_spawn_rate,
    )


@events.init.add_listener
def check_plan(environment: Any, **_: Any) -> None:
    if environment.parsed_options is not None:
        try:
            plan_from_options(environment.parsed_options)
        except UsageError as exc:
            fail_usage(environment, str(exc))


class StepRampShape(LoadTestShape):
    """Locust's shape hook around ``harness.load.capacity.StepRamp``."""

    ramp: capacity.StepRamp | None = None

    def tick(self) -> tuple[int, float] | None:
        if self.ramp is None:
            assert self.runner is not None  # set by Locust before the first tick
            env = self.runner.environment
            state = getattr(env, "asrx_gate", None)
            objectives = state.slo if state is not None else slo_from_options(env.parsed_options)
            self.ramp = capacity.StepRamp(
                plan_from_options(env.parsed_options), objectives, stats=lambda: run_stats(env)
            )
            env.asrx_capacity = self.ramp  # type: ignore[attr-defined]  # read by the gate
        return self.ramp.tick()


__all__ = ["ReplayUser", "StepRampShape"]
