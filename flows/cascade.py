"""The `cascade` flow: a directive down the hierarchy, a draft letter at every level.

Needs: the directive and hierarchy files readable where it runs (paths relative to the working
directory, the repository root for deployments), and CHIDAO_DATABASE_URL (default: SQLite in
CHIDAO_DATA_DIR). Re-running with the same inputs creates nothing twice.
"""

from __future__ import annotations

from datetime import date

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact
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
from db.engine import transaction
from db.letters import get_letter
from db.migrate import upgrade
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


@task(name="open cascade")
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
    return begun, expected_letters(hierarchy, directive.issuer)


@task(name="draft letters below")
def draft_below_task(cascade_id: int, parent_ids: list[int], actor: str) -> Below:
    with transaction(settings().url) as session:
        return draft_below(session, cascade_id, parent_ids, actor, current_run_id())


@task(name="publish letters")
def publish_letters_task(letter_ids: list[int]) -> None:
    with transaction(settings().url) as session:
        for letter_id in letter_ids:
            letter = get_letter(session, letter_id)
            create_markdown_artifact(
                markdown=letter.markdown,
                key=f"letter-{letter.cascade_id}-{letter.id}",
                description=f"Cascade {letter.cascade_id}: {letter.unit_code} ({letter.status})",
            )


@flow(name="cascade", log_prints=True)
def cascade(params: CascadeParams) -> CascadeSummary:
    """Open the cascade, then draft level by level, a few batched tasks per level."""
    logger = get_run_logger()
    begun, total = open_cascade_task(params)
    cascade_id = begun.cascade_id
    levels, made = [[begun.root_letter_id]], int(begun.root_created)
    silent: list[str] = []
    unreached: list[str] = []
    done = 1
    progress.report("letters", done, total)
    while True:
        frontier = levels[-1]
        batches = [frontier[i : i + params.batch_size] for i in range(0, len(frontier), params.batch_size)]
        futures = [draft_below_task.submit(cascade_id, batch, params.actor) for batch in batches]
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
    if params.artifacts:
        publish_letters_task([i for level in levels for i in level])
    return CascadeSummary(
        cascade_id=cascade_id,
        created=begun.created,
        letters_per_level=[len(level) for level in levels],
        letters_created=made,
        silent=silent,
        unreached=unreached,
    )
