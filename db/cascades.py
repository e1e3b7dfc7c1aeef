"""Storing a cascade: its inputs, the cascade row, its letters. Session in; the caller commits."""

from __future__ import annotations

import json
from datetime import date
from typing import TypeVar

from sqlalchemy import URL, Select, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from db import events
from db.models import Cascade, DirectiveRecord, HierarchySnapshot, LetterRecord, RecipientRecord
from hierarchy.graph import Hierarchy
from hierarchy.model import HierarchyFile
from letters.content import Letter
from letters.directive import Directive
from letters.plan import Draft
from letters.render import render_markdown, sha256

_K = TypeVar("_K")
_V = TypeVar("_V")
_R = TypeVar("_R", HierarchySnapshot, DirectiveRecord, Cascade)


class CascadeNotFound(LookupError):
    def __str__(self) -> str:
        return f"no cascade with id {self.args[0]}"


def snapshot_for(session: Session, hierarchy: Hierarchy) -> HierarchySnapshot:
    """The stored snapshot of this hierarchy version, created on first use."""
    found = session.scalar(select(HierarchySnapshot).where(HierarchySnapshot.digest == hierarchy.digest))
    if found:
        return found
    info = hierarchy.source.hierarchy
    snapshot = HierarchySnapshot(
        digest=hierarchy.digest,
        name=info.name,
        version=info.version,
        units=len(hierarchy),
        data=hierarchy.canonical_json(),
    )
    return _insert_once(
        session, snapshot, select(HierarchySnapshot).where(HierarchySnapshot.digest == hierarchy.digest)
    )


def _insert_once(session: Session, row: _R, same: Select[tuple[_R]]) -> _R:
    """Insert the row, or, if another transaction has just inserted its twin (two workers starting the same
    cascade at once), take theirs: the unique key decides, in a savepoint, so this transaction goes on."""
    try:
        with events.savepoint(session):
            session.add(row)
    except IntegrityError:
        return session.scalars(same).one()
    return row


def directive_for(session: Session, directive: Directive) -> DirectiveRecord:
    found = session.scalar(select(DirectiveRecord).where(DirectiveRecord.digest == directive.digest))
    if found:
        return found
    record = DirectiveRecord(
        digest=directive.digest,
        issuer_code=directive.issuer,
        subject=directive.subject,
        data=directive.canonical_json(),
    )
    return _insert_once(session, record, select(DirectiveRecord).where(DirectiveRecord.digest == directive.digest))


def open_cascade(
    session: Session,
    directive: Directive,
    hierarchy: Hierarchy,
    draft_date: date,
    actor: str,
    flow_run_id: str | None = None,
) -> tuple[Cascade, bool]:
    """The cascade of these inputs: found if it exists (nothing created twice), else created."""
    record = directive_for(session, directive)
    snapshot = snapshot_for(session, hierarchy)
    found = session.scalar(
        select(Cascade).where(
            Cascade.directive_id == record.id, Cascade.snapshot_id == snapshot.id, Cascade.draft_date == draft_date
        )
    )
    if found:
        return found, False
    same = select(Cascade).where(
        Cascade.directive_id == record.id, Cascade.snapshot_id == snapshot.id, Cascade.draft_date == draft_date
    )
    cascade = Cascade(
        directive_id=record.id, snapshot_id=snapshot.id, issuer_code=directive.issuer, draft_date=draft_date
    )
    if _insert_once(session, cascade, same) is not cascade:
        return session.scalars(same).one(), False  # started at the same moment by another worker
    session.info.setdefault(_BEGUN, set()).add(cascade.id)  # not committed yet: see cascade_inputs
    events.record(
        session,
        cascade.id,
        "cascade.started",
        actor,
        {
            "directive": directive.digest,
            "hierarchy": hierarchy.digest,
            "hierarchy_version": snapshot.version,
            "draft_date": draft_date.isoformat(),
        },
        flow_run_id=flow_run_id,
    )
    return cascade, True


def get_cascade(session: Session, cascade_id: int) -> Cascade:
    cascade = session.get(Cascade, cascade_id)
    if cascade is None:
        raise CascadeNotFound(cascade_id)
    return cascade


def inputs_of(session: Session, cascade: Cascade) -> tuple[Directive, Hierarchy]:
    """The directive and hierarchy the cascade recorded (not the files as they are now)."""
    return cascade_inputs(session, cascade.id)


def cascade_inputs(session: Session, cascade_id: int) -> tuple[Directive, Hierarchy]:
    """inputs_of by the cascade's id, with one query at most: a clerk's submission needs no Cascade row.

    Both are looked up by their content digest first: the stored text is read and parsed once per process.
    A cascade's inputs never change once it is begun, so the process asks the database once per cascade
    (and database: the key holds its URL), not once per transaction: every report taken asked it again."""
    begun_here = cascade_id in session.info.get(_BEGUN, ())  # its id is reused if this transaction rolls back
    cache: dict[tuple[URL, int], tuple[Directive, Hierarchy]] = (
        session.info.setdefault(_BEGUN_INPUTS, {}) if begun_here else _CASCADES
    )
    key = (session.get_bind().engine.url, cascade_id)
    found_before = cache.get(key)
    if found_before is not None:
        return found_before
    found = session.execute(
        select(DirectiveRecord.id, DirectiveRecord.digest, HierarchySnapshot.id, HierarchySnapshot.digest)
        .join_from(Cascade, DirectiveRecord, DirectiveRecord.id == Cascade.directive_id)
        .join(HierarchySnapshot, HierarchySnapshot.id == Cascade.snapshot_id)
        .where(Cascade.id == cascade_id)
    ).one_or_none()
    if found is None:
        raise CascadeNotFound(cascade_id)
    directive_id, directive_digest, snapshot_id, hierarchy_digest = found
    directive = _DIRECTIVES.get(directive_digest)
    if directive is None:
        data = session.scalars(select(DirectiveRecord.data).where(DirectiveRecord.id == directive_id)).one()
        directive = _remember(_DIRECTIVES, directive_digest, Directive.model_validate_json(data), 16)
    hierarchy = _HIERARCHIES.get(hierarchy_digest)
    if hierarchy is None:
        data = session.scalars(select(HierarchySnapshot.data).where(HierarchySnapshot.id == snapshot_id)).one()
        built = Hierarchy.build(HierarchyFile.model_validate(json.loads(data)))
        hierarchy = _remember(_HIERARCHIES, hierarchy_digest, built, 4)
    return _remember(cache, key, (directive, hierarchy), 256)


def directives_of(session: Session) -> dict[int, Directive]:
    """Every cascade's directive, without its hierarchy (the reminder sweep needs only the report's rules to
    know which deadlines are owed a notice): one query, each directive parsed once per process."""
    rows = session.execute(
        select(Cascade.id, DirectiveRecord.id, DirectiveRecord.digest).join(
            DirectiveRecord, DirectiveRecord.id == Cascade.directive_id
        )
    ).all()
    out = {}
    for cascade_id, directive_id, digest in rows:
        directive = _DIRECTIVES.get(digest)
        if directive is None:
            data = session.scalars(select(DirectiveRecord.data).where(DirectiveRecord.id == directive_id)).one()
            directive = _remember(_DIRECTIVES, digest, Directive.model_validate_json(data), 16)
        out[cascade_id] = directive
    return out


def _remember(cache: dict[_K, _V], key: _K, value: _V, size: int) -> _V:
    """Keep the `size` latest entries: a process works on a handful of cascades at a time."""
    cache[key] = value
    while len(cache) > size:
        del cache[next(iter(cache))]
    return value


_CASCADES: dict[tuple[URL, int], tuple[Directive, Hierarchy]] = {}  # (database, cascade id) -> its inputs
_BEGUN = "chidao_cascades_begun"  # session.info: the cascades this session created (uncommitted until it commits)
_BEGUN_INPUTS = "chidao_begun_inputs"  # session.info: their inputs, kept for the session's life only
_DIRECTIVES: dict[str, Directive] = {}
_HIERARCHIES: dict[str, Hierarchy] = {}  # a national hierarchy takes seconds to validate: once per process


def store_letter(
    session: Session,
    cascade: Cascade,
    draft: Draft,
    parent_id: int | None,
    hierarchy: Hierarchy,
    actor: str,
    flow_run_id: str | None = None,
    kind: str = "letter",
) -> tuple[LetterRecord, bool]:
    """Store a drafted letter (or consolidated report) with its recipients; an existing one is returned as is."""
    letter = draft.letter
    found = session.scalar(
        select(LetterRecord).where(
            LetterRecord.cascade_id == cascade.id, LetterRecord.unit_code == letter.unit, LetterRecord.kind == kind
        )
    )
    if found:
        return found, False
    markdown = render_markdown(letter)
    record = LetterRecord(
        kind=kind,
        cascade_id=cascade.id,
        unit_code=letter.unit,
        parent_id=parent_id,
        depth=draft.depth,
        status="draft",
        doc_type=letter.doc_type,
        notation=letter.notation,
        subject=letter.subject,
        content=letter.model_dump_json(),
        markdown=markdown,
        sha256=sha256(markdown),
    )
    session.add(record)
    session.flush()
    for position, code in enumerate(letter.recipient_units):
        unit = hierarchy.unit(code)
        session.add(
            RecipientRecord(letter_id=record.id, unit_code=code, name=unit.name, email=unit.email, position=position)
        )
    events.record(
        session,
        cascade.id,
        "letter.drafted" if kind == "letter" else "report.drafted",
        actor,
        {"unit": letter.unit, "sha256": record.sha256, "recipients": len(letter.recipient_units)},
        letter_id=record.id,
        flow_run_id=flow_run_id,
    )
    return record, True


def letter_content(record: LetterRecord) -> Letter:
    return Letter.model_validate_json(record.content)
