"""Production on loopback, as the README's production section does it: `prefect server start` on PostgreSQL,
chidao's database on PostgreSQL (`chidao db upgrade`), a process work pool, `prefect deploy --all` from the
repository, the global concurrency limit on SMTP connections, two workers, a cascade triggered through the
API, approvals through the CLI (each says `chidao.letter.signed`, and the `dispatch` deployment's trigger starts
the sending), completion read through the Prefect client. Two workers at once send each message once, take
distinct register numbers and never hold more SMTP connections together than the limit; the runs carry names
that say what they did, the cascade's table artifact agrees with `chidao reports status`.

About two minutes; select it with `-m production`, leave it out with `-m "not production"`.
"""

from __future__ import annotations

import ast
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from sqlalchemy import select

from chidao import approval
from db.cascades import get_cascade, inputs_of, letter_content
from db.engine import engine_for, transaction
from db.letters import get_letter, list_letters
from db.models import LetterRecord, RecipientRecord
from mail.sink import MaildirHandler, copies, free_port, start_sink
from tests.conftest import LANGSON, POSTGRES, ROOT, _postgres_admin

pytestmark = [pytest.mark.production, pytest.mark.postgres]

BIN = Path(sys.executable).parent
DIRECTIVE = "examples/langson/directive-hsg-2023.yaml"  # relative: the deployment runs from CHIDAO_HOME
HIERARCHY = "examples/langson/hierarchy.yaml"
FINAL = {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"}
SMTP_LIMIT = 4  # `prefect gcl create smtp-connections --limit 4`, as the README says


class Slow(MaildirHandler):
    """A sink that takes its time, so two dispatchers are sending at the same moment."""

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        import asyncio

        await asyncio.sleep(0.01)
        return await super().handle_DATA(server, session, envelope)


class CountingProxy:
    """A TCP relay on loopback in front of the SMTP sink that counts the connections open at once: what the
    global concurrency limit is there to bound, seen from the mail server's side."""

    def __init__(self, target: int) -> None:
        self.target, self.open, self.most = target, 0, 0
        self._lock = threading.Lock()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            threading.Thread(target=self._relay, args=(client,), daemon=True).start()

    def _relay(self, client: socket.socket) -> None:
        with self._lock:
            self.open += 1
            self.most = max(self.most, self.open)
        try:
            with client, socket.create_connection(("127.0.0.1", self.target)) as server:
                back = threading.Thread(target=self._pump, args=(server, client), daemon=True)
                back.start()
                self._pump(client, server)
                back.join()
        except OSError:
            pass
        finally:
            with self._lock:
                self.open -= 1

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            with suppress(OSError):
                sink.shutdown(socket.SHUT_WR)

    def stop(self) -> None:
        self._listener.close()


@dataclass
class Production:
    api: str
    chidao_url: str
    env: dict[str, str]
    maildir: Path
    logs: Path
    proxy: CountingProxy
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def start(self, name: str, *command: str, env: dict[str, str] | None = None) -> None:
        """A long-running process in its own session, its output in logs/NAME.log."""
        with (self.logs / f"{name}.log").open("wb") as out:
            self.procs[name] = subprocess.Popen(
                command, env=env or self.env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )

    def run(self, *command: str, timeout: float = 60, env: dict[str, str] | None = None) -> str:
        """A command to completion with the production environment; its output, or a failure naming it."""
        done = subprocess.run(command, env=env or self.env, cwd=ROOT, capture_output=True, text=True, timeout=timeout)
        assert done.returncode == 0, f"{' '.join(command)} exited {done.returncode}:\n{done.stdout}\n{done.stderr}"
        return done.stdout

    def log(self, name: str) -> str:
        return (self.logs / f"{name}.log").read_text(encoding="utf-8", errors="replace")

    @contextmanager
    def diagnosed(self) -> Iterator[None]:
        """On failure, print the tail of every process's log (pytest shows it with the failure)."""
        try:
            yield
        except BaseException:
            for path in sorted(self.logs.glob("*.log")):
                print(f"===== {path.name} (last 80 lines) =====")
                print("\n".join(path.read_text(encoding="utf-8", errors="replace").splitlines()[-80:]))
            raise

    def stop(self) -> None:
        for proc in reversed(self.procs.values()):
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in reversed(self.procs.values()):
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:  # a worker may linger over its heartbeat; all its runs are over
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=15)


@contextmanager
def databases(*names: str) -> Iterator[dict[str, str]]:
    """Fresh PostgreSQL databases, dropped afterwards; skipped without PostgreSQL unless it is required."""
    import psycopg

    admin = _postgres_admin()
    if admin is None:
        pytest.skip(f"PostgreSQL not reachable at {POSTGRES}")
    assert isinstance(admin, psycopg.Connection)
    base = POSTGRES.replace("postgresql+psycopg://", "postgresql://").rsplit("/", 1)[0]
    made = {name: f"chidao_prod_{name}_{uuid.uuid4().hex[:8]}" for name in names}
    with admin:
        try:
            for db in made.values():
                admin.execute(f'CREATE DATABASE "{db}"')
            yield {name: f"{base}/{db}" for name, db in made.items()}
        finally:
            for db in made.values():
                admin.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')


def wait_healthy(api: str, server: subprocess.Popen[bytes], timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert server.poll() is None, "prefect server start exited"
        try:
            with urllib.request.urlopen(f"{api}/health", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.5)
    raise AssertionError(f"the Prefect server did not answer {api}/health within {timeout}s")


@pytest.fixture(scope="module")
def production(tmp_path_factory: pytest.TempPathFactory, signing_keys: Path) -> Iterator[Production]:
    """Server, database, work pool, deployments and two workers, all on loopback; stopped and dropped after."""
    tmp = tmp_path_factory.mktemp("production")
    with databases("prefect", "chidao") as urls:
        api = f"http://127.0.0.1:{free_port()}/api"
        smtp_port = free_port()
        proxy = CountingProxy(smtp_port)
        base = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "CHIDAO_"))}
        env = {
            **base,
            "PATH": f"{BIN}{os.pathsep}{base.get('PATH', '')}",
            "PREFECT_HOME": str(tmp / "prefect-home"),
            "PREFECT_API_URL": api,
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            "DO_NOT_TRACK": "1",
            "PREFECT_LOGGING_LEVEL": "INFO",  # the workers say which runs they took
            "PREFECT_WORKER_QUERY_SECONDS": "1",  # pick runs up at once (default 10 s)
            "PREFECT_WORKER_PREFETCH_SECONDS": "2",
            "CHIDAO_HOME": str(ROOT),
            "CHIDAO_DATABASE_URL": urls["chidao"].replace("postgresql://", "postgresql+psycopg://"),
            "CHIDAO_DATA_DIR": str(tmp / "data"),
            "CHIDAO_SMTP_URL": f"smtp://127.0.0.1:{proxy.port}",  # through the counting relay
            "CHIDAO_DISPATCH": "deployment",
            "CHIDAO_KEYS": str(signing_keys),  # the keys the approvers sign with (the session's trial PKI)
        }
        logs = tmp / "logs"
        logs.mkdir()
        stack = Production(api, env["CHIDAO_DATABASE_URL"], env, tmp / "mail", logs, proxy)
        sink = start_sink(stack.maildir, smtp_port, Slow(stack.maildir))
        try:
            with stack.diagnosed():
                server_env = {k: v for k, v in env.items() if k != "PREFECT_API_URL"}
                server_env["PREFECT_SERVER_DATABASE_CONNECTION_URL"] = urls["prefect"].replace(
                    "postgresql://", "postgresql+asyncpg://"
                )
                server_env["PREFECT_UI_ENABLED"] = "false"  # nobody looks at it here
                port = api.rsplit(":", 1)[1].split("/")[0]
                stack.start("server", str(BIN / "prefect"), "server", "start", "--host", "127.0.0.1", "--port", port,
                            env=server_env)  # fmt: skip
                stack.run(str(BIN / "chidao"), "db", "upgrade")  # while the server migrates its own database
                wait_healthy(api, stack.procs["server"])
                stack.run(str(BIN / "prefect"), "work-pool", "create", "chidao", "--type", "process")
                stack.run(str(BIN / "prefect"), "gcl", "create", "smtp-connections", "--limit", str(SMTP_LIMIT))
                for name in ("worker-1", "worker-2"):  # one run at a time each, so both take part
                    stack.start(name, str(BIN / "prefect"), "worker", "start", "--pool", "chidao", "--name", name,
                                "--limit", "1")  # fmt: skip
                # Without CHIDAO_HOME, so the pull step keeps `{{ $CHIDAO_HOME }}` for each worker to fill in (a value
                # set here would be baked into the deployments).
                deployer = {k: v for k, v in env.items() if k != "CHIDAO_HOME"}
                stack.run(str(BIN / "prefect"), "--no-prompt", "deploy", "--all", timeout=120, env=deployer)
            yield stack
        finally:
            stack.stop()
            proxy.stop()
            sink.stop()
            engine_for(stack.chidao_url).dispose()


@contextmanager
def prefect_client(api: str) -> Iterator[Any]:
    """The sync Prefect client on this server (whatever server the rest of the session uses)."""
    from prefect.client.orchestration import get_client
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with temporary_settings({PREFECT_API_URL: api}), get_client(sync_client=True) as client:
        yield client


def trigger(client: Any, deployment: str, parameters: dict[str, Any]) -> UUID:
    found = client.read_deployment_by_name(deployment)
    run_id: UUID = client.create_flow_run_from_deployment(found.id, parameters=parameters).id
    return run_id


def wait_completed(client: Any, run_ids: list[UUID], timeout: float = 120) -> None:
    """Every run in a final state within the time, and that state Completed."""
    deadline = time.monotonic() + timeout
    states: dict[UUID, str] = {}
    while time.monotonic() < deadline:
        states = {i: client.read_flow_run(i).state.type.value for i in run_ids}
        if all(s in FINAL for s in states.values()):
            break
        time.sleep(0.5)
    assert set(states.values()) == {"COMPLETED"}, states


def dispatch_counts(client: Any, run_id: UUID, timeout: float = 20) -> dict[str, int]:
    """What a dispatch run reported it did, read from its logs on the server (they arrive after its state)."""
    from prefect.client.schemas.filters import LogFilter, LogFilterFlowRunId

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for entry in client.read_logs(LogFilter(flow_run_id=LogFilterFlowRunId(any_=[run_id]))):
            if entry.message.startswith("dispatch: "):
                counts: dict[str, int] = ast.literal_eval(entry.message.removeprefix("dispatch: "))
                return counts
        time.sleep(0.5)
    raise AssertionError(f"dispatch run {run_id} logged no counts")


def dispatch_runs(client: Any) -> list[Any]:
    """Every run of the dispatch deployment so far (its trigger's, its schedule's, the ones asked for)."""
    from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterName

    runs: list[Any] = client.read_flow_runs(
        deployment_filter=DeploymentFilter(name=DeploymentFilterName(any_=["dispatch"]))
    )
    return runs


def triggered_for(client: Any, letter_ids: list[int], timeout: float = 60) -> list[UUID]:
    """The dispatch runs the deployment's trigger started for these letters' chidao.letter.signed events."""
    deadline = time.monotonic() + timeout
    while True:
        runs = {
            str(r.parameters.get("letter_id")): r.id for r in dispatch_runs(client) if r.parameters.get("letter_id")
        }
        if all(str(i) in runs for i in letter_ids):
            return [runs[str(i)] for i in letter_ids]
        assert time.monotonic() < deadline, f"no dispatch run was triggered for letters {letter_ids}: {sorted(runs)}"
        time.sleep(0.5)


def latest_artifact(client: Any, key: str) -> Any:
    """The newest version of an artifact: a table's rows, a markdown artifact's text."""
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey
    from prefect.client.schemas.sorting import ArtifactSort

    (artifact, *_) = client.read_artifacts(
        artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[key])), sort=ArtifactSort.CREATED_DESC, limit=1
    )
    data = artifact.data
    return json.loads(data) if artifact.type == "table" and isinstance(data, str) else data


def named_runs(client: Any, flow: str) -> list[Any]:
    from prefect.client.schemas.filters import FlowFilter, FlowFilterName

    runs: list[Any] = client.read_flow_runs(flow_filter=FlowFilter(name=FlowFilterName(any_=[flow])))
    return runs


def test_deploy_all_makes_a_deployment_of_every_flow_on_the_pool(production: Production) -> None:
    with production.diagnosed(), prefect_client(production.api) as client:
        deployments = {f"{d.name}": d for d in client.read_deployments()}
        assert set(deployments) == {"cascade", "dispatch", "remind", "approved"}
        assert {d.work_pool_name for d in deployments.values()} == {"chidao"}
        assert client.read_work_pool("chidao").type == "process"
        (schedule,) = deployments["remind"].schedules
        assert schedule.schedule.cron == "0 7 * * 1-5" and schedule.schedule.timezone == "Asia/Ho_Chi_Minh"
        assert deployments["cascade"].pull_steps == [
            {"prefect.deployments.steps.set_working_directory": {"directory": "{{ $CHIDAO_HOME }}"}}
        ]


def test_a_cascade_through_the_api_then_cli_approvals_dispatch_once_through_two_workers(
    production: Production, tmp_path: Path
) -> None:
    chidao = str(BIN / "chidao")
    with production.diagnosed(), prefect_client(production.api) as client:
        # The department's cascade, triggered through the API with the deployment's own example files.
        seed = trigger(client, "cascade/cascade", {"params": {"directive": DIRECTIVE, "hierarchy": HIERARCHY}})
        wait_completed(client, [seed])
        with transaction(production.chidao_url) as session:
            drafted = list_letters(session, cascade_id=1)
            assert [r.depth for r in drafted].count(0) == 1 and [r.depth for r in drafted].count(1) == 11
            assert {r.status for r in drafted} == {"draft"}
            root = next(r.id for r in drafted if r.depth == 0)
            districts = {r.unit_code: r.id for r in drafted if r.depth == 1}
            assert session.scalar(select(LetterRecord.id).where(LetterRecord.cascade_id != 1)) is None

        # Two more directives of the same department at once, signed on paper (numbered inside the flow run, one
        # on each worker), while its head signs the first through the CLI: three takers of one register.
        others = []
        for n in (2, 3):
            path = tmp_path / f"directive-{n}.yaml"
            text = (LANGSON / "directive-hsg-2023.yaml").read_text(encoding="utf-8")
            path.write_text(text.replace("\nsubject: ", f"\nsubject: (lần {n}) "), encoding="utf-8")
            others.append(path)
        paper = [
            trigger(
                client,
                "cascade/cascade",
                {
                    "params": {
                        "directive": str(path),
                        "hierarchy": HIERARCHY,
                        "approved_by": "stttt-langson-gd",
                        "artifacts": False,
                    }
                },
            )
            for path in others
        ]
        said = production.run(chidao, "approve", str(root), "--as", "stttt-langson-pgd-lan")
        assert "Announced to the Prefect server (chidao.letter.signed)" in said, said
        wait_completed(client, paper)

        # The other districts sign without sending, and two sweeps of everything due are queued at once, one for
        # each worker; meanwhile Cao Lộc's office signs its letters of cascades 1 and 2 from two shells at once.
        with transaction(production.chidao_url) as session:
            _, hierarchy = inputs_of(session, get_cascade(session, 1))
            for unit, letter in districts.items():
                if unit != "183.VHTT":
                    approval.approve(session, letter, approval.approvers_of(hierarchy, unit)[0])
            cao_loc_2 = list_letters(session, cascade_id=2, unit="183.VHTT")[0].id
        sweeps = [trigger(client, "dispatch/dispatch", {}) for _ in range(2)]
        approvals = [
            subprocess.Popen(
                [chidao, "approve", str(letter), "--as", "vhtt-caoloc-tp"],
                env=production.env,
                cwd=ROOT,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )
            for letter in (districts["183.VHTT"], cao_loc_2)
        ]
        outputs = [p.communicate(timeout=60)[0] for p in approvals]
        assert [p.returncode for p in approvals] == [0, 0], outputs
        triggered = triggered_for(client, [root, districts["183.VHTT"], cao_loc_2])
        wait_completed(client, triggered + sweeps)
        # Every run of the deployment (its 5-minute schedule may have added one) over, each telling its counts.
        every = [r.id for r in dispatch_runs(client) if r.state.type.value != "SCHEDULED"]
        wait_completed(client, every)
        sent_by_runs = sum(dispatch_counts(client, run)["sent"] for run in every)

        # The runs say what they did; the signatures' own runs ran in the shells that signed.
        with transaction(production.chidao_url) as session:
            reference = {i: letter_content(get_letter(session, i)).reference for i in (root, districts["183.VHTT"])}
        (opened,) = [r.name for r in named_runs(client, "cascade") if r.name.startswith("cascade 1:")]
        assert re.fullmatch(r"cascade 1: draft /STTTT-\S+ → 18 units", opened), opened  # numbered when signed
        (on_paper,) = [r.name for r in named_runs(client, "cascade") if r.name.startswith("cascade 2:")]
        assert re.fullmatch(r"cascade 2: 0[123]/STTTT-\S+ → 18 units", on_paper), on_paper
        signed = {r.name: r.state.type.value for r in named_runs(client, "approved")}
        assert signed[f"approved {reference[root]} by stttt-langson-pgd-lan"] == "COMPLETED", signed
        assert signed[f"approved {reference[districts['183.VHTT']]} by vhtt-caoloc-tp"] == "COMPLETED", signed
        names = {r.id: r.name for r in named_runs(client, "dispatch")}
        assert names[triggered[0]] == f"dispatch {reference[root]} of 20.STTTT"
        assert names[triggered[1]] == f"dispatch {reference[districts['183.VHTT']]} of 183.VHTT"

        # The cascade's table artifact, as the last step left it, says what `chidao reports status` says.
        table = latest_artifact(client, "cascade-1")
        status = json.loads(production.run(chidao, "reports", "status", "1", "--json"))
        assert [{k: row[k] for k in level} for row, level in zip(table, status["levels"], strict=True)] == status[
            "levels"
        ]
        assert [row["letters_signed"] for row in table][:2] == [1, 11]
        # A signed letter's artifact holds the letter as signed, its number in it.
        letter = latest_artifact(client, f"letter-1-{districts['183.VHTT']}")
        assert reference[districts["183.VHTT"]].split("/")[0] in letter and "Số:" in letter

        # The reminders' sweep, asked for a day, is named for it and completes.
        sweep = trigger(client, "remind/remind", {"at": "2024-02-19T02:00:00+00:00"})
        wait_completed(client, [sweep])
        assert client.read_flow_run(sweep).name == "remind 19/02/2024"

    with transaction(production.chidao_url) as session:
        numbered = session.execute(
            select(LetterRecord.unit_code, LetterRecord.year, LetterRecord.number).where(
                LetterRecord.number.is_not(None)
            )
        ).all()
        outbox = session.scalars(
            select(RecipientRecord).join(LetterRecord).where(LetterRecord.number.is_not(None))
        ).all()
        assert len(outbox) > 250 and {r.status for r in outbox} == {"sent"}
        expected = sorted((r.email, str(r.message_id)) for r in outbox)
    # Registers: no number taken twice, none skipped, though taken by two workers and two shells at once.
    assert len(numbered) == len(set(numbered)) == 3 + 11 + 1
    assert sorted(n for unit, _, n in numbered if unit == "20.STTTT") == [1, 2, 3]
    assert sorted(n for unit, _, n in numbered if unit == "183.VHTT") == [1, 2]
    # Mail: every recipient of every signed letter got it, once, though two workers were sending.
    received = copies(production.maildir)  # (recipient, Message-ID) of each copy: a letter is one message to all
    assert sorted(received) == expected
    assert sent_by_runs == len(expected)
    # Two workers sending at once never held more SMTP connections together than the limit allows.
    assert 2 <= production.proxy.most <= SMTP_LIMIT, production.proxy.most
    # Both workers ran flow runs; the record of cascade 1 holds and names the runs that made it.
    for worker in ("worker-1", "worker-2"):
        assert "submitting flow run" in production.log(worker), worker
    production.run(chidao, "replay", "1", "--verify")


def test_the_server_schedules_the_remind_runs(production: Production) -> None:
    """remind's cron on the server: its next runs are scheduled (SQLAlchemy 2.1 broke Prefect's scheduler)."""
    from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterName

    with prefect_client(production.api) as client:
        deadline = time.monotonic() + 2  # the scheduler has had the whole module's time already
        while True:
            found = client.read_flow_runs(
                deployment_filter=DeploymentFilter(name=DeploymentFilterName(any_=["remind"]))
            )
            runs = [r for r in found if r.auto_scheduled]  # the cron's, not the sweep asked for above
            if runs or time.monotonic() > deadline:
                break
            time.sleep(0.5)
    assert runs and {r.state.type.value for r in runs} == {"SCHEDULED"}
