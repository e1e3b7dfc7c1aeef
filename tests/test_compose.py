"""The start page's form (issue 16): a directive composed without writing YAML is the same directive file as the
example's, planned the same way; a form with a field missing or a date that is none says which, in Vietnamese,
and plans nothing; a directive file read into the form and posted back is the file again.

Against a real server (uvicorn on loopback) and a real database, as the start page's tests in test_desk.py."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from contextlib import contextmanager
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import select

from chidao import accounts
from chidao.cascade import draft_date_for
from db.engine import transaction
from db.migrate import upgrade
from db.models import LetterRecord
from hierarchy.graph import Hierarchy
from hierarchy.load import load_hierarchy
from letters.directive import Directive, load_directive, parse_directive
from letters.plan import plan_cascade
from letters.render import render_markdown
from tests.steps import LANGSON, PASSWORD, desk_server
from tests.test_desk import Person
from web import compose

EXAMPLE = LANGSON / "directive-hsg-2023.yaml"
Form = dict[str, list[str]]


class _Fields(HTMLParser):
    """One form's fields as a browser posts them: text and hidden inputs, ticked boxes, chosen options and
    textareas, in the page's order."""

    def __init__(self, form_id: str) -> None:
        super().__init__(convert_charrefs=True)
        self.form_id, self.inside, self.pairs = form_id, False, []
        self.select: list[Any] | None = None  # name, first option, chosen option
        self.option: dict[str, Any] | None = None
        self.textarea: str | None = None
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "form":
            self.inside = a.get("id") == self.form_id
        elif not self.inside:
            return
        elif tag == "input" and (a.get("type") in ("text", "hidden") or "checked" in a):
            self.pairs.append((a["name"], a.get("value") or ""))
        elif tag == "select":
            self.select = [a["name"], None, None]
        elif tag == "option":
            self.option, self.text = a, []
        elif tag == "textarea":
            self.textarea, self.text = a["name"], []

    def handle_data(self, data: str) -> None:
        self.text.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self.inside = False
        elif tag == "textarea" and self.textarea is not None:
            self.pairs.append((self.textarea, "".join(self.text)))
            self.textarea = None
        elif tag == "option" and self.select is not None and self.option is not None:
            value = self.option.get("value")
            value = " ".join("".join(self.text).split()) if value is None else value
            self.select[1] = value if self.select[1] is None else self.select[1]
            self.select[2] = value if "selected" in self.option else self.select[2]
            self.option = None
        elif tag == "select" and self.select is not None:
            name, first, chosen = self.select
            self.pairs.append((name, chosen if chosen is not None else first))
            self.select = None


def form_of(page: str, form_id: str = "compose") -> Form:
    parser = _Fields(form_id)
    parser.feed(page)
    found: Form = {}
    for name, value in parser.pairs:
        found.setdefault(name, []).append(value)
    assert found, f"no form {form_id!r} on the page"
    return found


def planned_text(page: str) -> str:
    found = re.search(r'<textarea name="text" hidden>(.*?)</textarea>', page, re.DOTALL)
    assert found, page[-3000:]
    return html.unescape(found.group(1))


def first_letter(page: str) -> str:
    found = re.search(r'<iframe class="page" srcdoc="([^"]*)"', page)
    assert found
    return found.group(1)


def letters_of(directive: Directive, hierarchy: Hierarchy) -> list[str]:
    """Every letter the plan drafts, as Markdown."""
    plan = plan_cascade(directive, hierarchy, draft_date_for(directive))
    return [render_markdown(d.letter) for level in plan.levels for d in level]


def typed(example: dict[str, Any]) -> dict[str, Any]:
    """The example's content as a person types it into the form (dates as dd/mm/yyyy, one item per line)."""
    basis, report, signer = example["basis"], example["report"], example["signer"]
    values: dict[str, Any] = {
        "issuer": example["issuer"],
        "subject": example["subject"],
        "type": example["type"],
        "drafting_unit": example["drafting_unit"],
        "date": f"{example['date']:%d/%m/%Y}",
        "basis-type": basis["type"],
        "basis-number": basis["number"],
        "basis-date": f"{basis['date']:%d/%m/%Y}",
        "basis-issuer": basis["issuer"],
        "basis-subject": basis["subject"],
        "report-rule": "on_request",
        "report-from": report.get("from", []),
        "closing": example["closing"],
        "copies": "\n".join(example["copies"]),
        "signer-authority": signer["authority"],
        "signer-position": signer["position"],
        "signer-name": signer["name"],
    }
    for n, section in enumerate(example["sections"]):
        values |= {
            f"section-{n}-id": section["id"],
            f"section-{n}-title": section["title"],
            f"section-{n}-to": section["to"],  # ticked in the order the file lists them
            f"section-{n}-items": "\n".join(i if isinstance(i, str) else i["text"] for i in section["items"]),
        }
    return values


def filled(form: Form, values: dict[str, Any], only: Any = lambda key: True) -> Form:
    """The form with the values typed or ticked (a list: the boxes ticked)."""
    out = dict(form)
    for key, value in values.items():
        if only(key):
            out[key] = list(value) if isinstance(value, list) else [value]
    return out


@pytest.fixture
def department(sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Person]:
    """The department's director, signed in on the desk serving the Lạng Sơn hierarchy."""
    monkeypatch.setenv("CHIDAO_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("CHIDAO_DATABASE_URL", sqlite_url)
    with director_at_desk(sqlite_url) as person:
        yield person


@contextmanager
def director_at_desk(url: str) -> Iterator[Person]:
    """The database migrated, the director's account, the desk up on it, and the director signed in there."""
    upgrade(url)
    with transaction(url) as session:
        accounts.add_account(session, "stttt-langson-gd", "Giám đốc", "person", PASSWORD)
    with desk_server(url) as base:
        person = Person(base)
        try:
            assert person.sign_in("stttt-langson-gd").status_code == 200
            yield person
        finally:
            person.http.close()


@pytest.fixture(scope="module")
def langson() -> Hierarchy:
    return load_hierarchy(LANGSON / "hierarchy.yaml")


def test_the_example_typed_into_the_form_is_the_example_directive(department: Person, langson: Hierarchy) -> None:
    example = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))
    expected = load_directive(EXAMPLE, langson)
    values = typed(example)
    blank = department.get("/start")
    assert blank.status_code == 200 and "Soạn văn bản chỉ đạo" in blank.text and "YAML (nâng cao)" in blank.text
    form = form_of(blank.text)
    assert form["issuer"] == ["20.STTTT"] and form["signer-name"] == ["Lê Văn C"]  # the director's own unit
    assert "section-2-title" in form and "section-3-title" not in form  # three sections to fill at first
    # the first three sections, then the fourth and its relay on the form shown again with two more sections
    first = department.post("/start", filled(form, values, lambda key: not key.startswith("section-3-")))
    assert first.status_code == 200 and "Khởi động đợt triển khai" in first.text, first.text[-3000:]
    again = form_of(first.text)
    assert again["section-2-title"] == [example["sections"][2]["title"]] and "section-4-title" in again
    relay = {"relay-0-section": "4", "relay-0-item": "1", "relay-0-content": "1"}
    relay["relay-0-to"] = example["sections"][3]["items"][0]["relay"]["to"]
    second = department.post("/start", filled(again, values | relay))
    assert second.status_code == 200 and "Khởi động đợt triển khai" in second.text, second.text[-3000:]

    composed = planned_text(second.text)
    assert yaml.safe_load(composed)["sections"][3]["items"][0]["relay"] == {
        "to": relay["relay-0-to"],
        "content": "media",
    }
    directive = parse_directive(composed, langson)
    assert directive == expected and directive.digest == expected.digest
    assert letters_of(directive, langson) == letters_of(expected, langson)
    # the plan the page shows is the one the example's file shows on the YAML view
    pasted = department.post("/start", {"text": EXAMPLE.read_text(encoding="utf-8")})
    assert pasted.status_code == 200
    assert first_letter(second.text) == first_letter(pasted.text)
    levels = r"<strong>Cấp (\d)</strong>: (\d+) văn bản"
    assert re.findall(levels, second.text) == re.findall(levels, pasted.text)

    # A browser posts ticked boxes in the page's order (the hierarchy's roles table): "radio, press" for the
    # first section, which the file lists as "press, radio"; the letters are the same.
    in_page_order = {k: v for k, v in filled(again, values | relay).items() if not k.endswith("-order")}
    in_page_order["section-0-to"] = ["radio", "press"]
    browser = department.post("/start", in_page_order)
    assert browser.status_code == 200
    ticked = parse_directive(planned_text(browser.text), langson)
    media = expected.sections[0].model_copy(update={"to": ("radio", "press")})
    assert ticked == expected.model_copy(update={"sections": (media, *expected.sections[1:])})
    assert letters_of(ticked, langson) == letters_of(expected, langson)


def test_a_form_without_subject_or_with_a_bad_date_says_which_field_and_plans_nothing(
    department: Person, sqlite_url: str, tmp_path: Path
) -> None:
    department.get("/start")
    complete = filled(form_of(department.get("/start").text), typed(yaml.safe_load(EXAMPLE.read_text("utf-8"))))
    cases = [
        ({"subject": [""]}, "Trích yếu: chưa điền.", "subject"),
        ({"report-rule": ["due"], "report-due": ["30/02/2024"]}, "Hạn báo cáo: “30/02/2024” không phải một ngày", None),
        ({"basis-date": ["20-11"]}, "Ngày ban hành: “20-11” không phải một ngày", None),
        ({"section-1-to": []}, "Mục 2: chưa chọn nơi nhận.", None),
        # the loader's own checks, told against the form's fields
        ({"issuer": ["20.KHONGCO"]}, "Đơn vị ban hành: không có đơn vị <code>20.KHONGCO</code> trong hệ thống", None),
        ({"report-rule": ["due"], "report-due": ["01/02/2020"]}, "Hạn báo cáo: hạn báo cáo 01/02/2020 đã qua", None),
        ({"section-0-id": ["postal"]}, "Mục 2, mã mục: mã mục <code>postal</code> bị trùng", None),
    ]
    for change, says, field in cases:
        answer = department.post("/start", complete | change)
        assert answer.status_code == 400, (change, answer.text[-2000:])
        assert "Biểu mẫu chưa dùng được" in answer.text and says in html.unescape(answer.text), (
            change,
            re.findall(r"<li>(.*?)</li>", answer.text),
        )
        assert "Khởi động đợt triển khai" not in answer.text and "<iframe" not in answer.text
        shown = form_of(answer.text)  # the form comes back as it was posted, to be corrected
        assert shown["closing"] == complete["closing"]
        if field:  # the message stands next to its field
            assert re.search(rf'name="{field}"[^>]*>\s*<p class="error">{re.escape(says)}</p>', answer.text)
    with transaction(sqlite_url) as session:
        assert session.scalars(select(LetterRecord)).first() is None
    assert not (tmp_path / "data" / "directives").exists()


def test_a_directive_file_read_into_the_form_and_posted_back_is_the_same_directive(
    department: Person, langson: Hierarchy
) -> None:
    expected = load_directive(EXAMPLE, langson)
    text = EXAMPLE.read_text(encoding="utf-8")
    # without the server: the file's data → the fields → the file → the directive
    fields = compose.fields_from_text(text, "mẫu")
    assert fields["date"] == "01/12/2023" and fields["relays"][0] == {
        "section": "4",
        "item": "1",
        "content": "1",
        "to": ["culture_centre", "commune_committee"],
    }
    again = compose.compose(fields).text()
    assert parse_directive(again, langson) == expected
    assert compose.compose(compose.fields_from_text(again, "lại")).text() == again  # a fixed point
    # on the page: "Điền vào biểu mẫu" on the YAML view, then the form posted as the browser shows it
    department.get("/start")
    shown = department.post("/start", {"text": text, "view": "fill"})
    assert shown.status_code == 200 and "Khởi động đợt triển khai" not in shown.text
    form = form_of(shown.text)
    assert form["subject"] == [expected.subject] and form["section-0-to"] == ["radio", "press"]  # the page's order
    assert form["section-0-to-order"] == ["press radio"]  # the file's, kept
    posted = department.post("/start", form)
    assert posted.status_code == 200, posted.text[-3000:]
    assert parse_directive(planned_text(posted.text), langson) == expected
    # a file that is no YAML is not read into the form, and says why
    broken = department.post("/start", {"text": "issuer: [", "view": "fill"})
    assert broken.status_code == 400 and "YAML sai cú pháp" in broken.text
