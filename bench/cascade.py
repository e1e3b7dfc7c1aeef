"""Benchmark: one whole cascade, phase by phase, against the bare loop it sits on.

Run: .venv/bin/python bench/cascade.py [--provinces 4,16,47] [--hierarchy FILE --directive FILE ...]

For each size, in its own process (so peak RSS is that size's): a throwaway SQLite database, an SMTP sink
in another process on loopback, and a trial PKI for the hierarchy (signing.pki.make_pki, CHIDAO_KEYS set to
its keys file; timed and shown apart, like Prefect's start, not counted). Its keys are PKCS#12 files, not
SoftHSM2 tokens: with a token per approver and per unit, thousands of tokens in one SoftHSM2 store make every
token lookup slow, which would measure SoftHSM2's store rather than chidao (bench/pdf.py compares the two on
one letter: the signatures cost the same). chidao's phases: derive and store all drafts (the `cascade` flow),
approve every letter as its approver (approval.approve, the CLI's code path, one transaction each, level
by level; each letter drawn as a PDF and signed twice, the approver's and the body's PAdES signatures),
dispatch (the `dispatch` flow), ask for the reports (reminders.demand, as `reports request`),
submit every report (reporting.submit, one transaction each), consolidate up to the top (consolidate,
approve each BÁO CÁO, dispatch it up, until the top's is out), one reminder sweep, replay and verify.
Then the bare loop on the same inputs: the same letters derived and rendered with the same templates
(Markdown, HTML, DOCX), each drawn as a PDF and signed with the same keys the same way (render_pdf, then
pades.sign_approval with the approver's key and pades.issue with the body's; "bare: sign"), stored with
plain SQLAlchemy inserts, every message built the same way (the signed PDF and the DOCX attached) and sent
with aiosmtplib over as many connections as chidao uses, a row per request and per report inserted; no
orchestration, no events, no claims. Prints a table. Not part of the tests.

Default sizes are synthetic: a ministry over N copies of the Lạng Sơn department's subtree (257 units
each, the example's real shape: the department, press, radio, enterprises, 11 district offices, their
centres, branches and 226 communes). Every unit gets a reporter, so every report can come in, and every
approver a position (the one the unit's signer names signs in the signer's; the others as the head or
as "PHÓ <head>"), as signing requires.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
LANGSON = ROOT / "examples" / "langson"
DRAFT_DATE = date(2024, 3, 1)
MINISTRY = "BO"


# --- inputs --------------------------------------------------------------------------------------


def synthetic_hierarchy(provinces: int) -> dict[str, Any]:
    """A ministry over `provinces` copies of the Lạng Sơn department's subtree, codes and ids prefixed."""
    source = yaml.safe_load((LANGSON / "hierarchy.yaml").read_text(encoding="utf-8"))
    units = [u for u in source["units"] if u["code"] != source["hierarchy"]["root"]]
    roles = dict(source["roles"])
    roles["department"] = {"name": "sở thông tin và truyền thông", "group": "Sở Thông tin và Truyền thông các tỉnh"}
    out = [
        {
            "code": "CP",
            "name": "Chính phủ",
            "level": "central",
            "kind": "committee",
            "place": "Hà Nội",
            "scope": "toàn quốc",
            "area": "cả nước",
            "email": "cp@bench.example",
            "abbreviation": "CP",
            "signer": {"authority": "TM. CHÍNH PHỦ", "position": "THỦ TƯỚNG", "name": "Trần Văn K"},
            "approvers": [{"id": "cp-tt", "name": "Trần Văn K", "position": "THỦ TƯỚNG"}],
        },
        {
            "code": MINISTRY,
            "parent": "CP",
            "name": "Bộ Thông tin và Truyền thông",
            "level": "central",
            "kind": "department",
            "place": "Hà Nội",
            "scope": "toàn quốc",
            "area": "cả nước",
            "email": "bo@bench.example",
            "short_name": "Bộ",
            "abbreviation": "BTTTT",
            "signer": {"authority": "KT. BỘ TRƯỞNG", "position": "THỨ TRƯỞNG", "name": "Nguyễn Văn T"},
            "approvers": [{"id": "bo-tt", "name": "Nguyễn Văn T", "position": "THỨ TRƯỞNG"}],
        },
    ]
    for k in range(provinces):
        prefix = f"P{k:02d}."
        for unit in units:
            copy = json.loads(json.dumps(unit))
            copy["code"] = prefix + unit["code"]
            if unit["code"] == "20.STTTT":
                copy["parent"], copy["roles"] = MINISTRY, ["department"]
            else:
                copy["parent"] = prefix + unit["parent"]
            copy["email"] = f"p{k:02d}.{unit['email']}"
            for people in ("approvers", "reporters"):
                for person in copy.get(people, []):
                    person["id"] = f"p{k:02d}-{person['id']}"
            out.append(copy)
    return {
        "hierarchy": {"name": f"Bench: Bộ and {provinces} provinces", "version": f"bench-{provinces}", "root": "CP"},
        "roles": roles,
        "units": with_reporters([with_positions(unit) for unit in out]),
    }


def with_positions(unit: dict[str, Any]) -> dict[str, Any]:
    """Every approver of the unit given the position they sign in (chidao refuses an approver without one),
    consistent with the unit's signer: the person the signer names signs in the signer's position (the head's
    title, or a deputy's own under "KT. <head>"); of the others, the first is the head if nobody is yet (the
    signer is a deputy), the rest deputies, "PHÓ <head's title>"."""
    signer = unit.get("signer") or {}
    authority = signer.get("authority") or ""
    head = unit.get("head") or (authority[4:] if authority.startswith("KT. ") else signer.get("position"))
    people = unit.get("approvers") or []
    for person in people:
        if not person.get("position") and signer and person["name"] == signer["name"]:
            person["position"] = signer["position"]
    taken = {person.get("position") for person in people}
    for person in people:
        if not person.get("position") and head:
            person["position"] = head if head not in taken else f"PHÓ {head}"
            taken.add(person["position"])
    return unit


def with_reporters(units: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every unit without anyone to report for it gets a placeholder reporter: all reports can come in."""
    for unit in units:
        if not unit.get("reporters") and not unit.get("approvers"):
            unit["reporters"] = [{"id": f"r-{unit['code']}", "name": "Văn thư"}]
    return units


def ministry_directive(issuer: str = MINISTRY, department: str = "department") -> dict[str, Any]:
    """The seed directive, issued by a ministry to the provinces' departments, reports on request."""
    directive: dict[str, Any] = yaml.safe_load((LANGSON / "directive-hsg-2023.yaml").read_text(encoding="utf-8"))
    directive["issuer"] = issuer
    directive["drafting_unit"] = "BCVT"
    directive["sections"].insert(
        0,
        {
            "id": "departments",
            "title": "Đề nghị Sở Thông tin và Truyền thông các tỉnh.",
            "to": [department],
            "items": [
                "Chỉ đạo các cơ quan báo chí, doanh nghiệp bưu chính, viễn thông và Phòng Văn hóa và Thông tin "
                "các huyện triển khai các nội dung dưới đây trên địa bàn {scope}."
            ],
        },
    )
    directive["closing"] = "Bộ Thông tin và Truyền thông đề nghị các đơn vị thực hiện./."
    directive["copies"] = ["Bộ trưởng (để b/c)", "Lưu: VT, BCVT"]
    directive["signer"] = {"authority": "KT. BỘ TRƯỞNG", "position": "THỨ TRƯỞNG", "name": "Nguyễn Văn T"}
    # Every unit a letter reaches reports (the seed's own rule leaves out the press and the radio; here they
    # report too, and the departments to the ministry): the whole upward half is measured.
    owed = ["department", "radio", "press", *directive["report"]["from"]]
    directive["report"] = {"due": "on_request", "lead_days": 2, "from": owed}
    return directive


def positioned(block: str) -> str:
    """One unit's block of an imported file (after its "- code: " for all but the first), its approvers given
    positions if the file predates them (`chidao hierarchy import` now writes them): re-dumped only then."""
    first = block.startswith("- code: ")
    unit = yaml.load(block if first else "- code: " + block, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))[0]
    if all(person.get("position") for person in unit.get("approvers") or []):
        return block
    text = yaml.safe_dump([with_positions(unit)], allow_unicode=True, sort_keys=False, width=200)
    return text if first else text.removeprefix("- code: ")


def national_inputs(shape: str, cache: Path) -> tuple[Path, Path]:
    """The national hierarchy from `chidao hierarchy import` (made once, kept in `cache`), every unit given
    someone to report for it (and every approver a position, in a file made before they were written), and
    the seed directive issued by its ministry."""
    plain = cache / f"vn-{shape}.yaml"
    if not plain.exists():
        cache.mkdir(parents=True, exist_ok=True)
        command = [str(Path(sys.executable).parent / "chidao"), "hierarchy", "import", "vietnam-provinces"]
        subprocess.run([*command, "--shape", shape, "--output", str(plain)], check=True)
    text = plain.read_text(encoding="utf-8")
    head, units = text.split("\nunits:\n", 1)
    blocks = units.split("\n- code: ")
    for i, block in enumerate(blocks):
        if "\n  reporters:" not in block and "\n  approvers:" not in block:
            code = block.split("\n", 1)[0].removeprefix("- code: ").strip("'")
            blocks[i] = block.rstrip("\n") + f"\n  reporters:\n  - {{id: r-{code}, name: Văn thư}}\n"
        elif "\n  approvers:" in block:
            blocks[i] = positioned(block)
    hierarchy_file = cache / f"vn-{shape}-reporting.yaml"
    hierarchy_file.write_text(head + "\nunits:\n" + "\n- code: ".join(blocks), encoding="utf-8")
    top = yaml.load(head, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    standard = {"radio", "press", "postal", "telecom", "culture_office", "culture_centre", "commune_committee"}
    department = next(r for r in top["roles"] if r not in standard and r != "province_committee")
    root = yaml.safe_load(blocks[0])[0]
    directive = ministry_directive(root["code"], department)
    directive["report"]["from"] = list(top["roles"])  # every unit the cascade reaches reports
    directive["sections"].insert(
        0,
        {
            "id": "provinces",
            "title": "Đề nghị Ủy ban nhân dân các tỉnh, thành phố.",
            "to": ["province_committee"],
            "items": ["Chỉ đạo các sở, ngành, địa phương triển khai các nội dung dưới đây trên địa bàn {scope}."],
        },
    )
    directive["sections"].append(
        {
            "id": "communes",
            "title": "Đề nghị Ủy ban nhân dân các xã, phường.",
            "to": ["commune_committee"],
            "items": ["Tuyên truyền các nội dung như tại mục 1 trên hệ thống loa truyền thanh cơ sở."],
        }
    )
    directive["signer"] = root["signer"]
    directive_file = cache / f"vn-{shape}-directive.yaml"
    directive_file.write_text(yaml.safe_dump(directive, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return hierarchy_file, directive_file


# --- measuring -----------------------------------------------------------------------------------


PROFILE: Path | None = None  # --profile DIR: each phase's cProfile kept there, its top lines printed


@contextmanager
def clock(times: dict[str, float], phase: str) -> Iterator[None]:
    profiler = None
    if PROFILE is not None:
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
    start = time.perf_counter()
    yield
    times[phase] = times.get(phase, 0.0) + time.perf_counter() - start
    print(f"  {phase}: {times[phase]:.2f} s", file=sys.stderr, flush=True)
    if profiler is not None and PROFILE is not None:
        import pstats

        profiler.disable()
        name = "".join(c if c.isalnum() else "-" for c in phase)
        profiler.dump_stats(PROFILE / f"{name}.prof")
        pstats.Stats(profiler, stream=sys.stderr).sort_stats("tottime").print_stats(12)


@contextmanager
def sink_process() -> Iterator[int]:
    """The SMTP sink in its own process; yields its port. Its count is read after it stops."""
    from mail.sink import free_port

    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "bench" / "sink.py"), str(port)], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    if proc.stdout.readline().strip() != "ready":
        raise RuntimeError("the SMTP sink did not start")
    try:
        yield port
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=30)
        SINK_COUNTS.append(json.loads(out.strip().splitlines()[-1]))


SINK_COUNTS: list[dict[str, int]] = []


# --- chidao --------------------------------------------------------------------------------------


def pki_folder(work: Path) -> Path:
    """The run's trial PKI: made before chidao's approvals, its keys used by the bare loop as well."""
    return work / "pki"


def run_chidao(hierarchy_file: Path, directive_file: Path, work: Path, port: int) -> dict[str, Any]:
    """All phases through chidao's own functions and flows, its flows run as the CLI and the desk run them
    (flows.runs.inline); returns seconds per phase and counts."""
    from flows.runs import inline

    with inline():
        return _run_chidao(hierarchy_file, directive_file, work, port)


def _run_chidao(hierarchy_file: Path, directive_file: Path, work: Path, port: int) -> dict[str, Any]:
    os.environ["CHIDAO_DATA_DIR"] = str(work)
    os.environ["CHIDAO_DATABASE_URL"] = url = f"sqlite:///{work / 'chidao.db'}"
    os.environ["CHIDAO_SMTP_URL"] = f"smtp://127.0.0.1:{port}"
    from prefect import flow
    from sqlalchemy import func, select

    from chidao import approval, audit, reporting
    from chidao.consolidation import consolidate
    from chidao.reminders import demand, sweep
    from chidao.replay import state_at
    from chidao.settings import quiet_prefect
    from db.cascades import get_cascade, inputs_of
    from db.engine import transaction
    from db.letters import list_letters
    from db.migrate import upgrade
    from db.models import Event, LetterRecord, ReportRequest
    from flows.cascade import CascadeParams, cascade
    from flows.dispatch import dispatch
    from hierarchy.load import load_hierarchy
    from mail.smtp import SmtpConfig
    from reports.content import ReportContent
    from signing.pki import make_pki

    quiet_prefect()
    times: dict[str, float] = {}
    config = SmtpConfig("127.0.0.1", port)
    upgrade(url)

    @flow(name="warm-up")
    def warm_up() -> None:
        """Starts Prefect's ephemeral API: paid once per process, reported apart."""

    with clock(times, "prefect start"):
        warm_up()

    loaded = load_hierarchy(hierarchy_file)  # read apart: the PKI's time is its keys, images and files
    with clock(times, "trial PKI"):
        made = make_pki(loaded, pki_folder(work), store="pkcs12")
    os.environ["CHIDAO_KEYS"] = str(made.keys_file)

    with clock(times, "drafts"):
        summary = cascade(
            CascadeParams(
                directive=str(directive_file), hierarchy=str(hierarchy_file), draft_date=DRAFT_DATE, artifacts=False
            )
        )
    cascade_id = summary.cascade_id

    def approve_open(kind: str) -> int:
        """Each open letter of `kind`, level by level from the top, signed by its signer (or first approver),
        one transaction each as `chidao approve` does."""
        with transaction(url) as session:
            _, hierarchy = inputs_of(session, get_cascade(session, cascade_id))
            rows = [
                (r.depth, r.id, r.unit_code)
                for r in list_letters(session, cascade_id=cascade_id)
                if r.kind == kind and r.status in approval.OPEN
            ]
        for _, letter_id, unit_code in sorted(rows):
            who = hierarchy.unit(unit_code).approvers[0].id
            with transaction(url) as session:
                approval.approve(session, letter_id, who)
        return len(rows)

    with clock(times, "approve"):
        approved = approve_open("letter")
    with clock(times, "dispatch"):
        sent = dispatch()
    at = datetime.now().astimezone()
    due = at.date() + timedelta(days=60)
    with clock(times, "requests"):
        with transaction(url) as session:
            directive, hierarchy = inputs_of(session, get_cascade(session, cascade_id))
        asker = hierarchy.unit(directive.issuer).approvers[0].id
        notices = demand(url, config, cascade_id, asker, due, at)

    content = ReportContent(done="Đã triển khai đầy đủ các nội dung được giao.", figures={"tin bài": 2})
    with clock(times, "reports"):
        with transaction(url) as session:
            _, hierarchy = inputs_of(session, get_cascade(session, cascade_id))
            writers = set(session.scalars(select(LetterRecord.unit_code).where(LetterRecord.cascade_id == cascade_id)))
            owed = [
                (r.id, r.unit_code)
                for r in session.scalars(select(ReportRequest).where(ReportRequest.cascade_id == cascade_id))
                if r.unit_code not in writers
            ]
        for request_id, unit_code in owed:
            who = reporting.reporters_of(hierarchy, unit_code)[0]
            with transaction(url) as session:
                request = session.get_one(ReportRequest, request_id)
                reporting.submit(session, request, who, content, content.model_dump_json())

    rounds = 0
    with clock(times, "consolidate"):
        while True:
            with transaction(url) as session:
                drafted = consolidate(session, cascade_id, at.date())
            if not drafted:
                break
            rounds += 1
            approve_open("report")
            dispatch()

    with clock(times, "sweep"):
        swept = sweep(url, config, at)

    with clock(times, "replay+verify"), transaction(url) as session:
        verification = audit.verify(session, cascade_id)
        timeline = audit.timeline(session, cascade_id)
        middle = timeline[len(timeline) // 2].at
        state_at(session, cascade_id, middle)
    if not verification.holds:
        raise RuntimeError(f"verify failed: {verification.problems[0]}")
    with transaction(url) as session:
        events = session.scalar(select(func.count()).select_from(Event).where(Event.cascade_id == cascade_id))
        bc = session.scalar(
            select(func.count())
            .select_from(LetterRecord)
            .where(LetterRecord.cascade_id == cascade_id, LetterRecord.kind == "report")
        )
        # The end of the cascade: the issuer's BÁO CÁO went up, or (an issuer at the hierarchy's root reports
        # to nobody) every recipient of the root letter has reported.
        reported = session.scalar(
            select(func.count())
            .select_from(Event)
            .where(Event.cascade_id == cascade_id, Event.kind == "cascade.reported")
        ) or not session.scalar(
            select(func.count())
            .select_from(ReportRequest)
            .join(LetterRecord, LetterRecord.id == ReportRequest.letter_id)
            .where(LetterRecord.cascade_id == cascade_id, LetterRecord.depth == 0, ReportRequest.status == "open")
        )
    return {
        "times": times,
        "letters": summary.letters,
        "approved": approved,
        "messages": sent.count("sent"),
        "failed": sent.count("failed"),
        "notices": len(notices),
        "reports": len(owed),
        "consolidation_rounds": rounds,
        "bc": bc,
        "reminders": sum(swept.count(k) for k in ("due_soon", "overdue", "escalation")),
        "events": events,
        "top_reported": bool(reported),
        "signing_keys": made.approvers + made.units,
    }


# --- the bare loop -------------------------------------------------------------------------------


def run_bare(hierarchy_file: Path, directive_file: Path, work: Path, port: int) -> dict[str, Any]:
    """Exactly chidao's outputs, with nothing else: every letter derived and rendered (Markdown, HTML, DOCX),
    drawn as a PDF and signed twice, stored and sent as one message to all its recipients; a request row and
    a notice by mail for every report owed; a row per report, one transaction each; every BÁO CÁO drafted from
    its recipients' reports with the same function, rendered, signed, stored and sent up. Only orchestration,
    events, claims, checks and the audit are left out."""
    import asyncio
    from email.message import Message
    from email.utils import make_msgid
    from zoneinfo import ZoneInfo

    import aiosmtplib
    from aiosmtplib.email import flatten_message
    from sqlalchemy import Column, Integer, LargeBinary, MetaData, String, Table, Text, create_engine, insert

    from chidao.dispatch import CONNECTIONS
    from chidao.settings import settings
    from hierarchy.load import load_hierarchy
    from letters.content import Letter
    from letters.dates import short_date
    from letters.derive import Citation
    from letters.directive import load_directive
    from letters.docx import render_docx
    from letters.pdf import render_pdf
    from letters.plan import plan_cascade
    from letters.render import render_html, render_markdown
    from letters.signer import signer_for
    from mail.message import build_message, plain_message
    from reports.consolidate import Received, consolidated
    from reports.content import ReportContent
    from signing import pades
    from signing.keys import load_keyring
    from signing.signers import trust_roots, unlocked

    times: dict[str, float] = {}
    hierarchy = load_hierarchy(hierarchy_file)
    directive = load_directive(directive_file, hierarchy)
    meta = MetaData()
    letters_t = Table(
        "letters",
        meta,
        Column("id", Integer, primary_key=True),
        Column("unit", String),
        Column("markdown", Text),
        Column("html", Text),
        Column("pdf", LargeBinary),
    )
    rows_t = Table(
        "rows", meta, Column("id", Integer, primary_key=True), Column("kind", String), Column("unit", String)
    )
    engine = create_engine(f"sqlite:///{work / 'bare.db'}")
    with engine.begin() as conn:  # as chidao's database (db/engine.py): WAL, each commit synced
        conn.exec_driver_sql("PRAGMA journal_mode=WAL")
    meta.create_all(engine)
    today = date.today()
    keys = load_keyring(pki_folder(work) / "keys.yaml")
    trust = trust_roots(keys.trust)
    zone = ZoneInfo(settings().timezone)
    numbers: dict[tuple[str, str], int] = {}

    def issued(letter: Letter, kind: str) -> Letter:
        """Numbered in its unit's register and dated, signed as the approver chidao's run signs as."""
        unit = hierarchy.unit(letter.unit)
        numbers[(letter.unit, kind)] = number = numbers.get((letter.unit, kind), 0) + 1
        signer = signer_for(unit, unit.approvers[0])
        return letter.model_copy(update={"number": number, "issued_on": today, "signer": signer})

    def rendered(letter: Letter) -> tuple[str, str, bytes]:
        return render_markdown(letter), render_html(letter), render_docx(letter)

    def signed(letter: Letter) -> bytes:
        """As chidao.issuing does at each approval, with the run's keys."""
        assert letter.number is not None and letter.issued_on is not None
        approver = keys.approver(hierarchy.unit(letter.unit).approvers[0].id)
        seal = keys.unit(letter.unit)
        keys.check(approver)
        keys.check(seal)
        when = datetime.now(zone).replace(microsecond=0)
        pdf = render_pdf(letter, seal_mm=seal.seal_mm).data
        with unlocked(keys, approver, None) as key:
            pdf = pades.sign_approval(pdf, key, approver.image, when, trust, approver.owner)
        with unlocked(keys, seal, None) as key:
            pdf = pades.issue(
                pdf,
                number=f"{letter.number:02d}",
                day=f"{letter.issued_on.day:02d}",
                signer=key,
                seal=seal.image,
                seal_mm=seal.seal_mm,
                body=[letter.issuer_name, *([letter.parent_body] if letter.parent_body else [])],
                when=when,
                trust=trust,
            )
        return pdf

    def store(done: list[tuple[Letter, str, str, bytes, bytes]]) -> None:
        with engine.begin() as conn:
            conn.execute(
                insert(letters_t),
                [{"unit": le.unit, "markdown": md, "html": html, "pdf": pdf} for le, md, html, _, pdf in done],
            )

    shapes: list[tuple[int, int]] = []  # (bytes, recipients) of every message sent: the floor sends the same

    async def send(messages: Sequence[tuple[Message, str, list[str]]]) -> int:
        """Over as many connections as chidao uses, each taking the next message, flattened once."""
        queue = iter(messages)

        async def connection() -> int:
            client = aiosmtplib.SMTP(hostname="127.0.0.1", port=port)
            await client.connect()
            n = 0
            for message, sender, to in queue:
                data = flatten_message(message, utf8=False, cte_type="8bit")
                await client.sendmail(sender, to, data, mail_options=["BODY=8BITMIME"])
                shapes.append((len(data), len(to)))
                n += 1
            await client.quit()
            return n

        return sum(await asyncio.gather(*(connection() for _ in range(CONNECTIONS))))

    def letter_message(letter: Letter, docx: bytes, pdf: bytes, to: Sequence[str]) -> tuple[Message, str, list[str]]:
        sender = hierarchy.unit(letter.unit).email
        recipients = [(hierarchy.unit(code).name, hierarchy.unit(code).email) for code in to]
        message = build_message(
            letter,
            sender=(letter.issuer_name, sender),
            recipients=recipients,
            msg_id=make_msgid(domain="bench.example"),
            sent=datetime.now().astimezone(),
            docx=docx,
            pdf=pdf,
        )
        return message, sender, [email for _, email in recipients]

    plan = plan_cascade(directive, hierarchy, DRAFT_DATE)
    drafts = [d for level in plan.levels for d in level]
    with clock(times, "bare: render+store"):
        letters = [issued(d.letter, "letter") for d in drafts]
        texts = [rendered(letter) for letter in letters]
    with clock(times, "bare: sign"):
        pdfs = [signed(letter) for letter in letters]
    with clock(times, "bare: render+store"):
        done = [(le, md, html, docx, pdf) for le, (md, html, docx), pdf in zip(letters, texts, pdfs, strict=True)]
        store(done)
    with clock(times, "bare: send"):
        sent = asyncio.run(send([letter_message(le, docx, pdf, le.recipient_units) for le, _, _, docx, pdf in done]))

    due = today + timedelta(days=60)
    owed = [(le, code) for le in letters for code in le.recipient_units if directive.report.owed_by(hierarchy, code)]
    with clock(times, "bare: requests"):  # a row and a notice for every report owed, as `reports request`
        with engine.begin() as conn:
            conn.execute(insert(rows_t), [{"kind": "request", "unit": code} for _, code in owed])
        notices = []
        for letter, code in owed:
            unit, issuer = hierarchy.unit(code), hierarchy.unit(letter.unit)
            body = (
                f"Kính gửi: {unit.name}.\n\n{issuer.name} đề nghị báo cáo kết quả thực hiện Công văn số "
                f"{letter.reference} về việc {letter.subject} về {issuer.self_name} trước ngày {short_date(due)}.\n"
            )
            message = plain_message(
                f"Yêu cầu báo cáo trước ngày {short_date(due)}",
                body,
                sender=(issuer.name, issuer.email),
                recipient=(unit.name, unit.email),
                msg_id=make_msgid(domain="bench.example"),
                sent=datetime.now().astimezone(),
            )
            notices.append((message, issuer.email, [unit.email]))
        asyncio.run(send(notices))

    writers = {le.unit: le for le in letters}
    content = ReportContent(done="Đã triển khai đầy đủ các nội dung được giao.", figures={"tin bài": 2})
    with clock(times, "bare: reports"):
        for _, code in owed:  # one transaction per report, as each clerk sends their own
            if code not in writers:
                with engine.begin() as conn:
                    conn.execute(insert(rows_t), [{"kind": "report", "unit": code}])

    reports_sent = 0
    with clock(times, "bare: consolidate"):  # each writer's BÁO CÁO, level by level from the lowest, sent up
        above_of = {d.letter.unit: d.above for d in drafts}
        for depth in sorted({d.depth for d in drafts}, reverse=True):
            going_up = []
            for draft in (d for d in drafts if d.depth == depth):
                writer = draft.letter.unit
                up = hierarchy.parent(writer)
                if up is None or (depth > 0 and not directive.report.owed_by(hierarchy, writer)):
                    continue  # the root reports to nobody; a unit that owes no report drafts none
                own = writers[writer]
                received = [
                    Received(code, hierarchy.unit(code).name, "received", today, content)
                    for code in own.recipient_units
                    if directive.report.owed_by(hierarchy, code)
                ]
                parent = above_of.get(writer)
                cited = Citation.of(writers[parent]) if parent in writers else None
                report = issued(
                    consolidated(directive, hierarchy, writer, cited, Citation.of(own), received, today), "report"
                )
                md, html, docx = rendered(report)
                pdf = signed(report)
                store([(report, md, html, docx, pdf)])
                going_up.append(letter_message(report, docx, pdf, [parent or up.code]))
            reports_sent += asyncio.run(send(going_up))
    return {
        "times": times,
        "letters": len(letters),
        "messages": sent,
        "notices": len(notices),
        "bc": reports_sent,
        "shapes": shapes,
    }


def run_floor(shapes: list[tuple[int, int]], port: int) -> float:
    """The floor: the same number of messages, of the same sizes and to as many recipients, through the same
    sink over as many connections, with nothing rendered and no chidao. Seconds."""
    import asyncio

    import aiosmtplib

    from chidao.dispatch import CONNECTIONS

    line = b"x" * 76 + b"\r\n"
    queue = iter(shapes)

    async def connection() -> None:
        client = aiosmtplib.SMTP(hostname="127.0.0.1", port=port)
        await client.connect()
        for size, recipients in queue:
            body = line * max(1, size // len(line))
            to = [f"floor{i}@bench.example" for i in range(recipients)]
            await client.sendmail("floor@bench.example", to, b"Subject: floor\r\n\r\n" + body)
        await client.quit()

    async def everything() -> None:
        await asyncio.gather(*(connection() for _ in range(CONNECTIONS)))

    start = time.perf_counter()
    asyncio.run(everything())
    return time.perf_counter() - start


# --- driver --------------------------------------------------------------------------------------


def one(label: str, hierarchy_file: Path, directive_file: Path) -> dict[str, Any]:
    """One size: chidao in this process, then the bare loop in a process of its own (its caches as cold as
    chidao's were: keys parsed, faces cut, templates compiled by itself), each against its own fresh sink."""
    from hierarchy.load import load_hierarchy

    units = len(load_hierarchy(hierarchy_file).graph)
    with tempfile.TemporaryDirectory(prefix="chidao-bench-") as tmp:
        work = Path(tmp)
        with sink_process() as port:
            chidao = run_chidao(hierarchy_file, directive_file, work, port)
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # chidao's alone
        with sink_process() as port:
            bare = run_bare_child(hierarchy_file, directive_file, work, port)
        with sink_process() as port:
            bare["floor"] = run_floor(bare.pop("shapes"), port)
    return {
        "label": label,
        "units": units,
        "chidao": chidao,
        "bare": bare,
        "sink": SINK_COUNTS,
        "peak_rss_mib": rss,
    }


def run_bare_child(hierarchy_file: Path, directive_file: Path, work: Path, port: int) -> dict[str, Any]:
    command = [sys.executable, __file__, "--bare", str(work), "--port", str(port)]
    command += ["--hierarchy", str(hierarchy_file), "--directive", str(directive_file)]
    proc = subprocess.run(command, stdout=subprocess.PIPE, text=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"the bare loop failed (exit {proc.returncode}); its output is above")
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def run_child(label: str, hierarchy_file: Path, directive_file: Path) -> dict[str, Any]:
    proc = subprocess.run(
        [
            sys.executable,
            __file__,
            "--one",
            label,
            "--hierarchy",
            str(hierarchy_file),
            "--directive",
            str(directive_file),
            *(["--profile", str(PROFILE / label.replace(" ", "-").replace(".", ""))] if PROFILE else []),
        ],
        stdout=subprocess.PIPE,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        raise SystemExit(f"bench: size {label} failed (exit {proc.returncode}); its output is above")
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


PHASES = ("drafts", "approve", "dispatch", "requests", "reports", "consolidate", "sweep", "replay+verify")
APART = ("prefect start", "trial PKI")  # shown, not counted in the totals
BARE = ("bare: render+store", "bare: sign", "bare: send", "bare: requests", "bare: reports", "bare: consolidate")


def table(results: list[dict[str, Any]]) -> str:
    head = ["phase (s)"] + [f"{r['label']} ({r['units']:,} units)" for r in results]
    rows = [head]
    for phase in APART + PHASES:
        rows.append([phase] + [f"{r['chidao']['times'][phase]:.2f}" for r in results])
    totals = [sum(r["chidao"]["times"][p] for p in PHASES) for r in results]
    bares = [sum(r["bare"]["times"].values()) for r in results]
    rows.append(["chidao, all phases"] + [f"{t:.2f}" for t in totals])
    for phase in BARE:
        rows.append([phase] + [f"{r['bare']['times'][phase]:.2f}" for r in results])
    rows.append(["bare loop, all"] + [f"{b:.2f}" for b in bares])
    rows.append(["floor: same messages, no rendering"] + [f"{r['bare']['floor']:.2f}" for r in results])
    rows.append(["ratio chidao / bare"] + [f"{t / b:.2f}" for t, b in zip(totals, bares, strict=True)])
    rows.append(["units per second"] + [f"{r['units'] / t:,.0f}" for r, t in zip(results, totals, strict=True)])
    rows.append(["peak RSS (MiB)"] + [f"{r['peak_rss_mib']:.0f}" for r in results])
    for key in ("letters", "messages", "notices", "reports", "events", "signing_keys"):
        rows.append([key.replace("_", " ")] + [f"{r['chidao'][key]:,}" for r in results])
    rows.append(["BÁO CÁO (chidao)"] + [f"{r['chidao']['bc']:,}" for r in results])
    rows.append(["BÁO CÁO (bare)"] + [f"{r['bare']['bc']:,}" for r in results])
    rows.append(["sink received (chidao)"] + [f"{r['sink'][0]['messages']:,}" for r in results])
    rows.append(["sink received (bare)"] + [f"{r['sink'][1]['messages']:,}" for r in results])
    rows.append(["top reported"] + ["yes" if r["chidao"]["top_reported"] else "NO" for r in results])
    widths = [max(len(row[i]) for row in rows) for i in range(len(head))]
    lines = [
        "  ".join(
            cell.ljust(w) if i == 0 else cell.rjust(w) for i, (cell, w) in enumerate(zip(row, widths, strict=True))
        )
        for row in rows
    ]
    lines.insert(1, "-" * len(lines[0]))
    if len(results) > 1:
        small, large = min(results, key=lambda r: r["units"]), max(results, key=lambda r: r["units"])
        ts = totals[results.index(small)]
        tl = totals[results.index(large)]
        lines.append(
            f"growth: {large['units'] / small['units']:.1f}x the units took {tl / ts:.1f}x the time "
            f"({small['units']:,} -> {large['units']:,} units)"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--provinces", default="4,16", help="Synthetic sizes: copies of the department's subtree")
    parser.add_argument(
        "--national", default="2025,pre2025", help="National hierarchies to run ('' for none): 2025, pre2025"
    )
    parser.add_argument(
        "--cache", default=str(Path.home() / ".cache" / "chidao" / "bench"), help="Where the national inputs are kept"
    )
    parser.add_argument("--hierarchy", action="append", default=[], help="A hierarchy file to run as well")
    parser.add_argument("--directive", action="append", default=[], help="Its directive (one per --hierarchy)")
    parser.add_argument("--one", help=argparse.SUPPRESS)
    parser.add_argument("--bare", help=argparse.SUPPRESS)  # the bare loop alone, in this work folder
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--json", help="Also write the results to this JSON file")
    parser.add_argument("--profile", help="Profile each phase (cProfile, slower): stats kept in this folder")
    args = parser.parse_args()
    if args.profile:
        global PROFILE
        PROFILE = Path(args.profile).resolve()
        PROFILE.mkdir(parents=True, exist_ok=True)
    if args.bare:
        bare = run_bare(Path(args.hierarchy[0]), Path(args.directive[0]), Path(args.bare), args.port)
        print(json.dumps(bare))
        return
    if args.one:
        result = one(args.one, Path(args.hierarchy[0]), Path(args.directive[0]))
        print(json.dumps(result))
        return
    if len(args.hierarchy) != len(args.directive):
        parser.error("give one --directive per --hierarchy")
    runs: list[tuple[str, Path, Path]] = []
    inputs = Path(tempfile.mkdtemp(prefix="chidao-bench-inputs-"))
    directive = inputs / "directive.yaml"
    directive.write_text(yaml.safe_dump(ministry_directive(), allow_unicode=True, sort_keys=False), encoding="utf-8")
    for count in [int(p) for p in args.provinces.split(",") if p]:
        path = inputs / f"synthetic-{count}.yaml"
        path.write_text(yaml.safe_dump(synthetic_hierarchy(count), allow_unicode=True, sort_keys=False), "utf-8")
        runs.append((f"{count} prov.", path, directive))
    for shape in [s for s in args.national.split(",") if s]:
        h, d = national_inputs(shape, Path(args.cache))
        runs.append((f"national {shape}", h, d))
    for h, d in zip(args.hierarchy, args.directive, strict=True):
        runs.append((Path(h).stem, Path(h), Path(d)))
    results = []
    for label, h, d in runs:
        print(f"{label}:", file=sys.stderr, flush=True)
        results.append(run_child(label, h, d))
    print(table(results))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
