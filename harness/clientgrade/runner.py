"""Running a client once per scenario against its own reference server.

Each scenario starts ``EmbeddedServer`` (synthetic engine, the scenario's faults, hazards
and delay, ``--record-clients`` into the run's folder), runs the client command with the
server's URL, a key and the audio filled in, bounded in time, then stops the server so its
records are complete, and reads them back. Scenarios share nothing, so ``jobs`` of them may
run at once.
"""

from __future__ import annotations

import os
import secrets
import shlex
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path

from harness.clientgrade.audio import GradeAudio
from harness.clientgrade.process import ClientProcess, run_client
from harness.clientgrade.scenarios import Scenario
from harness.errors import HarnessError
from harness.redaction import redact
from harness.server.clientlog import ClientRecords, read_log
from harness.server.embedded import EmbeddedServer

#: Placeholders in the client command, and the environment variables with the same values.
PLACEHOLDERS = {
    "{url}": "ASRX_URL",
    "{apikey}": "ASRX_APIKEY",
    "{audio}": "ASRX_AUDIO",
    "{audio_wav}": "ASRX_AUDIO_WAV",
}
#: Default seconds a client may take beyond its audio's real-time duration.
DEFAULT_GRACE_S = 30.0
#: The server keeps a silent client's session this long past the bound: the client must
#: give up by itself, never be rescued by the server's idle timeout.
IDLE_MARGIN_S = 60.0


@dataclass(frozen=True)
class GradeSetup:
    command: tuple[str, ...]
    audio: GradeAudio
    folder: Path
    grace_s: float = DEFAULT_GRACE_S
    profile: str | None = None

    def bound_s(self, scenario: Scenario) -> float:
        """How long the client may run in ``scenario``."""
        return self.audio.duration_s + scenario.delay_ms / 1000 + self.grace_s

    @property
    def shown_command(self) -> str:
        return shown_command(self.command)


@dataclass
class ScenarioRun:
    scenario: Scenario
    process: ClientProcess | None
    records: ClientRecords
    #: Why the scenario could not be run at all (the server did not start...).
    error: str = ""
    #: Keys given to the client: kept out of everything shown.
    secrets: tuple[str, ...] = field(default=(), repr=False)

    def redact(self, text: str) -> str:
        for secret in self.secrets:
            text = redact(text, secret)
        return text


def shown_command(command: Sequence[str]) -> str:
    """The command as a shell would take it, its placeholders left unquoted."""
    return " ".join(arg if arg in PLACEHOLDERS else shlex.quote(arg) for arg in command)


def fill(command: Sequence[str], values: Mapping[str, str]) -> list[str]:
    """The command with each ``{placeholder}`` replaced (plain text replacement, so braces
    elsewhere in an argument, JSON for example, stay as they are)."""
    out = []
    for arg in command:
        for placeholder, value in values.items():
            arg = arg.replace(placeholder, value)
        out.append(arg)
    return out


def client_env(values: Mapping[str, str]) -> dict[str, str]:
    """The grader's environment without the user's own ``ASRX_*`` settings (a real key
    must not reach the client under test), plus this scenario's values."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ASRX_")}
    if corpora := os.environ.get("ASRX_CORPORA"):
        env["ASRX_CORPORA"] = corpora
    env.update({PLACEHOLDERS[p]: v for p, v in values.items()})
    # A killed Python client would lose what it buffered: its output is evidence.
    env.setdefault("PYTHONUNBUFFERED", "1")
    return env


def run_scenario(setup: GradeSetup, scenario: Scenario) -> ScenarioRun:
    key = "grade-" + secrets.token_hex(12)
    given = "refused-" + secrets.token_hex(12) if scenario.wrong_key else key
    log = setup.folder / f"{scenario.name}.jsonl"
    bound = setup.bound_s(scenario)
    extra = ["--record-clients", str(log), "--idle-timeout", f"{bound + IDLE_MARGIN_S:g}"]
    extra += scenario.server_args()
    if setup.profile:
        extra += ["--profile", setup.profile]
    server = EmbeddedServer(
        engine="synthetic",
        apikeys=(key,),
        faults=scenario.faults,
        delay_ms=scenario.delay_ms,
        extra_args=extra,
    )
    keys = (key, given)
    try:
        server.start()
    except HarnessError as exc:
        return ScenarioRun(
            scenario, None, ClientRecords([], []), f"server did not start: {exc}", keys
        )
    try:
        values = {
            "{url}": server.url,
            "{apikey}": given,
            "{audio}": str(setup.audio.pcm_path),
            "{audio_wav}": str(setup.audio.wav_path),
        }
        process = run_client(fill(setup.command, values), client_env(values), bound)
    finally:
        server.close()
    run = ScenarioRun(scenario, process, ClientRecords([], []), secrets=keys)
    # The client's output beside the server's records: the run's evidence, keys removed.
    (setup.folder / f"{scenario.name}.stdout.txt").write_text(run.redact(process.stdout))
    (setup.folder / f"{scenario.name}.stderr.txt").write_text(run.redact(process.stderr_tail))
    if log.exists():
        run.records = read_log(log)
    else:
        run.error = "the server wrote no records"
    return run


def run_all(
    setup: GradeSetup,
    scenarios: Sequence[Scenario],
    jobs: int = 1,
    on_done: Callable[[ScenarioRun], None] = lambda run: None,
) -> dict[str, ScenarioRun]:
    """Every scenario, ``jobs`` at a time; results by scenario name, in scenario order.
    ``on_done`` is called in the caller's thread as each one ends."""
    done: dict[str, ScenarioRun] = {}
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        for future in as_completed([pool.submit(run_scenario, setup, s) for s in scenarios]):
            run = future.result()
            done[run.scenario.name] = run
            on_done(run)
    return {s.name: done[s.name] for s in scenarios}
