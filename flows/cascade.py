"""The `cascade` flow: a directive down the hierarchy, a draft letter at every level.

Needs: the directive and hierarchy files readable where it runs (paths relative to the working
directory, the repository root for deployments), and CHIDAO_DATABASE_URL (default: SQLite in
CHIDAO_DATA_DIR). Re-running with the same inputs creates nothing twice.
"""

from __future__ import annotations

from datetime import date
from typing import Any
from uuid import UUID

from prefect import flow, get_run_logger, task
from pydantic import BaseModel, Field

from chidao import progress
from chidao.approval import OPEN, approve
from chidao.cascade import (
    Begun,
    Below,
    begin,
    draft_below,
    draft_date_for,
    expected_letters,
    load_inputs,
    started_today,
)
from chidao.settings import settings
from db.cascades import letter_content
from db.engine import transaction
from db.letters import get_letter
from db.migrate import upgrade
from flows import publish
from flows.runs import current_run_id


class CascadeParams(BaseModel):
    directive: str = Field(description="Path of the directive YAML file")
    hierarchy: str = Field(description="Path of the hierarchy YAML file")
    draft_date: date | None = Field(None, description="Date the drafts carry (default: the directive's, else today)")
    batch_size: int = Field(200, ge=1, le=10_000, description="Letters drafted per task")
    actor: str = Field("chidao", description="Who started the cascade, for the event log")
    artifacts: bool = Field(True, description="Publish each letter as a Markdown artifact")
    approved_by: str | None = Field(None, description="Approver who signed the department's letter on paper")


class CascadeSummary(BaseModel):
    cascade_id: int
    created: bool
    letters_per_level: list[int]
    letters_created: int
    silent: list[str] = Field(description="Units reached that have units under them but nothing to pass down")
    unreached: list[str] = Field(description="Units with units under them that no section of the directive reaches")

    @property
    def letters(self) -> int:
        return sum(self.letters_per_level)


def retry_lost_database(_task: Any, _run: Any, state: Any) -> bool:
    """Worth another try: the database connection was lost (a restart, a failover), not a bad input; the
    outbox and the registers make a retried step do nothing twice."""
    from sqlalchemy.exc import DBAPIError, OperationalError

    try:
        state.result()
    except (OperationalError, DBAPIError) as exc:
        return bool(getattr(exc, "connection_invalidated", False) or isinstance(exc, OperationalError))
    except Exception:
        return False
    return False


RETRIES: dict[str, Any] = {"retries": 3, "retry_delay_seconds": [2, 8, 30], "retry_condition_fn": retry_lost_database}


@task(name="open cascade", task_run_name="open the cascade of {params.directive}", **RETRIES)
def open_cascade_task(params: CascadeParams) -> tuple[Begun, int]:
    directive, hierarchy = load_inputs(params.directive, params.hierarchy, started_today())
    url = settings().url
    upgrade(url)
    with transaction(url) as session:
        begun = begin(
            session, directive, hierarchy, draft_date_for(directive, params.draft_date), params.actor, current_run_id()
        )
        if params.approved_by and get_letter(session, begun.root_letter_id).status in OPEN:
            approve(session, begun.root_letter_id, params.approved_by, on_paper=True)  # signed by hand: issue it now
        root = letter_content(get_letter(session, begun.root_letter_id))
    reference = root.reference if root.number else f"draft {root.reference.strip()}"  # unnumbered till signed
    _name_run(f"cascade {begun.cascade_id}: {reference} → {len(root.recipient_units)} units")
    return begun, expected_letters(hierarchy, directive.issuer)


def _name_run(name: str) -> None:
    """The run's name once it is known what it does (the cascade's id is known only once it is opened)."""
    from prefect import get_client
    from prefect.runtime import flow_run

    run_id = flow_run.get_id()
    if run_id:
        with get_client(sync_client=True) as client:
            client.update_flow_run(UUID(str(run_id)), name=name)


@task(name="draft letters below", task_run_name="draft level {depth}: below {count} letters", **RETRIES)
def draft_below_task(cascade_id: int, parent_ids: list[int], actor: str, depth: int, count: int) -> Below:
    with transaction(settings().url) as session:
        return draft_below(session, cascade_id, parent_ids, actor, current_run_id())


@task(name="publish letters", task_run_name="publish {count} letters and the cascade's counts")
def publish_letters_task(cascade_id: int, letter_ids: list[int], count: int) -> None:
    publish.letters(letter_ids)
    publish.cascade_table(cascade_id)


@flow(name="cascade", flow_run_name="cascade of {params.directive}", log_prints=True)
def cascade(params: CascadeParams) -> CascadeSummary:
    """Open the cascade, then draft level by level, a few batched tasks per level."""
    logger = get_run_logger()
    begun, total = open_cascade_task(params)
    cascade_id = begun.cascade_id
    logger.info(
        "cascade %d opened (%s), up to %d letters to draft", cascade_id, "new" if begun.created else "found", total
    )
    levels, made = [[begun.root_letter_id]], int(begun.root_created)
    silent: list[str] = []
    unreached: list[str] = []
    done = 1
    with publish.progress_artifact(f"Đợt {cascade_id}: soạn văn bản các cấp ({total} văn bản)"):
        progress.report("letters", done, total)
        while True:
            frontier = levels[-1]
            batches = [frontier[i : i + params.batch_size] for i in range(0, len(frontier), params.batch_size)]
            futures = [
                draft_below_task.submit(cascade_id, batch, params.actor, len(levels), len(batch)) for batch in batches
            ]
            results = [f.result() for f in futures]
            below = [i for r in results for i in r.letter_ids]
            made += sum(r.created for r in results)
            silent += [code for r in results for code in r.silent]
            unreached += [code for r in results for code in r.unreached]
            if not below:
                break
            levels.append(below)
            done += len(below)
            progress.report("letters", done, total)
            logger.info("level %d: %d letters", len(levels) - 1, len(below))
        progress.report("letters", total, total)
    if params.artifacts:
        publish_letters_task(cascade_id, [i for level in levels for i in level], done)
    logger.info("cascade %d: %d letters in all, %d drafted now", cascade_id, done, made)
    return CascadeSummary(
        cascade_id=cascade_id,
        created=begun.created,
        letters_per_level=[len(level) for level in levels],
        letters_created=made,
        silent=silent,
        unreached=unreached,
    )
