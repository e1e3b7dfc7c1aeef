"""The `approved` flow: what follows a signature, run by the process that signed (the CLI, the desk), so that
every step that changed state is a Prefect flow run, in the embedded default too.

It publishes the signed letter and the drafts below it (they now cite its number) as they stand, and the
cascade's counts; it says `chidao.letter.signed` (on a Prefect server, the `dispatch` deployment's trigger
starts the sending); in the embedded default it sends the letter itself, as a subflow. A re-send says
`chidao.letter.resent`, which the same trigger answers.
"""

from __future__ import annotations

from prefect import flow, get_run_logger

from chidao.dispatch import DispatchReport
from chidao.settings import settings
from db.cascades import letter_content
from db.engine import transaction
from db.letters import get_letter
from db.models import LetterRecord
from flows import publish
from flows.dispatch import dispatch


def _name() -> str:
    from prefect.runtime import flow_run

    parameters = flow_run.parameters or {}
    letter_id, person = parameters.get("letter_id"), parameters.get("signed_by", "")
    try:
        with transaction(settings().url) as session:
            reference = letter_content(get_letter(session, int(letter_id or 0))).reference
    except Exception:  # a name is not worth a failed run
        reference = f"letter {letter_id}"
    verb = "resent" if parameters.get("resent") else "approved"
    return f"{verb} {reference}" + (f" by {person}" if person else "")


@flow(name="approved", flow_run_name=_name)
def approved(letter_id: int, signed_by: str = "", resent: bool = False) -> DispatchReport | None:
    """After a letter is signed (or put back to be sent again): publish, announce, and send where no server's
    deployment does it. Returns what the dispatch did, or None when the `dispatch` deployment sends it."""
    logger = get_run_logger()
    with transaction(settings().url) as session:
        letter = get_letter(session, letter_id)
        cascade_id, unit, reference = letter.cascade_id, letter.unit_code, letter_content(letter).reference
        below = [row.id for row in session.query(LetterRecord).filter(LetterRecord.parent_id == letter_id)]
    publish.letters([letter_id, *below])
    publish.cascade_table(cascade_id)
    kind = "letter.resent" if resent else "letter.signed"
    publish.event(kind, unit=unit, cascade_id=cascade_id, letter_id=letter_id, number=reference, signed_by=signed_by)
    logger.info("%s %s of %s (%d drafts below refreshed)", kind, reference, unit, len(below))
    if settings().dispatch == "deployment":
        logger.info("the dispatch deployment sends it, on the %s event", kind)
        return None
    return dispatch(letter_ids=[letter_id])
