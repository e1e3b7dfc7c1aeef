"""`chidao cascade`: plan a cascade, and start it (the checks of chidao.cascade, then the `cascade` flow)."""

from __future__ import annotations

import sys
from collections.abc import Callable
from datetime import date
from typing import TYPE_CHECKING, Any

import click

from cli.common import BAD_INPUT, UNAVAILABLE, clear_errors, emit_json, fail

if TYPE_CHECKING:
    from flows.cascade import CascadeParams, CascadeSummary


@click.group()
def cascade() -> None:
    """Plan and start cascades."""


def _inputs_options(func: Callable[..., Any]) -> Callable[..., Any]:
    func = click.option(
        "--date", "draft_date", type=click.DateTime(["%Y-%m-%d"]), help="Date on the drafts (YYYY-MM-DD)"
    )(func)
    func = click.option(
        "--hierarchy", "hierarchy_file", required=True, type=click.Path(dir_okay=False), help="Hierarchy YAML file"
    )(func)
    return click.argument("directive", type=click.Path(dir_okay=False))(func)


@cascade.command("plan")
@_inputs_options
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document")
def cascade_plan(directive: str, hierarchy_file: str, draft_date: Any, as_json: bool) -> None:
    """Show what would be drafted at each level; writes nothing."""
    from chidao.cascade import draft_date_for, load_inputs, started_today
    from letters.plan import plan_cascade

    with clear_errors():
        d, h = load_inputs(directive, hierarchy_file, started_today())
        plan = plan_cascade(d, h, draft_date_for(d, draft_date.date() if draft_date else None))
    levels = [
        [
            {
                "unit": dr.letter.unit,
                "name": h.unit(dr.letter.unit).name,
                "area": h.unit(dr.letter.unit).area,
                "recipients": len(dr.letter.recipient_units),
                "sections": len(dr.letter.sections),
            }
            for dr in level
        ]
        for level in plan.levels
    ]
    if as_json:
        emit_json({"letters": plan.count, "levels": levels, "silent": plan.silent, "unreached": plan.unreached})
        return
    for depth, level in enumerate(levels):
        click.echo(f"Level {depth}: {len(level)} letter(s)")
        for entry in level[:10]:
            click.echo(
                f"  {entry['unit']:<12} {entry['name']} ({entry['area']}): "
                f"{entry['sections']} section(s) to {entry['recipients']} recipient(s)"
            )
        if len(level) > 10:
            click.echo(f"  … and {len(level) - 10} more")
    click.echo(f"{plan.count} letter(s) would be drafted.")
    _warn_gaps(plan.silent, plan.unreached)


@cascade.command("start")
@_inputs_options
@click.option("--batch-size", default=200, show_default=True, type=click.IntRange(1, 10_000), help="Letters per task")
@click.option("--as", "actor", default="chidao", show_default=True, help="Who starts it, for the event log")
@click.option("--approved-by", help="The department's letter was signed on paper by this approver: number it now")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document")
def cascade_start(
    directive: str,
    hierarchy_file: str,
    draft_date: Any,
    batch_size: int,
    actor: str,
    approved_by: str | None,
    as_json: bool,
) -> None:
    """Run the cascade flow: store the hierarchy snapshot and draft a letter at every level."""
    summary = start_cascade(
        directive,
        hierarchy_file,
        draft_date.date() if draft_date else None,
        batch_size,
        actor,
        approved_by=approved_by,
        show_progress=not as_json,
    )
    if as_json:
        emit_json(summary.model_dump() | {"letters": summary.letters})
        return
    state = "started" if summary.created else "already existed; nothing created twice"
    click.echo(f"Cascade {summary.cascade_id} {state}.")
    for depth, count in enumerate(summary.letters_per_level):
        click.echo(f"  level {depth}: {count} letter(s)")
    click.echo(f"{summary.letters} letter(s) in the cascade, {summary.letters_created} drafted now.")
    _warn_gaps(summary.silent, summary.unreached)
    click.echo(f"See them with: chidao letters list --cascade {summary.cascade_id}")


def _warn_gaps(silent: list[str], unreached: list[str]) -> None:
    """Units with units under them that will write nothing: the department should know before it signs."""
    if silent:
        click.echo(f"{len(silent)} unit(s) reached have nothing to pass down: {', '.join(silent)}")
    if unreached:
        click.echo(
            f"{len(unreached)} unit(s) with units under them are not addressed by any section: {', '.join(unreached)}"
        )


def start_cascade(
    directive: str,
    hierarchy_file: str,
    draft_date: date | None,
    batch_size: int = 200,
    actor: str = "chidao",
    *,
    approved_by: str | None = None,
    show_progress: bool = False,
) -> CascadeSummary:
    """Validate the inputs and the signer (writing nothing if anything is wrong), then run the flow."""
    from chidao.cascade import NotAnApprover, check_start
    from chidao.flowruns import PrefectUnavailable, check_prefect_server
    from flows.cascade import CascadeParams

    with clear_errors():
        try:
            check_start(directive, hierarchy_file, draft_date, approved_by)
        except NotAnApprover as exc:
            fail(f"--approved-by: {exc}", BAD_INPUT)
    try:
        check_prefect_server()
    except PrefectUnavailable as exc:
        fail(f"{exc}; nothing was started", UNAVAILABLE)
    params = CascadeParams(
        directive=directive,
        hierarchy=hierarchy_file,
        draft_date=draft_date,
        batch_size=batch_size,
        actor=actor,
        approved_by=approved_by,
    )
    return run_cascade(params, show_progress)


def run_cascade(params: CascadeParams, show_progress: bool = False) -> CascadeSummary:
    """The `cascade` flow in this process, with a progress bar on a terminal."""
    from chidao import progress
    from flows.cascade import cascade as cascade_flow
    from flows.runs import inline

    if not (show_progress and sys.stderr.isatty()):
        with inline():
            return cascade_flow(params)
    with click.progressbar(length=1, label="Drafting letters", file=sys.stderr) as bar:

        def update(_what: str, done: int, total: int) -> None:
            bar.length = max(total, done)
            bar.update(done - bar.pos)

        stop = progress.listen(update)
        try:
            with inline():
                return cascade_flow(params)
        finally:
            stop()
