"""Approval: who may sign, the register's number and date, the parent-first rule, edits, refusals."""

import threading
from datetime import date
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from chidao import approval, edits, inbox
from cli import main
from db.cascades import letter_content
from db.engine import transaction
from db.events import history
from db.models import Event, LetterRecord
from tests.steps import SIGNED, draft_cascade


@pytest.fixture
def letters(database_url: str, mini_directive: Path) -> dict[str, int]:
    return draft_cascade(database_url, mini_directive)


def test_approval_numbers_dates_and_freezes_the_letter(database_url: str, letters: dict[str, int]) -> None:
    with transaction(database_url) as session:
        root = approval.approve(session, letters["90.S"], "so-gd", on=SIGNED)
        assert (root.status, root.number, root.year, root.issued_on) == ("approved", 1, 2024, SIGNED)
        assert "Số: 01/SVHTT-HTS" in root.markdown
        assert "*Mẫu, ngày 05 tháng 02 năm 2024*" in root.markdown
        child = session.get_one(LetterRecord, letters["901.P"])
        assert letter_content(child).opening.startswith(
            "Thực hiện Công văn số 01/SVHTT-HTS ngày 05/02/2024 của Sở Văn hóa và Thông tin"
        )
        kinds = [e.kind for e in history(session, root.cascade_id)]
        assert kinds[-2:] == ["letter.approved", "letter.issued"]  # numbered, then issued as a signed PDF


def test_only_the_units_approvers_may_approve_and_a_refusal_is_recorded(chidao_env: str, mini_directive: Path) -> None:
    ids = draft_cascade(chidao_env, mini_directive)
    with transaction(chidao_env) as session:
        approval.approve(session, ids["90.S"], "so-gd")
    result = CliRunner().invoke(main, ["approve", str(ids["901.P"]), "--as", "p902-tp"])
    assert result.exit_code == 1
    assert "refused: 'p902-tp' may not approve letter" in result.stderr and "p901-tp" in result.stderr
    with transaction(chidao_env) as session:
        assert session.get_one(LetterRecord, ids["901.P"]).status == "draft"
        refused = session.scalars(select(Event).where(Event.kind == "attempt.refused")).one()
        assert refused.actor == "p902-tp" and refused.letter_id == ids["901.P"]


def test_a_letter_waits_for_the_letter_it_cites(database_url: str, letters: dict[str, int]) -> None:
    with pytest.raises(approval.ApprovalError, match="must be approved first"), transaction(database_url) as session:
        approval.approve(session, letters["901.P"], "p901-tp")
    with transaction(database_url) as session:
        assert session.get_one(LetterRecord, letters["901.P"]).number is None


def test_approving_twice_is_refused_and_changes_nothing(database_url: str, letters: dict[str, int]) -> None:
    with transaction(database_url) as session:
        approval.approve(session, letters["90.S"], "so-gd", on=SIGNED)
    with pytest.raises(approval.ApprovalError, match="already approved"), transaction(database_url) as session:
        approval.approve(session, letters["90.S"], "so-gd")
    with transaction(database_url) as session:
        assert session.get_one(LetterRecord, letters["90.S"]).number == 1


def test_an_edit_is_kept_with_its_diff_and_survives_the_letter_above(
    database_url: str, letters: dict[str, int], tmp_path: Path
) -> None:
    with transaction(database_url) as session:
        draft = letter_content(session.get_one(LetterRecord, letters["901.P"]))
    change = edits.LetterEdit(
        sections=[
            edits.EditSection(title=s.title, items=[*s.items, "Phối hợp với Phòng Giáo dục và Đào tạo."])
            for s in draft.sections
        ]
    )
    with transaction(database_url) as session:
        approval.edit(session, letters["901.P"], "p901-tp", change)
        approval.approve(session, letters["90.S"], "so-gd", on=SIGNED)
        edited = approval.approve(session, letters["901.P"], "p901-tp", on=SIGNED)
        assert edited.generated is not None and "Phối hợp với Phòng Giáo dục" not in edited.generated
        assert edited.markdown.count("- Phối hợp với Phòng Giáo dục và Đào tạo.") == len(draft.sections)
        assert "Thực hiện Công văn số 01/SVHTT-HTS ngày 05/02/2024" in edited.markdown
        (diff,) = [e.payload for e in history(session, edited.cascade_id) if e.kind == "letter.edited"]
        assert "+- Phối hợp với Phòng Giáo dục và Đào tạo." in diff


def test_an_edit_that_breaks_the_schema_names_its_line_and_changes_nothing(
    chidao_env: str, mini_directive: Path, tmp_path: Path
) -> None:
    ids = draft_cascade(chidao_env, mini_directive)
    bad = tmp_path / "edit.yaml"
    bad.write_text("sections:\n  - title: Một\n    items: []\n", encoding="utf-8")
    result = CliRunner().invoke(main, ["approve", str(ids["90.S"]), "--as", "so-gd", "--edit", str(bad)])
    assert result.exit_code == 2
    assert result.stderr.startswith(f"error: {bad}:3: sections[0].items:")
    with transaction(chidao_env) as session:
        assert session.get_one(LetterRecord, ids["90.S"]).status == "draft"


def test_a_rejected_draft_can_be_approved_later(database_url: str, letters: dict[str, int]) -> None:
    with transaction(database_url) as session:
        approval.reject(session, letters["90.S"], "so-gd", "Thiếu nội dung về an toàn thông tin")
    with transaction(database_url) as session:
        assert session.get_one(LetterRecord, letters["90.S"]).status == "rejected"
        assert approval.approve(session, letters["90.S"], "so-gd", on=SIGNED).number == 1


def test_pending_lists_what_each_person_may_sign_now(database_url: str, letters: dict[str, int]) -> None:
    with transaction(database_url) as session:
        assert [r.unit_code for r in inbox.pending(session, "so-gd")] == ["90.S"]
        assert inbox.pending(session, "p901-tp") == []
        approval.approve(session, letters["90.S"], "so-gd", on=SIGNED)
        assert [r.unit_code for r in inbox.pending(session, "p901-tp")] == ["901.P"]
        assert [r.unit_code for r in inbox.pending(session)] == ["901.P", "902.P"]


def test_concurrent_approvals_in_one_unit_get_consecutive_numbers(database_url: str, mini_directive: Path) -> None:
    roots = [draft_cascade(database_url, mini_directive, date(2023, 12, day))["90.S"] for day in (1, 2, 3, 4)]
    barrier, errors = threading.Barrier(len(roots)), []

    def sign(letter_id: int) -> None:
        try:
            barrier.wait()
            with transaction(database_url) as session:
                approval.approve(session, letter_id, "so-gd", on=SIGNED)
        except Exception as exc:
            errors.append(exc)

    threads = [threading.Thread(target=sign, args=(i,)) for i in roots]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with transaction(database_url) as session:
        numbers = sorted(session.get_one(LetterRecord, i).number or 0 for i in roots)
    assert numbers == [1, 2, 3, 4]


def test_a_rejected_edited_draft_can_be_regenerated(database_url: str, letters: dict[str, int]) -> None:
    with transaction(database_url) as session:
        generated = session.get_one(LetterRecord, letters["90.S"]).markdown
        change = edits.LetterEdit(sections=[edits.EditSection(title="Một mục duy nhất.", items=["Làm ngay."])])
        approval.edit(session, letters["90.S"], "so-gd", change)
        approval.reject(session, letters["90.S"], "so-gd", "Sửa sai")
        assert "Một mục duy nhất." in session.get_one(LetterRecord, letters["90.S"]).markdown
        fresh = approval.regenerate(session, letters["90.S"], "so-gd")
        assert (fresh.status, fresh.generated, fresh.markdown) == ("draft", None, generated)
    with pytest.raises(approval.NotAllowed), transaction(database_url) as session:
        approval.regenerate(session, letters["90.S"], "p901-tp")
