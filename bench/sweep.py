"""Benchmark: one reminder sweep's planning over N open report requests (default 100,000).

Run: .venv/bin/python bench/sweep.py [--requests N] [--postgres URL]
Builds a synthetic cascade (a department, 500 offices, N communes) in a throwaway SQLite file (and a
PostgreSQL database if given), then times the sweep's read of the open requests (query and fetch: the
database time, best of three: the requests owed a notice today, those overdue or due within the directive's
remind_before) and all of plan_notices() (planning), after loading the hierarchy snapshot and the year's
holidays once (reported apart: a process parses each hierarchy version, and works out each year's holidays,
once). Prints a table. Not part of the tests.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import insert, select, text

from chidao.cascade import begin
from chidao.reminders import due_requests, plan_notices, reminding
from db.cascades import inputs_of
from db.engine import transaction
from db.migrate import upgrade
from db.models import Cascade, LetterRecord, ReportRequest
from hierarchy.load import parse_hierarchy
from letters.calendar import WorkingCalendar
from letters.directive import parse_directive

OFFICES = 500
TODAY = date(2024, 3, 18)


def hierarchy_yaml(communes: int) -> str:
    per = communes // OFFICES
    lines = [
        'hierarchy: {name: "Bench", version: "b1", root: "0"}',
        "roles:",
        "  office: {name: phòng, group: Các phòng}",
        "  commune_committee: {name: xã, group: UBND các xã}",
        "units:",
        '  - {code: "0", name: UBND tỉnh, level: province, kind: committee, place: P, scope: tỉnh, area: P, '
        "email: u@b.example, abbreviation: UBND, signer: {position: CT, name: A}, "
        "approvers: [{id: a, name: A, position: CT}]}",
        '  - {code: "S", parent: "0", name: Sở, level: province, kind: department, place: P, scope: tỉnh, area: P, '
        "email: s@b.example, abbreviation: S, signer: {position: GĐ, name: B}, "
        "approvers: [{id: b, name: B, position: GĐ}]}",
    ]
    for o in range(OFFICES):
        lines.append(
            f'  - {{code: "O{o}", parent: "S", name: Phòng {o}, roles: [office], level: district, kind: office, '
            f"place: Q, scope: huyện, area: Q, email: o{o}@b.example, abbreviation: VHTT, "
            "signer: {position: TP, name: C}, approvers: [{id: c, name: C, position: TP}]}"
        )
        for c in range(per):
            lines.append(
                f'  - {{code: "C{o}.{c}", parent: "O{o}", link: request, name: UBND xã {o}.{c}, '
                f"roles: [commune_committee], level: commune, kind: committee, place: X, scope: xã, "
                f"area: X, email: c{o}.{c}@b.example}}"
            )
    return "\n".join(lines) + "\n"


DIRECTIVE = """issuer: "S"
subject: bench
date: 2024-01-02
basis: {type: Kế hoạch, number: 1/KH-UBND, date: 2024-01-01, issuer: UBND tỉnh, subject: bench}
sections:
  - {id: a, title: A., to: [office], items: ["x"]}
  - {id: b, title: B., to: [commune_committee], items: ["y"]}
closing: z./.
report: {due: 2024-06-28, lead_days: 2}
signer: {position: GĐ, name: B}
"""


def build(url: str, requests: int) -> None:
    upgrade(url)
    hierarchy = parse_hierarchy(hierarchy_yaml(requests), "bench.yaml")
    directive = parse_directive(DIRECTIVE, hierarchy, "bench-directive.yaml")
    with transaction(url) as session:
        begun = begin(session, directive, hierarchy, date(2024, 1, 2), "bench")
        root = session.get_one(LetterRecord, begun.root_letter_id)
        offices = session.execute(
            insert(LetterRecord).returning(LetterRecord.id, LetterRecord.unit_code),
            [
                {
                    "cascade_id": begun.cascade_id,
                    "unit_code": f"O{o}",
                    "kind": "letter",
                    "parent_id": root.id,
                    "depth": 1,
                    "status": "sent",
                    "doc_type": "Công văn",
                    "notation": "VHTT",
                    "subject": "bench",
                    "content": "{}",
                    "markdown": "",
                    "sha256": "",
                }
                for o in range(OFFICES)
            ],
        ).all()
        per = requests // OFFICES
        rows = []
        for i, (letter_id, office) in enumerate(offices):
            for c in range(per):
                # deadlines spread over six months around today: some overdue, some due soon, most later
                due = TODAY + timedelta(days=((i * per + c) % 180) - 60)
                rows.append(
                    {
                        "cascade_id": begun.cascade_id,
                        "letter_id": letter_id,
                        "unit_code": f"C{office[1:]}.{c}",
                        "issuer_code": office,
                        "due": due,
                        "status": "open",
                    }
                )
        for start in range(0, len(rows), 10_000):
            session.execute(insert(ReportRequest), rows[start : start + 10_000])


def measure(url: str) -> tuple[float, float, float, int, int]:
    with transaction(url) as session:
        open_requests = session.execute(text("SELECT count(*) FROM report_requests WHERE status = 'open'")).scalar_one()
        t0 = time.perf_counter()
        inputs_of(session, session.scalars(select(Cascade)).one())  # parsed once per process and hierarchy
        WorkingCalendar().is_working_day(TODAY)  # Vietnam's holidays, worked out once per process and year
        load = time.perf_counter() - t0
        until = max(last for _, last in reminding(session, TODAY).values())
        reads = []
        for _ in range(3):  # the sweep's read, rows fetched; best of three
            t0 = time.perf_counter()
            session.execute(due_requests(until)).all()
            reads.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        notices = plan_notices(session, TODAY)
        total = time.perf_counter() - t0
    return min(reads), total, load, open_requests, len(notices)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=100_000)
    parser.add_argument("--postgres", help="an empty PostgreSQL database URL to use as well")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        backends = [("SQLite", f"sqlite:///{tmp}/bench.db")]
        if args.postgres:
            backends.append(("PostgreSQL", args.postgres))
        print(
            f"{'backend':<11} {'open requests':>14} {'notices':>8} {'DB read (s)':>12} {'planning (s)':>13} "
            f"{'once per process (s)':>21}"
        )
        for name, url in backends:
            build(url, args.requests)
            db_time, total, load, open_requests, notices = measure(url)
            print(f"{name:<11} {open_requests:>14,} {notices:>8,} {db_time:>12.3f} {total:>13.3f} {load:>21.3f}")


if __name__ == "__main__":
    main()
