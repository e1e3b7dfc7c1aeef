"""The chidao command, through Click's runner, against a real database and Prefect."""

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import func, inspect, select

from cli import main
from db.engine import engine_for, transaction
from db.models import Cascade, LetterRecord
from letters.dates import BLANK
from tests.conftest import DATA


def invoke(*args: str) -> object:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def test_every_command_has_help() -> None:
    def walk(group, path):  # type: ignore[no-untyped-def]
        for name, command in group.commands.items():
            yield [*path, name]
            if hasattr(command, "commands"):
                yield from walk(command, [*path, name])

    for path in walk(main, []):
        result = CliRunner().invoke(main, [*path, "--help"])
        assert result.exit_code == 0, path
        assert "Usage:" in result.output


def test_hierarchy_validate_reports_counts() -> None:
    result = CliRunner().invoke(main, ["hierarchy", "validate", str(DATA / "mini.yaml")])
    assert result.exit_code == 0
    assert "valid — 14 units, 4 levels, 4 units with units under them" in result.output


def test_hierarchy_validate_bad_file_exits_2_with_each_problem(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        (DATA / "mini.yaml")
        .read_text(encoding="utf-8")
        .replace("roles: [press]", "roles: [báo]")
        .replace('code: "90202"', 'code: "90201"'),
        encoding="utf-8",
    )
    result = CliRunner().invoke(main, ["hierarchy", "validate", str(bad)])
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 2
    assert all(line.startswith(f"error: {bad}:") for line in lines)
    assert "unknown role 'báo'" in result.stderr and "duplicate code" in result.stderr


def test_hierarchy_show_prints_a_subtree_to_a_depth() -> None:
    result = CliRunner().invoke(main, ["hierarchy", "show", str(DATA / "mini.yaml"), "--root", "902.P", "--depth", "1"])
    assert result.exit_code == 0
    assert result.output.splitlines() == [
        "Phòng Văn hóa và Thông tin (902.P) [culture_office]",
        "├── (phối hợp) UBND xã Ăn Khê (90202) [commune_committee]",
        "└── (phối hợp) UBND xã Tây Sơn (90201) [commune_committee]",
    ]
    unknown = CliRunner().invoke(main, ["hierarchy", "show", str(DATA / "mini.yaml"), "--root", "nope"])
    assert unknown.exit_code == 2 and "unknown unit 'nope'" in unknown.stderr


def test_cascade_plan_writes_nothing(mini_directive: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("CHIDAO_DATA_DIR", str(tmp_path / "data"))
    result = CliRunner().invoke(
        main, ["cascade", "plan", str(mini_directive), "--hierarchy", str(DATA / "mini.yaml"), "--json"]
    )
    assert result.exit_code == 0
    plan = json.loads(result.output)
    assert plan["letters"] == 3
    assert [[e["unit"] for e in level] for level in plan["levels"]] == [["90.S"], ["901.P", "902.P"]]
    assert not (tmp_path / "data" / "chidao.db").exists()


@pytest.mark.parametrize(
    ("mangle", "message"),
    [
        (lambda d, h: (d, h.replace('{code: "90.S", parent: "90"', '{code: "90.S", parent: "901.P"')), "cycle"),
        (lambda d, h: (d, h.replace('code: "90202"', 'code: "90201"')), "duplicate code"),
        (lambda d, h: (d.replace("to: [telecom]", "to: [vienthong]"), h), "unknown role 'vienthong'"),
        (lambda d, h: (d.split("signer:")[0], h), "missing field 'signer'"),
        (lambda d, h: (d.replace("sections:", "sections: [", 1), h), "broken YAML"),
    ],
    ids=["cycle", "duplicate-code", "unknown-role", "missing-signer", "broken-yaml"],
)
def test_bad_inputs_give_one_clear_message_and_write_nothing(
    mangle,
    message: str,
    mini_directive: Path,
    chidao_env: str,
    tmp_path: Path,  # type: ignore[no-untyped-def]
) -> None:
    directive, hierarchy = mangle(
        mini_directive.read_text(encoding="utf-8"), (DATA / "mini.yaml").read_text(encoding="utf-8")
    )
    d, h = tmp_path / "d.yaml", tmp_path / "h.yaml"
    d.write_text(directive, encoding="utf-8")
    h.write_text(hierarchy, encoding="utf-8")
    result = CliRunner().invoke(main, ["cascade", "start", str(d), "--hierarchy", str(h)])
    assert result.exit_code == 2
    assert message in result.stderr
    assert result.stderr.startswith("error: ") and ".yaml:" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    if "cascades" in inspect(engine_for(chidao_env)).get_table_names():
        with transaction(chidao_env) as session:
            assert session.scalar(select(func.count()).select_from(Cascade)) == 0


@pytest.mark.usefixtures("prefect_server")
def test_cascade_start_then_list_and_show(chidao_env: str, mini_directive: Path, tmp_path: Path) -> None:
    result = CliRunner().invoke(
        main, ["cascade", "start", str(mini_directive), "--hierarchy", str(DATA / "mini.yaml"), "--json"]
    )
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    assert summary["letters"] == 3 and summary["letters_per_level"] == [1, 2]

    listed = json.loads(
        CliRunner().invoke(main, ["letters", "list", "--cascade", str(summary["cascade_id"]), "--json"]).output
    )
    assert [(e["unit"], e["status"], e["reference"]) for e in listed] == [
        ("90.S", "draft", f"{BLANK}/SVHTT-HTS"),
        ("901.P", "draft", f"{BLANK}/VHTT"),
        ("902.P", "draft", f"{BLANK}/VHTT"),
    ]
    only = json.loads(CliRunner().invoke(main, ["letters", "list", "--unit", "902.P", "--json"]).output)
    assert [e["unit"] for e in only] == ["902.P"]

    shown = CliRunner().invoke(main, ["letters", "show", str(listed[1]["id"])])
    assert shown.exit_code == 0
    assert "Kính gửi:" in shown.output and "**PHÒNG VĂN HÓA VÀ THÔNG TIN**" in shown.output
    with transaction(chidao_env) as session:
        stored = session.get_one(LetterRecord, listed[1]["id"])
        assert shown.output == stored.markdown

    page = tmp_path / "letter.html"
    written = CliRunner().invoke(
        main, ["letters", "show", str(listed[1]["id"]), "--format", "html", "--output", str(page)]
    )
    assert written.exit_code == 0
    html = page.read_text(encoding="utf-8")
    assert html.startswith("<!DOCTYPE html>") and "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM" in html

    missing = CliRunner().invoke(main, ["letters", "show", "9999"])
    assert missing.exit_code == 1 and "no letter with id 9999" in missing.stderr


@pytest.mark.usefixtures("prefect_server")
def test_a_letter_signed_on_paper_starts_the_cascade_approved(chidao_env: str, mini_directive: Path) -> None:
    args = ["cascade", "start", str(mini_directive), "--hierarchy", str(DATA / "mini.yaml")]
    refused = CliRunner().invoke(main, [*args, "--approved-by", "p901-tp"])
    assert refused.exit_code == 2 and "'p901-tp' is not an approver of 90.S" in refused.stderr
    started = CliRunner().invoke(main, [*args, "--approved-by", "so-gd", "--json"])
    assert started.exit_code == 0, started.output
    listed = json.loads(CliRunner().invoke(main, ["letters", "list", "--json"]).output)
    root = listed[0]
    assert (root["unit"], root["status"], root["reference"]) == ("90.S", "approved", "01/SVHTT-HTS")
    assert all(e["status"] == "draft" for e in listed[1:])
    pending = json.loads(CliRunner().invoke(main, ["letters", "pending", "--as", "p901-tp", "--json"]).output)
    assert [e["unit"] for e in pending] == ["901.P"]


def test_a_database_that_cannot_be_opened_is_one_clear_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from mail.sink import free_port

    monkeypatch.setenv("CHIDAO_DATABASE_URL", f"postgresql://nobody:secret@127.0.0.1:{free_port()}/chidao")
    result = CliRunner().invoke(main, ["letters", "list"])
    assert result.exit_code == 4  # unavailable: nothing changed
    assert result.stderr.startswith("error: cannot open the database postgresql://nobody:***@127.0.0.1:")
    assert "secret" not in result.stderr and "Connection refused" in result.stderr
    assert "Traceback" not in result.output
    monkeypatch.setenv("CHIDAO_DATABASE_URL", f"sqlite:///{tmp_path}/new/folder/chidao.db")
    assert CliRunner().invoke(main, ["letters", "list"]).output == "No letters.\n"
