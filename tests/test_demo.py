"""`chidao demo`, the README's main job: the seed cascade from directive to mailboxes."""

import json
from email import message_from_bytes, policy
from pathlib import Path

import pytest
from click.testing import CliRunner

from cli import main
from db.engine import transaction
from db.models import LetterRecord, RecipientRecord
from mail.sink import messages


@pytest.mark.usefixtures("prefect_server")
def test_demo_drafts_signs_and_delivers_the_seed_cascade(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("CHIDAO_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("CHIDAO_DATABASE_URL", raising=False)
    result = CliRunner().invoke(main, ["demo"])
    assert result.exit_code == 0, result.output
    assert "12 letter(s) — per level [1, 11]; 12 approved now." in result.output
    url = f"sqlite:///{tmp_path / 'chidao.db'}"
    with transaction(url) as session:
        letters = session.query(LetterRecord).all()
        recipients = session.query(RecipientRecord).all()
        assert {row.status for row in letters} == {"sent"}
        assert sorted(row.number or 0 for row in letters if row.unit_code.endswith(".VHTT")) == [1] * 11
        wanted = sorted((r.email, r.message_id) for r in recipients)
    assert f"Messages: {len(recipients)} sent" in result.output
    mail = [message_from_bytes(raw, policy=policy.default) for raw in messages(tmp_path / "mail")]
    got = sorted(
        (str(m["X-Envelope-To"]), str(m["Message-ID"])) for m in mail if m["Message-ID"].startswith("<letter-")
    )
    assert got == wanted  # every recipient exactly its letters, once
    # The upward half: 18 communes reported; every other unit of the lowest level is reminded on the eve.
    assert "Reports: 18 simulated from communes" in result.output
    reminders = [m for m in mail if m["Message-ID"].startswith("<reminder-")]
    lowest = sum(1 for r in recipients if not r.unit_code.endswith(".VHTT") and r.letter_id != 1)
    assert len(reminders) == lowest - 18 and f"sent {len(reminders)} reminder(s)" in result.output
    assert (tmp_path / "demo" / "cascade-1" / "status.html").exists()
    out = tmp_path / "demo" / "cascade-1"
    cao_loc = (out / "1-183.VHTT.md").read_text(encoding="utf-8")
    assert "Số: 01/VHTT" in cao_loc and "Thực hiện Công văn số 01/STTTT-HTS ngày" in cao_loc
    assert (out / "1-183.VHTT.html").exists() and (out / "0-20.STTTT.html").exists()
    verified = CliRunner().invoke(main, ["replay", "1", "--verify", "--flow-runs", "--format", "json"])
    assert verified.exit_code == 0, verified.output + verified.stderr
    audit = json.loads(verified.stdout)
    assert audit["verified"] is True
    # The steps ran as Prefect flow runs (the cascade, the sending after each signature, the sweep); the runs
    # the record names are read back through the client, completed.
    runs = [(run["flow"], run["state"]) for run in audit["flow_runs"]]
    assert runs[0] == ("cascade", "Completed") and {state for _, state in runs} == {"Completed"}, runs
    assert {"dispatch", "remind"} <= {flow for flow, _ in runs}, runs
    assert {e["flow_run"] for e in audit["events"] if e["kind"] == "letter.drafted"} == {audit["flow_runs"][0]["id"]}
    assert (out / "replay.html").exists()
    again = CliRunner().invoke(main, ["demo"])
    assert "0 approved now" in again.output and "Messages: 0 sent" in again.output
    assert "Reports: 0 simulated" in again.output and "sent 0 reminder(s)" in again.output


def test_the_demo_on_a_fresh_machine_makes_its_keys_and_every_letter_goes_out_signed(tmp_path: Path) -> None:
    """The README's two commands alone: no keys configured, so the demo makes a trial PKI (SoftHSM2 tokens
    where installed) in a process of its own; a letter from the Maildir verifies in chidao and in pdfsig."""
    import os
    import subprocess
    import sys

    from tests.printed import attached_pdf, pdfsig

    env = {k: v for k, v in os.environ.items() if not k.startswith(("CHIDAO_", "PREFECT_API", "SOFTHSM2"))}
    env |= {"CHIDAO_DATA_DIR": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, "-m", "cli", "demo"], env=env, capture_output=True, text=True, timeout=600, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"Signed with a trial PKI made now in {tmp_path / 'pki'}, keys on SoftHSM2 tokens" in done.stdout or (
        "in PKCS#12 files: SoftHSM2 is not installed" in done.stdout and not os.environ.get("CHIDAO_REQUIRE_SOFTHSM")
    )
    assert "12 signed PDF(s)" in done.stdout
    letters = [raw for raw in messages(tmp_path / "mail") if b"Message-ID: <letter-" in raw]
    assert letters and all(attached_pdf(raw)[:5] == b"%PDF-" for raw in letters)
    letter = tmp_path / "a-letter.pdf"
    letter.write_bytes(attached_pdf(letters[-1]))
    checked = subprocess.run(
        [sys.executable, "-m", "cli", "verify", str(letter)], env=env, capture_output=True, text=True, check=False
    )
    assert checked.returncode == 0 and "Verified: both signatures hold." in checked.stdout, checked.stdout
    report = pdfsig(letter, tmp_path / "pki" / "nssdb")
    assert report.count("Signature is Valid.") == 2 and report.count("Certificate is Trusted.") == 2, report
