"""Benchmark: the desk under load: signed-in clients reading the inbox, a cascade, letters and reports,
while clerks submit reports, against `chidao serve` in its own process(es) on loopback.

Run: .venv/bin/python bench/desk.py [--clients 50] [--seconds 30] [--workers 2] [--submitters 1]

Sets up the Lạng Sơn cascade (the department's and the districts' letters signed and sent, accounts for
every approver and reporter), starts `chidao serve`, signs every client in and has each read its pages once
(untimed: the workers' caches filled, every connection fresh), then for --seconds each reader loops over its
pages (an approver: the inbox and its letter; the department: a cascade's page; a clerk: its reports and one
report's page) while the submitters post reports in a loop. Prints requests per
second, latency percentiles (all readers; and readers alone, before the submitters start), errors, and
what a submission adds to the readers' p95. The load generator shares the machine's cores: the figures
are the desk's and the generator's together. Not part of the tests.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
PASSWORD = "mật khẩu đủ dài 2024"
VN = ZoneInfo("Asia/Ho_Chi_Minh")


def prepare(work: Path) -> tuple[str, dict[str, Any]]:
    """The cascade, signed and sent to a sink, and the accounts; returns the database URL and who is who."""
    os.environ["CHIDAO_DATA_DIR"] = str(work / "data")
    url = f"sqlite:///{work / 'chidao.db'}"
    os.environ["CHIDAO_DATABASE_URL"] = url
    from chidao import approval
    from chidao.accounts import add_account, people
    from chidao.cascade import begin, draft_below, load_inputs
    from chidao.dispatch import dispatch
    from db.engine import transaction
    from db.letters import list_letters
    from db.migrate import upgrade
    from hierarchy.load import load_hierarchy
    from mail.sink import free_port, start_sink
    from mail.smtp import SmtpConfig
    from signing.pki import make_pki

    upgrade(url)
    hierarchy_file = ROOT / "examples" / "langson" / "hierarchy.yaml"
    h = load_hierarchy(hierarchy_file)
    made = make_pki(h, work / "pki", store="pkcs12")
    os.environ["CHIDAO_KEYS"] = str(made.keys_file)
    text = (ROOT / "examples" / "langson" / "directive-hsg-2023.yaml").read_text(encoding="utf-8")
    due = datetime.now(VN).date().replace(year=datetime.now(VN).year + 1)
    directive = work / "directive.yaml"
    directive.write_text(
        text.replace("report:\n  due: on_request", f"report:\n  due: {due.isoformat()}\n  lead_days: 2"),
        encoding="utf-8",
    )
    d, _ = load_inputs(directive, hierarchy_file)
    port = free_port()
    sink = start_sink(work / "mail", port)
    try:
        with transaction(url) as session:
            begun = begin(session, d, h, datetime.now(VN).date(), "bench")
            parents = [begun.root_letter_id]
            while parents:
                parents = draft_below(session, begun.cascade_id, parents, "bench").letter_ids
            letters = list_letters(session, cascade_id=begun.cascade_id)
            root = next(r for r in letters if r.depth == 0)
            approval.approve(session, root.id, h.unit(root.unit_code).approvers[0].id)
            for row in letters:
                if row.depth == 1 and row.unit_code != "183.VHTT":  # Cao Lộc's stays a draft: an inbox
                    approval.approve(session, row.id, h.unit(row.unit_code).approvers[0].id)
            named = people(h)
            for person, name in named.items():
                add_account(session, person, name, "person", PASSWORD)
            cao_loc = next(r.id for r in letters if r.unit_code == "183.VHTT")
        dispatch(url, SmtpConfig("127.0.0.1", port))
    finally:
        sink.stop()
    clerks = [p.id for code in h.graph for p in h.unit(code).reporters][:40]
    return url, {"cascade": begun.cascade_id, "cao_loc": cao_loc, "clerks": clerks, "hierarchy": hierarchy_file}


@dataclass
class Client:
    who: str
    pages: list[str]
    times: list[tuple[float, float, bool]] = field(default_factory=list)  # (when, seconds, during submissions)


async def sign_in(http: Any, who: str) -> str:
    page = await http.get("/sign-in")
    token = re.search(r'name="csrf" value="([^"]+)"', page.text)
    answer = await http.post(
        "/sign-in", data={"account": who, "password": PASSWORD, "next": "/", "csrf": token.group(1) if token else ""}
    )
    assert answer.status_code == 200, (who, answer.status_code)
    return who


async def warm(http: Any, client: Client, errors: list[str]) -> None:
    """The client's pages once, untimed."""
    for path in client.pages:
        answer = await http.get(path)
        if answer.status_code != 200:
            errors.append(f"{client.who} {path} (before the run): {answer.status_code}")


async def read_loop(http: Any, client: Client, until: float, busy: list[bool], errors: list[str]) -> None:
    i = 0
    while time.monotonic() < until:
        path = client.pages[i % len(client.pages)]
        i += 1
        started = time.monotonic()
        try:
            answer = await http.get(path)
            ok = answer.status_code == 200
        except Exception as exc:  # a refused connection is an error of the desk's
            ok, answer = False, exc
        spent = time.monotonic() - started
        if not ok:
            errors.append(f"{client.who} {path}: {getattr(answer, 'status_code', answer)}")
        client.times.append((started, spent, busy[0]))


async def submit_loop(http: Any, request_id: int, until: float, spent: list[float], errors: list[str]) -> None:
    while time.monotonic() < until:
        page = await http.get(f"/reports/{request_id}")
        token = re.search(r'name="csrf" value="([^"]+)"', page.text)
        started = time.monotonic()
        answer = await http.post(
            f"/reports/{request_id}",
            data={"done": "Đã tuyên truyền.", "figures": "Số buổi: 3", "csrf": token.group(1) if token else ""},
        )
        spent.append(time.monotonic() - started)
        if answer.status_code != 200:
            errors.append(f"submission: {answer.status_code}")


def cpu_seconds(pid: int) -> float:
    """CPU time (user and system) of a process and every process under it: the desk's workers. The machine
    is shared, so requests per CPU second say more than requests per second when others run too."""
    total, todo = 0.0, [pid]
    while todo:
        current = todo.pop()
        try:
            fields = Path(f"/proc/{current}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
            todo += [int(c) for c in Path(f"/proc/{current}/task/{current}/children").read_text().split()]
        except (OSError, IndexError, ValueError):
            continue
    return total


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else 0.0


async def load(base: str, setup: dict[str, Any], clients: int, seconds: float, submitters: int, server: int) -> None:
    import httpx

    from db.engine import transaction
    from db.models import ReportRequest

    with transaction(os.environ["CHIDAO_DATABASE_URL"]) as session:
        requests = {r.unit_code: r.id for r in session.query(ReportRequest).all()}
    readers: list[Client] = []
    for n in range(clients):
        kind = n % 3
        if kind == 0:
            readers.append(Client("stttt-langson-gd", ["/cascades", f"/cascades/{setup['cascade']}", "/inbox"]))
        elif kind == 1:
            readers.append(Client("vhtt-caoloc-tp", ["/inbox", f"/letters/{setup['cao_loc']}"]))
        else:
            clerk = setup["clerks"][n % len(setup["clerks"])]
            unit = next((code for code in requests if clerk.endswith(code)), None)
            pages = ["/reports"] + ([f"/reports/{requests[unit]}"] if unit else [])
            readers.append(Client(clerk, pages))
    limits = httpx.Limits(max_connections=1)
    https = [httpx.AsyncClient(base_url=base, follow_redirects=True, timeout=60, limits=limits) for _ in readers]
    errors: list[str] = []
    try:
        await asyncio.gather(*(sign_in(h, c.who) for h, c in zip(https, readers, strict=True)))
        submitting = [httpx.AsyncClient(base_url=base, follow_redirects=True, timeout=60) for _ in range(submitters)]
        owed = [r for code, r in requests.items() if code.isdigit()][: max(1, submitters)]
        for h, clerk_request in zip(submitting, owed, strict=False):
            clerk = next(
                c for c in setup["clerks"] if c.endswith(next(k for k, v in requests.items() if v == clerk_request))
            )
            await sign_in(h, clerk)
        # every page once before the clock starts: each worker's caches filled (a served desk's steady state),
        # and each client's connection fresh (one left idle past uvicorn's 5 s keep-alive while the others
        # signed in could be closed as the first timed request went out: an error of the generator's)
        await asyncio.gather(*(warm(h, c, errors) for h, c in zip(https, readers, strict=True)))
        half = seconds / 2
        busy = [False]
        cpu_desk, cpu_self = cpu_seconds(server), time.process_time()
        start = time.monotonic()
        until = start + seconds
        spent: list[float] = []

        async def later() -> None:
            await asyncio.sleep(half)
            busy[0] = True
            await asyncio.gather(
                *(submit_loop(h, r, until, spent, errors) for h, r in zip(submitting, owed, strict=False))
            )

        await asyncio.gather(
            *(read_loop(h, c, until, busy, errors) for h, c in zip(https, readers, strict=True)), later()
        )
        elapsed = time.monotonic() - start
        cpu_desk, cpu_self = cpu_seconds(server) - cpu_desk, time.process_time() - cpu_self
    finally:
        for h in https:
            await h.aclose()
    quiet = [t for c in readers for _, t, b in c.times if not b]
    loaded = [t for c in readers for _, t, b in c.times if b]
    every = quiet + loaded
    print(f"{clients} signed-in readers, {submitters} submitter(s), {seconds:.0f} s (submissions in the second half)")
    print(f"  requests: {len(every)} in {elapsed:.1f} s = {len(every) / elapsed:.0f}/s; errors: {len(errors)}")
    done = max(1, len(every) + len(spent))
    print(
        f"  CPU per request: the desk {cpu_desk / done * 1000:.1f} ms, "
        f"the load generator {cpu_self / done * 1000:.1f} ms "
        f"(load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)"
    )
    for label, values in (("readers alone", quiet), ("with submissions", loaded), ("all", every)):
        if values:
            p50, p95, p99 = (percentile(values, share) * 1000 for share in (0.5, 0.95, 0.99))
            print(
                f"  {label:<17} p50 {p50:6.0f} ms  p95 {p95:6.0f} ms  p99 {p99:6.0f} ms"
                f"  max {max(values) * 1000:6.0f} ms  ({len(values)})"
            )
    if quiet and loaded:
        added = (percentile(loaded, 0.95) - percentile(quiet, 0.95)) * 1000
        print(f"  a submission adds {added:.0f} ms to the readers' p95")
    if spent:
        print(f"  submissions: {len(spent)}, p50 {statistics.median(spent) * 1000:.0f} ms")
    for error in errors[:5]:
        print(f"  error: {error}")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--workers", type=int, default=2, help="chidao serve --workers")
    parser.add_argument("--submitters", type=int, default=1)
    args = parser.parse_args()
    from mail.sink import free_port

    with tempfile.TemporaryDirectory(prefix="chidao-desk-bench-") as folder:
        work = Path(folder)
        url, setup = prepare(work)
        port = free_port()
        env = dict(os.environ) | {"CHIDAO_SMTP_URL": f"smtp://127.0.0.1:{free_port()}"}
        command = [
            str(ROOT / ".venv" / "bin" / "chidao"),
            "serve",
            "--port",
            str(port),
            "--hierarchy",
            str(setup["hierarchy"]),
            "--workers",
            str(args.workers),
        ]
        server = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        try:
            import httpx

            deadline = time.monotonic() + 60
            while True:
                try:
                    if httpx.get(f"http://127.0.0.1:{port}/sign-in", timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline or server.poll() is not None:
                    raise SystemExit(f"the desk did not start: {server.stderr.read() if server.stderr else ''}")
                time.sleep(0.3)
            print(f"chidao serve, {args.workers} worker process(es), on {url}")
            asyncio.run(
                load(f"http://127.0.0.1:{port}", setup, args.clients, args.seconds, args.submitters, server.pid)
            )
        finally:
            server.terminate()
            server.wait(10)


if __name__ == "__main__":
    main()
