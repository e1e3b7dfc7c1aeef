"""Starting a cascade from the desk: a pasted or uploaded directive, its plan, then the cascade flow.

The plan is computed from the text alone (nothing stored). Starting stores the directive's text under
DATA_DIR/directives, named by its hash, and runs the same `cascade` flow `chidao cascade start` runs, in a
thread of the server; its progress is shown on a page that refreshes itself. The job's state is kept in a file
beside the directives, so that whichever worker process of `chidao serve --workers N` answers the page shows it.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import secrets
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from chidao import progress
from chidao.approval import approvers_of
from chidao.cascade import draft_date_for, started_today
from chidao.refusals import Refused
from chidao.settings import settings
from db.base import utcnow
from hierarchy.graph import Hierarchy
from hierarchy.load import load_hierarchy
from inputs.limits import DIRECTIVE
from inputs.vietnamese import nfc
from letters.content import Letter
from letters.directive import Directive, parse_directive
from letters.plan import NothingToSend, Plan, plan_cascade

MAX_DIRECTIVE = DIRECTIVE.max_bytes  # inputs.limits: the same limit as the CLI's
JOB_ID = re.compile(r"[A-Za-z0-9_-]{16}")  # secrets.token_urlsafe(12)
SAVE_EVERY = 0.5  # seconds between writes of a running job's progress
STOPPED = "máy chủ chạy việc này đã dừng giữa chừng; hãy khởi động lại (không văn bản nào bị tạo hai lần)."


class StartError(Exception):
    """A directive that cannot start a cascade; the message says why."""


class NotStarter(Exception):
    def __init__(self, actor: str, issuer: str, approvers: list[str]) -> None:
        super().__init__(f"{actor!r} is not an approver of {issuer} (approvers: {', '.join(approvers) or 'nobody'})")
        self.actor, self.issuer = actor, issuer

    def refused(self) -> Refused:
        return Refused(str(self), user=self.actor, cascade_id=None, action="start a cascade", issuer=self.issuer)


@dataclass
class Planned:
    text: str
    directive: Directive
    hierarchy: Hierarchy
    plan: Plan
    starters: list[str]

    @property
    def first(self) -> Letter:
        return self.plan.levels[0][0].letter

    def levels(self) -> list[list[dict[str, Any]]]:
        return [
            [
                {
                    "unit": self.hierarchy.unit(d.letter.unit),
                    "recipients": len(d.letter.recipient_units),
                    "sections": len(d.letter.sections),
                }
                for d in level
            ]
            for level in self.plan.levels
        ]


@dataclass
class Job:
    id: str
    actor: str
    digest: str
    starters: frozenset[str]  # the issuer's approvers: who may follow the job
    started: datetime = field(default_factory=utcnow)
    state: str = "running"  # running, done, failed
    done: int = 0
    total: int = 0
    cascade_id: int | None = None
    letters: int = 0
    error: str | None = None
    pid: int = field(default_factory=os.getpid)  # the process running it

    def to_data(self) -> dict[str, object]:
        return {
            "id": self.id,
            "actor": self.actor,
            "digest": self.digest,
            "starters": sorted(self.starters),
            "started": self.started.isoformat(),
            "state": self.state,
            "done": self.done,
            "total": self.total,
            "cascade_id": self.cascade_id,
            "letters": self.letters,
            "error": self.error,
            "pid": self.pid,
        }

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> Job:
        """A job as saved; one whose process is gone is told as stopped, not as running for ever."""
        found = cls(
            **{**data, "starters": frozenset(data["starters"]), "started": datetime.fromisoformat(data["started"])}
        )
        if found.state == "running" and not _alive(found.pid):
            found.state, found.error = "failed", STOPPED
        return found


class Starts:
    def __init__(self, folder: Path, url: str | None = None) -> None:
        self.folder, self.url = folder, url  # url: the database whose waiting letters are told by e-mail
        self._jobs: dict[str, Job] = {}
        self._lock = threading.Lock()
        self._hierarchy: tuple[tuple[Path, float], Hierarchy] | None = None

    def hierarchy(self, path: Path) -> Hierarchy:
        """The served hierarchy, read again only when the file changes (a national one takes seconds)."""
        key = (path, path.stat().st_mtime)
        if self._hierarchy is None or self._hierarchy[0] != key:
            self._hierarchy = (key, load_hierarchy(path, smtputf8=settings().smtputf8))
        return self._hierarchy[1]

    def plan(self, text: str, name: str, hierarchy_path: Path) -> Planned:
        """What the directive would draft at each level; InputError names the field and line."""
        text = nfc(text).replace("\r\n", "\n")
        if not text.strip():
            raise StartError("Chưa có nội dung: hãy dán hoặc tải lên tệp chỉ đạo (YAML).")
        if len(text.encode()) > MAX_DIRECTIVE:
            raise StartError(f"{name}: tệp lớn hơn {MAX_DIRECTIVE // 1024} KB.")
        hierarchy = self.hierarchy(hierarchy_path)
        directive = parse_directive(text, hierarchy, name, started_today())
        try:
            plan = plan_cascade(directive, hierarchy, draft_date_for(directive))
        except NothingToSend as exc:
            raise StartError(f"{name}: {exc}") from None
        return Planned(text, directive, hierarchy, plan, approvers_of(hierarchy, directive.issuer))

    def start(self, text: str, hierarchy_path: Path, actor: str) -> Job:
        """Check again (the text came back from the browser), store it, run the flow in a thread."""
        planned = self.plan(text, "chỉ đạo", hierarchy_path)
        if actor not in planned.starters:
            raise NotStarter(actor, planned.directive.issuer, planned.starters)
        digest = hashlib.sha256(planned.text.encode()).hexdigest()
        path = self._store(digest, planned.text)
        with self._lock:
            for job in [*self._jobs.values(), *self._saved()]:
                if job.digest == digest and job.state == "running":
                    return job  # the same directive twice: one run (the flow itself creates nothing twice)
            job = Job(secrets.token_urlsafe(12), actor, digest, frozenset(planned.starters))
            self._jobs[job.id] = job
            self._save(job)
        threading.Thread(target=self._run, args=(job, path, hierarchy_path), daemon=True).start()
        return job

    def job(self, job_id: str) -> Job | None:
        """This process's job as it runs, or another process's as it last saved it."""
        found = self._jobs.get(job_id)
        if found is not None or not JOB_ID.fullmatch(job_id):
            return found
        try:
            return Job.from_data(json.loads((self.folder / "jobs" / f"{job_id}.json").read_text(encoding="utf-8")))
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def _saved(self) -> list[Job]:
        """Every job saved by any process (a handful: cascades are started by hand)."""
        found = []
        for path in (self.folder / "jobs").glob("*.json"):
            job = self.job(path.stem)
            if job is not None:
                found.append(job)
        return found

    def _save(self, job: Job) -> None:
        folder = self.folder / "jobs"
        folder.mkdir(parents=True, exist_ok=True)
        partial = folder / f"{job.id}.{os.getpid()}.{threading.get_ident()}.part"
        partial.write_text(json.dumps(job.to_data(), ensure_ascii=False), encoding="utf-8")
        partial.replace(folder / f"{job.id}.json")

    def _store(self, digest: str, text: str) -> Path:
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self.folder / f"{digest}.yaml"
        if not path.exists():
            partial = path.with_suffix(f".{os.getpid()}.part")
            partial.write_text(text, encoding="utf-8")
            partial.replace(path)
        return path

    def _run(self, job: Job, path: Path, hierarchy_path: Path) -> None:
        from flows.cascade import CascadeParams
        from flows.cascade import cascade as cascade_flow
        from flows.runs import inline

        saved = time.monotonic()

        def update(what: str, done: int, total: int) -> None:
            nonlocal saved
            if what == "letters":
                job.done, job.total = done, max(total, done)
                if time.monotonic() - saved >= SAVE_EVERY:  # for the pages other worker processes answer
                    self._save(job)
                    saved = time.monotonic()

        stop = progress.listen(update)
        try:
            with inline():
                params = CascadeParams(directive=str(path), hierarchy=str(hierarchy_path), actor=job.actor)
                summary = cascade_flow(params)
            job.cascade_id, job.letters, job.state = summary.cascade_id, summary.letters, "done"
            if self.url:  # the department's letter waits for its approvers (or its drafters): tell them
                from chidao import notices

                notices.notify_quietly(self.url)
        except Exception as exc:  # shown on the job's page; the flow run keeps its own record
            job.error, job.state = f"{type(exc).__name__}: {exc}", "failed"
        finally:
            stop()
            self._save(job)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: alive
        return True
    return True
