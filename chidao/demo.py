"""The demo: the seed cascade from directive to mailboxes, on embedded defaults."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from chidao import approval
from chidao.dispatch import dispatch
from chidao.settings import settings
from db.cascades import get_cascade, inputs_of, letter_content
from db.engine import transaction
from db.letters import list_letters
from db.migrate import upgrade
from letters.render import render_html
from mail.sink import free_port, start_sink
from mail.smtp import SmtpConfig


@dataclass
class DemoResult:
    cascade_id: int
    letters_per_level: list[int]
    approved: int
    sent: int
    failed: int
    letters_dir: Path
    maildir: Path


def run_demo(example: Path, output: Path | None = None) -> DemoResult:
    """Start a sink, run the cascade flow, approve each letter as its signer (or first approver), send all."""
    from chidao.cli import start_cascade

    url = settings().url
    upgrade(url)
    maildir = settings().data_dir / "mail"
    port = free_port()
    sink = start_sink(maildir, port)
    config = SmtpConfig("127.0.0.1", port)
    try:
        summary = start_cascade(
            str(example / "directive-hsg-2023.yaml"), str(example / "hierarchy.yaml"), None, show_progress=True
        )
        approved = sent = failed = 0
        for depth in range(len(summary.letters_per_level)):
            with transaction(url) as session:
                _, hierarchy = inputs_of(session, get_cascade(session, summary.cascade_id))
                level = [r for r in list_letters(session, cascade_id=summary.cascade_id) if r.depth == depth]
                for row in level:
                    if row.status not in approval.OPEN:
                        continue
                    signer = letter_content(row).signer.name
                    people = hierarchy.unit(row.unit_code).approvers
                    who = next((p.id for p in people if p.name == signer), people[0].id)
                    approval.approve(session, row.id, who)
                    approved += 1
                ids = [r.id for r in level]
            report = dispatch(url, config, ids)
            sent, failed = sent + report.count("sent"), failed + report.count("failed")
    finally:
        sink.stop()
    out = output or settings().data_dir / "demo" / f"cascade-{summary.cascade_id}"
    out.mkdir(parents=True, exist_ok=True)
    with transaction(url) as session:
        for row in list_letters(session, cascade_id=summary.cascade_id):
            stem = f"{row.depth}-{row.unit_code}"
            (out / f"{stem}.md").write_text(row.markdown, encoding="utf-8")
            (out / f"{stem}.html").write_text(render_html(letter_content(row)), encoding="utf-8")
    return DemoResult(summary.cascade_id, summary.letters_per_level, approved, sent, failed, out, maildir)
