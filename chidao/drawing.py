"""A big dispatch's DOCX drawn ahead in worker processes, on every core, while the dispatcher claims, sends
and records (python-docx takes 50 ms or more a letter)."""

from __future__ import annotations

import logging
from concurrent.futures import Future, ProcessPoolExecutor

from sqlalchemy import select

from chidao.cores import cores, worker_pool
from db.cascades import letter_content
from db.engine import transaction
from db.models import LetterRecord
from letters.content import Letter
from letters.docx import render_docx

DRAW_AHEAD = 16  # letters due in one run from which their DOCX are drawn in worker processes, every core busy


def drawn_ahead(url: str, letter_ids: list[int]) -> tuple[ProcessPoolExecutor | None, dict[int, Future[bytes]]]:
    """Many letters to send: their DOCX drawn in worker processes, in the order they go out (the caller shuts
    the pool down). A few are drawn inline, when claimed: no pool then."""
    workers = min(cores(), 2)
    if len(letter_ids) < DRAW_AHEAD or workers < 2:
        return None, {}
    with transaction(url) as session:
        contents = {
            record.id: letter_content(record)
            for record in session.scalars(select(LetterRecord).where(LetterRecord.id.in_(letter_ids)))
        }
    pool = worker_pool(workers)
    return pool, {letter_id: pool.submit(render_docx, contents[letter_id]) for letter_id in letter_ids}


def docx_of(ahead: Future[bytes] | None, content: Letter) -> bytes:
    """The letter's DOCX as drawn ahead, or drawn now (none was, or its worker failed: the letter still goes)."""
    if ahead is not None:
        try:
            return ahead.result()
        except Exception as exc:  # a worker process lost (killed, out of memory): this process draws it
            logging.getLogger("chidao.dispatch").warning("drawing a DOCX ahead failed (%s): drawn here", exc)
    return render_docx(content)
