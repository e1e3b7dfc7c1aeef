"""Fixtures over real parts: SQLite files, a PostgreSQL database per test, one Prefect harness per session."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from chidao.settings import quiet_prefect

quiet_prefect()

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data"
LANGSON = ROOT / "examples" / "langson"
SEEDS = DATA / "seeds"  # copies of ../shared/seeds, the two real letters of a cascade
POSTGRES = os.environ.get("CHIDAO_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


def _postgres_admin() -> object | None:
    import psycopg

    try:
        return psycopg.connect(
            POSTGRES.replace("postgresql+psycopg://", "postgresql://"), autocommit=True, connect_timeout=3
        )
    except psycopg.OperationalError as exc:
        if os.environ.get("CHIDAO_REQUIRE_POSTGRES"):
            pytest.fail(f"PostgreSQL required (CHIDAO_REQUIRE_POSTGRES) but unreachable at {POSTGRES}: {exc}")
        return None


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh, empty PostgreSQL database, dropped afterwards."""
    import psycopg

    admin = _postgres_admin()
    if admin is None:
        pytest.skip(f"PostgreSQL not reachable at {POSTGRES}")
    assert isinstance(admin, psycopg.Connection)
    name = f"chidao_test_{uuid.uuid4().hex[:12]}"
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
        base = POSTGRES.rsplit("/", 1)[0]
        url = f"{base}/{name}".replace("postgresql://", "postgresql+psycopg://")
        try:
            yield url
        finally:
            from db.engine import engine_for

            engine_for(url).dispose()
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'chidao.db'}"


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Each test using this runs twice: on SQLite and on PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'chidao.db'}"
    url: str = request.getfixturevalue("postgres_url")
    return url


@pytest.fixture
def chidao_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, database_url: str) -> str:
    """Point chidao at a fresh data directory and database, as a user's environment would."""
    monkeypatch.setenv("CHIDAO_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("CHIDAO_DATABASE_URL", database_url)
    return database_url


@pytest.fixture(scope="session", autouse=True)
def inline_flow_runs() -> Iterator[None]:
    """The flows a test calls run as the CLI and the desk run theirs: without Prefect's heartbeat thread."""
    from flows.runs import inline

    with inline():
        yield


@pytest.fixture(scope="session")
def prefect_server(inline_flow_runs: None) -> Iterator[None]:
    """A real Prefect API (temporary server, throwaway database) for the whole session."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=60):
        yield


@pytest.fixture
def prefect_api_url(prefect_server: None) -> str:
    """The session's Prefect API, for the chidao processes a test starts: they record their flow runs there
    instead of each starting a temporary server of its own (which a SIGKILL would leave running)."""
    from prefect.settings import PREFECT_API_URL

    return str(PREFECT_API_URL.value())


@pytest.fixture
def mini_directive(tmp_path: Path) -> Path:
    """The seed-001 directive, issued by the fictional province's department."""
    text = (
        (LANGSON / "directive-hsg-2023.yaml")
        .read_text(encoding="utf-8")
        .replace('issuer: "20.STTTT"', 'issuer: "90.S"')
    )
    path = tmp_path / "directive.yaml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def maildir(tmp_path: Path) -> Path:
    return tmp_path / "mail"


@pytest.fixture
def smtp_url(monkeypatch: pytest.MonkeyPatch) -> str:
    """A loopback port for a sink the test starts itself; CHIDAO_SMTP_URL points at it."""
    from mail.sink import free_port

    url = f"smtp://127.0.0.1:{free_port()}"
    monkeypatch.setenv("CHIDAO_SMTP_URL", url)
    return url


@pytest.fixture
def sink(smtp_url: str, maildir: Path) -> Iterator[Path]:
    """A real aiosmtpd server on 127.0.0.1 keeping messages in a Maildir."""
    from mail.sink import start_sink

    controller = start_sink(maildir, int(smtp_url.rsplit(":", 1)[1]))
    try:
        yield maildir
    finally:
        controller.stop()


@pytest.fixture
def dated_directive(mini_directive: Path) -> Path:
    """The mini directive with reports due 16/02/2024 to the department, two working days kept per level."""
    from tests.steps import with_dated_report

    return with_dated_report(mini_directive)


CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


@pytest.fixture
def browser() -> Iterator[Any]:
    """Debian's headless Chromium driven by Playwright, for the tests that look at a page.

    Per test, and to be requested after any work that runs asyncio: Playwright's sync API keeps an event
    loop running in this thread while the browser is open."""
    if not Path(CHROMIUM).exists():
        if os.environ.get("CHIDAO_REQUIRE_BROWSER"):
            pytest.fail("Chromium required (CHIDAO_REQUIRE_BROWSER) but not installed: run scripts/setup --system")
        pytest.skip("Chromium not installed (scripts/setup --system)")
    from playwright.sync_api import sync_playwright

    args = [
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
    ]
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=args)
        yield chromium
        chromium.close()


@pytest.fixture
def screenshots(tmp_path: Path) -> Path:
    """Where a test leaves its screenshots for a person to look at (CHIDAO_SCREENSHOTS, else the test's tmp)."""
    shots = Path(os.environ.get("CHIDAO_SCREENSHOTS", tmp_path))
    shots.mkdir(parents=True, exist_ok=True)
    return shots


TEST_HIERARCHIES = (
    LANGSON / "hierarchy.yaml",
    LANGSON / "hierarchy-2025.yaml",
    DATA / "mini.yaml",
    DATA / "mini-2025.yaml",
    DATA / "ministry.yaml",
)


@pytest.fixture(scope="session", autouse=True)
def signing_keys(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """One trial PKI for the whole run (CHIDAO_KEYS): every approver and issuing unit of the test hierarchies,
    keys on SoftHSM2 tokens, a real PKCS#11 interface (PKCS#12 files where SoftHSM2 is missing, unless
    CHIDAO_REQUIRE_SOFTHSM). Every key has its PIN in a file, so letters are signed unattended."""
    from hierarchy.load import load_hierarchy
    from signing.pki import make_pki, softhsm_module

    store = "softhsm" if softhsm_module() else "pkcs12"
    if store == "pkcs12" and os.environ.get("CHIDAO_REQUIRE_SOFTHSM"):
        pytest.fail("SoftHSM2 required (CHIDAO_REQUIRE_SOFTHSM) but not installed: run scripts/setup --system")
    made = make_pki([load_hierarchy(f) for f in TEST_HIERARCHIES], tmp_path_factory.mktemp("pki") / "pki", store=store)
    os.environ["CHIDAO_KEYS"] = str(made.keys_file)
    yield made.keys_file
