"""The cascade flow run for real (Prefect test harness) on SQLite and PostgreSQL."""

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import DatabaseError

from db.cascades import letter_content
from db.engine import transaction
from db.events import GENESIS, event_hash, history
from db.letters import list_letters
from db.models import Cascade, Event, HierarchySnapshot, LetterRecord, RecipientRecord
from flows.cascade import CascadeParams, cascade
from tests.conftest import DATA

pytestmark = pytest.mark.usefixtures("prefect_server")


def run(directive: Path, hierarchy: Path = DATA / "mini.yaml", **kw: object):  # type: ignore[no-untyped-def]
    return cascade(CascadeParams(directive=str(directive), hierarchy=str(hierarchy), **kw))


def test_flow_drafts_every_level_and_records_events(chidao_env: str, mini_directive: Path) -> None:
    summary = run(mini_directive, batch_size=1)
    assert summary.letters_per_level == [1, 2]
    assert summary.letters_created == 3 and summary.created
    with transaction(chidao_env) as session:
        letters = list_letters(session, cascade_id=summary.cascade_id)
        assert [(row.unit_code, row.depth, row.status) for row in letters] == [
            ("90.S", 0, "draft"),
            ("901.P", 1, "draft"),
            ("902.P", 1, "draft"),
        ]
        root = letters[0]
        assert {row.parent_id for row in letters[1:]} == {root.id}
        recipients = session.scalars(
            select(RecipientRecord.unit_code)
            .where(RecipientRecord.letter_id == root.id)
            .order_by(RecipientRecord.position)
        ).all()
        assert recipients == ["90.DAI", "90.BAO", "90.BD", "90.VT", "901.P", "902.P"]
        events = history(session, summary.cascade_id)
        assert [e.kind for e in events] == ["cascade.started"] + ["letter.drafted"] * 3
        assert all(e.flow_run_id for e in events)
        prev = GENESIS
        for event in events:
            assert event.prev_hash == prev and event.hash == event_hash(prev, event)
            prev = event.hash


def test_rerunning_a_cascade_creates_nothing_twice(chidao_env: str, mini_directive: Path) -> None:
    first = run(mini_directive)
    again = run(mini_directive)
    assert again.cascade_id == first.cascade_id
    assert not again.created and again.letters_created == 0
    assert again.letters_per_level == first.letters_per_level
    with transaction(chidao_env) as session:
        assert session.scalar(select(func.count()).select_from(Cascade)) == 1
        assert session.scalar(select(func.count()).select_from(LetterRecord)) == 3
        assert session.scalar(select(func.count()).select_from(HierarchySnapshot)) == 1


def test_a_cascade_keeps_the_hierarchy_it_started_with(chidao_env: str, mini_directive: Path, tmp_path: Path) -> None:
    summary = run(mini_directive)
    changed = tmp_path / "changed.yaml"
    changed.write_text(
        (DATA / "mini.yaml").read_text(encoding="utf-8").replace("Phạm Văn Ba", "Vũ Văn Năm"), encoding="utf-8"
    )
    later = run(mini_directive, hierarchy=changed)
    assert later.cascade_id != summary.cascade_id  # a new hierarchy version is a new cascade
    with transaction(chidao_env) as session:
        old = list_letters(session, cascade_id=summary.cascade_id, unit="901.P")[0]
        new = list_letters(session, cascade_id=later.cascade_id, unit="901.P")[0]
        assert "Phạm Văn Ba" in old.markdown and "Vũ Văn Năm" in new.markdown
        assert session.scalar(select(func.count()).select_from(HierarchySnapshot)) == 2


def test_event_log_refuses_update_and_delete(chidao_env: str, mini_directive: Path) -> None:
    run(mini_directive)
    for statement in ("UPDATE events SET actor = 'x'", "DELETE FROM events"):
        with pytest.raises(DatabaseError, match="append-only"), transaction(chidao_env) as session:
            session.execute(text(statement))
    with transaction(chidao_env) as session:
        assert session.scalar(select(func.count()).select_from(Event)) == 4


@pytest.mark.postgres
def test_postgresql_and_sqlite_give_the_same_letters_byte_for_byte(
    postgres_url: str, sqlite_url: str, mini_directive: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("CHIDAO_DATA_DIR", str(tmp_path))
    texts = []
    for url in (sqlite_url, postgres_url):
        monkeypatch.setenv("CHIDAO_DATABASE_URL", url)
        summary = run(mini_directive)
        with transaction(url) as session:
            texts.append(
                [(r.unit_code, r.markdown, r.sha256) for r in list_letters(session, cascade_id=summary.cascade_id)]
            )
    assert texts[0] == texts[1]


def test_each_letter_is_published_as_a_markdown_artifact(chidao_env: str, mini_directive: Path) -> None:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

    summary = run(mini_directive)
    with transaction(chidao_env) as session:
        run_id = history(session, summary.cascade_id)[0].flow_run_id
        stored = {row.id: row.markdown for row in list_letters(session, cascade_id=summary.cascade_id)}
    assert run_id
    with get_client(sync_client=True) as client:
        artifacts = client.read_artifacts(
            artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[run_id]))  # type: ignore[list-item]
        )
    assert {a.type for a in artifacts} == {"markdown", "table", "progress"}  # a link is a markdown artifact
    letters = [a for a in artifacts if str(a.key).startswith("letter-")]
    assert {a.type for a in letters} == {"markdown"}
    published = {int(str(a.key).rsplit("-", 1)[1]): a.data for a in letters}
    assert published == stored
    (table,) = [a for a in artifacts if a.type == "table"]
    assert table.key == f"cascade-{summary.cascade_id}"
    rows = table.data if isinstance(table.data, list) else __import__("json").loads(str(table.data))
    assert [row["letters_drafted"] for row in rows if row["letters_drafted"]] == summary.letters_per_level
    (bar,) = [a for a in artifacts if a.type == "progress"]
    assert float(str(bar.data)) == 100.0
    links = {str(a.key): str(a.data) for a in artifacts if str(a.key).startswith("cascade-") and a.type == "markdown"}
    assert f"/cascades/{summary.cascade_id})" in links[f"cascade-{summary.cascade_id}-desk"]
    assert f"/cascades/{summary.cascade_id}/replay)" in links[f"cascade-{summary.cascade_id}-replay"]


def test_stored_letters_are_the_planned_letters_byte_for_byte(chidao_env: str, mini_directive: Path) -> None:
    from datetime import date

    from hierarchy import load_hierarchy
    from letters.directive import load_directive
    from letters.plan import plan_cascade
    from letters.render import render_markdown

    h = load_hierarchy(DATA / "mini.yaml")
    plan = plan_cascade(load_directive(mini_directive, h), h, date(2023, 12, 1))
    planned = {d.letter.unit: render_markdown(d.letter) for level in plan.levels for d in level}
    summary = run(mini_directive)
    with transaction(chidao_env) as session:
        stored = {row.unit_code: row.markdown for row in list_letters(session, cascade_id=summary.cascade_id)}
    assert stored == planned


def test_with_a_server_approval_announces_the_letter_and_leaves_the_sending_to_the_deployment(
    chidao_env: str, mini_directive: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from click.testing import CliRunner
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (
        DeploymentFilter,
        DeploymentFilterId,
        FlowRunFilter,
        FlowRunFilterName,
        FlowRunFilterStartTime,
    )

    from cli import main
    from flows.dispatch import dispatch

    began = datetime.now(UTC)  # the harness's server is the session's: the other database's runs are there too
    deployment_id = dispatch.to_deployment(name="dispatch").apply()
    summary = run(mini_directive)
    with transaction(chidao_env) as session:
        root = list_letters(session, cascade_id=summary.cascade_id)[0]
    monkeypatch.setenv("CHIDAO_DISPATCH", "deployment")
    result = CliRunner().invoke(main, ["approve", str(root.id), "--as", "so-gd"])
    assert result.exit_code == 0, result.output
    assert "Announced to the Prefect server (chidao.letter.signed)" in result.output
    with transaction(chidao_env) as session:
        signed = list_letters(session, cascade_id=summary.cascade_id)[0]
        reference = letter_content(signed).reference
        assert signed.status == "approved"  # not sent by this process
    with get_client(sync_client=True) as client:
        (follow_up,) = client.read_flow_runs(
            flow_run_filter=FlowRunFilter(
                name=FlowRunFilterName(any_=[f"approved {reference} by so-gd"]),
                start_time=FlowRunFilterStartTime(after_=began),
            )
        )
        # No run of the deployment was asked for by chidao: the server's trigger answers the event.
        by_chidao = client.read_flow_runs(
            deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=[deployment_id]))
        )
    assert follow_up.state_name == "Completed"
    assert [r for r in by_chidao if r.parameters.get("letter_ids")] == []


def test_the_dispatch_flow_sends_what_is_due(chidao_env: str, mini_directive: Path, sink: Path) -> None:
    from chidao import approval
    from flows.dispatch import dispatch

    summary = run(mini_directive)
    with transaction(chidao_env) as session:
        root = list_letters(session, cascade_id=summary.cascade_id)[0]
        approval.approve(session, root.id, "so-gd")
    sent = dispatch([root.id])
    assert (sent.count("sent"), sent.count("failed"), sent.count("pending")) == (6, 0, 0)
    assert dispatch().deliveries == []  # nothing is sent twice
    with transaction(chidao_env) as session:
        sent_in = {e.flow_run_id for e in history(session, summary.cascade_id) if e.kind == "message.sent"}
        drafted_in = {e.flow_run_id for e in history(session, summary.cascade_id) if e.kind == "letter.drafted"}
    # Each event names the run that did it; the replay reads those runs back through the Prefect client.
    from chidao.flowruns import read_flow_runs

    (dispatch_run,) = sent_in
    (cascade_run,) = drafted_in
    runs = read_flow_runs([cascade_run, dispatch_run, "00000000-0000-0000-0000-000000000000"])
    assert [(r.flow, r.state) for r in runs] == [("cascade", "Completed"), ("dispatch", "Completed"), ("", "not found")]
