"""Signed letters: the issued PDF carries the approver's and the issuing body's digital signatures, prints who
actually signed, is checked by `chidao verify`, pdfsig and `replay --verify`; a signature that cannot be made
leaves the letter unsigned and unnumbered, with the attempt recorded."""

from __future__ import annotations

import io
import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import pkcs12
from docx import Document
from sqlalchemy import select, text

from chidao import approval
from chidao.issuing import SigningRefused
from cli import main
from db.cascades import letter_content
from db.engine import transaction
from db.models import Event, LetterDocument, LetterRecord, Register
from hierarchy.load import load_hierarchy
from letters.docx import render_docx
from letters.render import render_html
from mail.sink import messages
from signing.pki import _name, issue_certificate, load_authority, new_authority, pem
from tests.conftest import LANGSON
from tests.printed import attached_pdf, pdf_text, pdfsig, poppler
from tests.steps import SIGNED, draft_cascade, langson_directive


def langson_drafts(url: str, tmp_path: Path) -> dict[str, int]:
    """The Lạng Sơn cascade's drafts (the department's letter and the districts')."""
    from chidao.cascade import begin, draft_below, load_inputs
    from db.letters import list_letters
    from db.migrate import upgrade

    upgrade(url)
    d, h = load_inputs(langson_directive(tmp_path), LANGSON / "hierarchy.yaml")
    with transaction(url) as session:
        begun = begin(session, d, h, datetime(2023, 12, 1).date(), "test")
        draft_below(session, begun.cascade_id, [begun.root_letter_id], "test")
        return {row.unit_code: row.id for row in list_letters(session, cascade_id=begun.cascade_id)}


def issued_pdf(url: str, letter_id: int) -> bytes:
    with transaction(url) as session:
        return bytes(session.get_one(LetterDocument, letter_id).pdf)


@pytest.mark.parametrize(
    ("approver", "block", "absent"),
    [
        ("stttt-langson-pgd-lan", ["KT. GIÁM ĐỐC", "PHÓ GIÁM ĐỐC", "Phương Thị Hương Lan"], "Lê Văn C"),
        ("stttt-langson-gd", ["GIÁM ĐỐC", "Lê Văn C"], "KT. GIÁM ĐỐC"),
    ],
    ids=["deputy", "head"],
)
def test_the_signature_block_is_the_approvers_own_in_every_format(
    sqlite_url: str, tmp_path: Path, approver: str, block: list[str], absent: str
) -> None:
    ids = langson_drafts(sqlite_url, tmp_path)
    with transaction(sqlite_url) as session:
        record = approval.approve(session, ids["20.STTTT"], approver, on=SIGNED)
        content = letter_content(record)
        markdown, html = record.markdown, render_html(content)
    pdf = pdf_text(issued_pdf(sqlite_url, ids["20.STTTT"]))
    docx = "\n".join(c.text for c in Document(io.BytesIO(render_docx(content))).tables[-1].rows[0].cells)
    for printed in (markdown, html, pdf, docx):
        assert all(line in printed for line in block), printed[-400:]
        assert absent not in printed
    # the titles in order, the name after them (the seal's caption, the body and the time, may come between)
    assert re.search(r"\s*".join(re.escape(line) for line in block[:-1]) + ".*" + re.escape(block[-1]), pdf)


def test_a_committees_deputy_signs_on_behalf_of_the_committee() -> None:
    from letters.signer import signer_for

    h = load_hierarchy(LANGSON / "hierarchy.yaml")
    committee = h.unit("20")
    deputy = next(p for p in committee.approvers if p.id.endswith("-pct"))
    head = next(p for p in committee.approvers if p.id.endswith("-ct"))
    assert signer_for(committee, deputy).titles == ("TM. ỦY BAN NHÂN DÂN", "KT. CHỦ TỊCH", "PHÓ CHỦ TỊCH")
    assert signer_for(committee, head).titles == ("TM. ỦY BAN NHÂN DÂN", "CHỦ TỊCH")


def test_an_issued_letter_from_the_mailbox_verifies_in_chidao_and_in_pdfsig(
    chidao_env: str, mini_directive: Path, sink: Path, smtp_url: str, tmp_path: Path, signing_keys: Path
) -> None:
    ids = draft_cascade(chidao_env, mini_directive)
    approved = CliRunner().invoke(main, ["approve", str(ids["90.S"]), "--as", "so-gd"])
    assert approved.exit_code == 0, approved.output + approved.stderr
    raw = messages(sink)[0]
    letter = tmp_path / "from-the-mailbox.pdf"
    letter.write_bytes(attached_pdf(raw))

    checked = CliRunner().invoke(main, ["verify", str(letter)])
    assert checked.exit_code == 0, checked.output
    assert "approver: Lê Thị Hai" in checked.output and "intact, valid, trusted" in checked.output
    assert "issuing body: SỞ VĂN HÓA VÀ THÔNG TIN" in checked.output
    assert "number 01, day " in checked.output
    assert re.search(r"signed \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+07:00", checked.output)
    assert "Verified: both signatures hold." in checked.output

    report = pdfsig(letter, signing_keys.parent / "nssdb")
    assert report.count("Signature Validation: Signature is Valid.") == 2, report
    assert report.count("Certificate Validation: Certificate is Trusted.") == 2, report
    assert "Signature Field Name: chu_ky" in report and "Signature Field Name: con_dau" in report


def test_one_changed_byte_and_a_foreign_ca_are_reported(
    chidao_env: str, mini_directive: Path, tmp_path: Path, signing_keys: Path
) -> None:
    ids = draft_cascade(chidao_env, mini_directive)
    with transaction(chidao_env) as session:
        approval.approve(session, ids["90.S"], "so-gd", on=SIGNED)
    good = issued_pdf(chidao_env, ids["90.S"])
    at = good.index(b"/Title")  # in the first revision, covered by both signatures
    tampered = tmp_path / "tampered.pdf"
    tampered.write_bytes(good[: at + 8] + bytes([good[at + 8] ^ 0x01]) + good[at + 9 :])
    result = CliRunner().invoke(main, ["verify", str(tampered)])
    assert result.exit_code == 1 and "NOT INTACT" in result.output and "NOT verified." in result.output
    assert pdfsig(tampered, signing_keys.parent / "nssdb").count("Digest Mismatch.") == 2

    stranger = tmp_path / "other-ca.pem"
    stranger.write_bytes(pem(new_authority("Một CA khác").certificate))
    original = tmp_path / "letter.pdf"
    original.write_bytes(good)
    foreign = CliRunner().invoke(main, ["verify", str(original), "--trust", str(stranger), "--json"])
    assert foreign.exit_code == 1
    found = json.loads(foreign.output)
    assert not found["holds"] and [s["trusted"] for s in found["signatures"]] == [False, False]
    assert all(s["intact"] and s["valid"] for s in found["signatures"])


def test_the_pdf_is_one_embedded_face_numbered_from_page_two_with_the_block_kept_together(
    sqlite_url: str, tmp_path: Path
) -> None:
    import subprocess

    from letters.pdf import render_pdf

    ids = langson_drafts(sqlite_url, tmp_path)
    with transaction(sqlite_url) as session:
        record = approval.approve(session, ids["20.STTTT"], "stttt-langson-pgd-lan", on=SIGNED)
        content = letter_content(record)
    signed = tmp_path / "signed.pdf"
    signed.write_bytes(issued_pdf(sqlite_url, ids["20.STTTT"]))
    fonts = subprocess.run([poppler("pdffonts"), str(signed)], capture_output=True, text=True, check=True).stdout
    rows = [line.split() for line in fonts.splitlines()[2:]]
    assert rows and all("LiberationSerif" in row[0] for row in rows), fonts
    assert all(row[-5] == "yes" for row in rows), fonts  # every face embedded
    info = subprocess.run([poppler("pdfinfo"), str(signed)], capture_output=True, text=True, check=True).stdout
    assert re.search(r"Title: +V/v tăng cường tuyên truyền", info)
    assert re.search(r"Author: +Sở Thông tin và Truyền thông - UBND tỉnh Lạng Sơn", info)
    assert re.search(r"Subject: +Công văn số 01/STTTT-HTS", info)

    # The signature block never leaves the name behind, wherever the page breaks: grow the letter item by item.
    last_section = content.sections[-1]
    for extra in range(0, 16):
        items = last_section.items + tuple(
            f"Nội dung bổ sung {i}: kiểm tra, rà soát các điểm thi." for i in range(extra)
        )
        longer = content.model_copy(
            update={"sections": (*content.sections[:-1], last_section.model_copy(update={"items": items}))}
        )
        pdf = render_pdf(longer).data
        pages = subprocess.run([poppler("pdftotext"), "-", "-"], input=pdf, capture_output=True, check=True)
        texts = pages.stdout.decode("utf-8").split("\f")
        texts = [t for t in texts if t.strip()]
        name_page = next(i for i, t in enumerate(texts) if "Phương Thị Hương Lan" in t)
        assert "Nơi nhận:" in texts[name_page] and "KT. GIÁM ĐỐC" in texts[name_page], extra
        closing_end = " ".join(content.closing.split()[-3:])
        assert closing_end in " ".join(texts[name_page].split()), extra  # the closing paragraph goes with the block
        assert not texts[0].strip().startswith("1")
        for number, page in enumerate(texts[1:], start=2):
            assert page.strip().splitlines()[0].strip() == str(number)  # page number at the top centre


def _keys_without(signing_keys: Path, tmp_name: str, approver: str) -> Path:
    data = yaml.safe_load(signing_keys.read_text(encoding="utf-8"))
    del data["approvers"][approver]
    changed = signing_keys.with_name(tmp_name)
    changed.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return changed


def _keys_with_expired(signing_keys: Path, tmp_name: str, approver: str) -> Path:
    """The keys file with the approver's key replaced by one whose certificate expired in 2023."""
    folder = signing_keys.parent
    authority = load_authority(folder)
    key = ec.generate_private_key(ec.SECP256R1())
    start = datetime(2021, 1, 1, tzinfo=UTC)
    cert = issue_certificate(
        authority, _name("Lê Thị Hai", "Sở"), key.public_key(), not_before=start, not_after=start + timedelta(days=700)
    )
    bundle = pkcs12.serialize_key_and_certificates(
        b"expired", key, cert, [authority.certificate], serialization.BestAvailableEncryption(b"123456")
    )
    (folder / f"{tmp_name}.p12").write_bytes(bundle)
    (folder / f"{tmp_name}.pem").write_bytes(pem(cert))
    (folder / f"{tmp_name}.pin").write_text("123456", encoding="utf-8")
    data = yaml.safe_load(signing_keys.read_text(encoding="utf-8"))
    image = data["approvers"][approver]["signature"]
    data["approvers"][approver] = {
        "pkcs12": f"{tmp_name}.p12",
        "certificate": f"{tmp_name}.pem",
        "pin_file": f"{tmp_name}.pin",
        "signature": image,
    }
    changed = folder / f"{tmp_name}.yaml"
    changed.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return changed


@pytest.mark.parametrize("failure", ["wrong_pin", "missing", "expired"])
def test_a_signature_that_cannot_be_made_leaves_the_letter_unsigned_and_unnumbered(
    chidao_env: str,
    mini_directive: Path,
    signing_keys: Path,
    monkeypatch: pytest.MonkeyPatch,
    failure: str,
    request: pytest.FixtureRequest,
) -> None:
    ids = draft_cascade(chidao_env, mini_directive)
    name = re.sub(r"\W", "-", request.node.name)
    args = ["approve", str(ids["90.S"]), "--as", "so-gd"]
    stdin = None
    if failure == "wrong_pin":
        args.append("--pin-stdin")
        stdin = "000000\n"
    elif failure == "missing":
        monkeypatch.setenv("CHIDAO_KEYS", str(_keys_without(signing_keys, f"{name}.yaml", "so-gd")))
    else:
        monkeypatch.setenv("CHIDAO_KEYS", str(_keys_with_expired(signing_keys, name, "so-gd")))
    result = CliRunner().invoke(main, args, input=stdin)
    assert result.exit_code == 1, result.output
    reason = {"wrong_pin": "wrong PIN", "missing": "no key for the approver 'so-gd'", "expired": "expired"}[failure]
    assert "refused: letter" in result.stderr and reason in result.stderr
    with transaction(chidao_env) as session:
        letter = session.get_one(LetterRecord, ids["90.S"])
        assert (letter.status, letter.number, letter.issued_on) == ("draft", None, None)
        assert session.get(LetterDocument, letter.id) is None
        assert session.scalars(select(Register)).all() == []  # no number taken from the register
        refusals = session.scalars(select(Event).where(Event.kind == "attempt.refused")).all()
        (refusal,) = refusals
        payload = json.loads(refusal.payload)
        assert (refusal.actor, refusal.letter_id, payload["action"], payload["kind"]) == (
            "so-gd",
            letter.id,
            "sign",
            failure,
        )


def test_the_library_refuses_the_same_way(chidao_env: str, mini_directive: Path) -> None:
    ids = draft_cascade(chidao_env, mini_directive)
    with pytest.raises(SigningRefused, match="wrong PIN"), transaction(chidao_env) as session:
        approval.approve(session, ids["90.S"], "so-gd", pin="999999")


def test_replay_verify_checks_every_issued_pdf(chidao_env: str, mini_directive: Path) -> None:
    ids = draft_cascade(chidao_env, mini_directive)
    with transaction(chidao_env) as session:
        approval.approve(session, ids["90.S"], "so-gd", on=SIGNED)
    holds = CliRunner().invoke(main, ["replay", "1", "--verify"])
    assert holds.exit_code == 0 and "1 issued PDFs are the recorded files" in holds.stderr + holds.output
    good = issued_pdf(chidao_env, ids["90.S"])
    changed = good.replace(b"/Title", b"/Titlf", 1)
    with transaction(chidao_env) as session:
        session.execute(
            text("UPDATE letter_documents SET pdf = :pdf WHERE letter_id = :id"), {"pdf": changed, "id": ids["90.S"]}
        )
    broken = CliRunner().invoke(main, ["replay", "1", "--verify"])
    assert broken.exit_code == 1
    assert f"letter {ids['90.S']} (90.S): its PDF is not the file its issue recorded" in broken.stderr


def test_replay_verify_deep_draws_each_pdf_again_and_checks_its_signatures(
    chidao_env: str, mini_directive: Path, signing_keys: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = draft_cascade(chidao_env, mini_directive)
    with transaction(chidao_env) as session:
        approval.approve(session, ids["90.S"], "so-gd", on=SIGNED)
    deep = CliRunner().invoke(main, ["replay", "1", "--verify", "--deep"])
    assert deep.exit_code == 0, deep.output + deep.stderr
    assert "1 issued PDFs are the recorded files and letters, their signatures holding" in deep.stderr + deep.output

    # The same record, audited by someone who trusts another CA: the chain holds, the signatures do not.
    stranger = tmp_path / "other-ca.pem"
    stranger.write_bytes(pem(new_authority("Một CA khác").certificate))
    data = yaml.safe_load(signing_keys.read_text(encoding="utf-8"))
    data["trust"] = [str(stranger)]
    foreign = signing_keys.with_name("keys-foreign-ca.yaml")
    foreign.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    monkeypatch.setenv("CHIDAO_KEYS", str(foreign))
    assert CliRunner().invoke(main, ["replay", "1", "--verify"]).exit_code == 0
    untrusted = CliRunner().invoke(main, ["replay", "1", "--verify", "--deep"])
    assert untrusted.exit_code == 1
    assert f"letter {ids['90.S']} (90.S): its PDF: the approver's signature does not hold (intact, not trusted" in (
        untrusted.stderr
    )


def test_the_deep_checks_in_worker_processes_find_what_they_find_here(
    chidao_env: str, mini_directive: Path, signing_keys: Path
) -> None:
    from chidao.documents import check_documents
    from db.events import history

    ids = draft_cascade(chidao_env, mini_directive)
    for unit, approver in (("90.S", "so-gd"), ("901.P", "p901-tp")):
        with transaction(chidao_env) as session:
            approval.approve(session, ids[unit], approver, on=SIGNED)
    with transaction(chidao_env) as session:
        letters = session.scalars(select(LetterRecord).order_by(LetterRecord.id)).all()
        events = history(session, 1)
        payloads = [json.loads(e.payload) for e in events]
        # one letter as a record might say it (not stored): only drawing it again shows its PDF is another
        changed = next(letter for letter in letters if letter.id == ids["901.P"])
        session.expunge(changed)
        content = letter_content(changed)
        changed.content = content.model_copy(update={"subject": content.subject + " (sửa)"}).model_dump_json()
        here = check_documents(session, letters, events, payloads, deep=True, workers=1)
        there = check_documents(session, letters, events, payloads, deep=True, workers=2)
        cheap = check_documents(session, letters, events, payloads)
    assert here == there
    assert here == (2, [(f"letter {ids['901.P']} (901.P)", "its PDF's first revision is not the recorded letter")])
    assert cheap == (2, [])


def test_letters_signed_one_after_another_print_their_own_number_day_and_caption(
    chidao_env: str, mini_directive: Path, signing_keys: Path
) -> None:
    """The fonts pyHanko draws with are kept between signatures: each letter still prints its own number, day
    and seal caption, a caption with a character beyond the kept repertoire (½) included, and verifies."""
    from letters.pdf import render_pdf
    from signing import pades
    from signing.keys import load_keyring
    from signing.signers import trust_roots, unlocked
    from signing.verify import verify_pdf

    ids = draft_cascade(chidao_env, mini_directive)
    with transaction(chidao_env) as session:
        content = letter_content(session.get_one(LetterRecord, ids["90.S"]))
    keys = load_keyring(signing_keys)
    approver, body = keys.approver("so-gd"), keys.unit("90.S")
    trust = trust_roots(keys.trust)
    when = datetime(2024, 2, 5, 9, 30, tzinfo=UTC)
    for number, day, name in (("07", "31", "Sở Văn hóa và Thông tin"), ("123", "09", "Ban ½ Mẫu")):
        base = render_pdf(content.model_copy(update={"number": int(number), "issued_on": SIGNED})).data
        with unlocked(keys, approver, None) as signer:
            signed = pades.sign_approval(base, signer, approver.image, when, trust, "so-gd")
        with unlocked(keys, body, None) as signer:
            issued = pades.issue(
                signed,
                number=number,
                day=day,
                signer=signer,
                seal=body.image,
                seal_mm=body.seal_mm,
                body=[name],
                when=when,
                trust=trust,
            )
        result = verify_pdf(issued, trust)
        assert result.holds and (result.number, result.day) == (number, day), result
        printed = pdf_text(issued)
        assert re.search(rf"Số: {number} ?/", printed) and f"ngày {day} tháng" in printed, printed[:300]
        assert name.upper() in printed and "2024-02-05T09:30:00+00:00" in printed
