"""Composing a directive on the start page: the form's fields → the directive file (the same keys and structure
the YAML loader reads), and back (a directive file's data → the fields, to fill the form from a file).

Fields are what the browser posts: text, and lists of roles for the checkboxes. The form's own checks (a field
left empty, a date that is no date) name the field in Vietnamese; everything else is checked by the loader the
pasted YAML goes through (web.starts), whose problems are told against the form's fields (Composed.explain).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import yaml

from hierarchy.graph import Hierarchy
from hierarchy.model import Unit
from inputs.limits import DIRECTIVE
from inputs.sources import Problem, parse_source
from inputs.vietnamese import nfc
from letters.directive import Report
from web.forms import FormErrors, nfc_text
from web.input_words import Told, on_form

Fields = dict[str, Any]
NAME = "biểu mẫu"  # the source's name in the loader's problems
URGENCIES = ("Khẩn", "Thượng khẩn", "Hỏa tốc")
RULES = {"on_request": "Khi đơn vị ban hành yêu cầu", "due": "Đến một ngày", "within": "Trong một số ngày làm việc"}
LABELS = {
    "issuer": "Đơn vị ban hành",
    "type": "Loại văn bản",
    "drafting_unit": "Đơn vị soạn thảo (viết tắt, ghi ở dòng Lưu)",
    "subject": "Trích yếu",
    "date": "Ngày dự thảo",
    "urgency": "Độ khẩn",
    "basis-type": "Loại văn bản căn cứ",
    "basis-number": "Số, ký hiệu",
    "basis-date": "Ngày ban hành",
    "basis-issuer": "Cơ quan ban hành",
    "basis-subject": "Trích yếu văn bản căn cứ",
    "report-rule": "Thời hạn báo cáo",
    "report-due": "Hạn báo cáo",
    "report-within": "Số ngày làm việc kể từ ngày ban hành",
    "report-from": "Đơn vị phải báo cáo",
    "report-lead": "Số ngày làm việc mỗi cấp giữ lại để tổng hợp",
    "report-remind": "Nhắc trước hạn (ngày làm việc)",
    "report-escalate": "Báo lãnh đạo cấp trên khi quá hạn (ngày làm việc)",
    "report-days-off": "Ngày nghỉ riêng của đơn vị",
    "closing": "Kết thúc",
    "note": "Ghi chú",
    "copies": "Nơi nhận khác",
    "signer-on-behalf": "Thay mặt (TM.)",
    "signer-authority": "Thẩm quyền ký (KT., TL., …)",
    "signer-position": "Chức vụ người ký",
    "signer-name": "Họ và tên người ký",
    "sections": "Các mục",
}
_SECTION = {"id": "mã mục", "title": "tiêu đề", "to": "gửi đến", "items": "nội dung"}
_RELAY = {"section": "ý của mục", "item": "ý số", "content": "nội dung của mục", "to": "gửi đến"}
_REPORT_NUMBERS = {"report-lead": "lead_days", "report-remind": "remind_before", "report-escalate": "escalate_after"}
_KEYS = {  # the loader's place (Problem.where) → the form's field
    "issuer": "issuer",
    "type": "type",
    "drafting_unit": "drafting_unit",
    "subject": "subject",
    "date": "date",
    "urgency": "urgency",
    "basis": "basis-type",
    **{f"basis.{k}": f"basis-{k}" for k in ("type", "number", "date", "issuer", "subject")},
    "sections": "sections",
    "closing": "closing",
    "note": "note",
    "copies": "copies",
    "report": "report-rule",
    "report.due": "report-due",
    "report.within_days": "report-within",
    "report.from": "report-from",
    **{f"report.{name}": key for key, name in _REPORT_NUMBERS.items()},
    "report.days_off": "report-days-off",
    "signer": "signer-name",
    **{f"signer.{k}": f"signer-{k.replace('_', '-')}" for k in ("on_behalf", "authority", "position", "name")},
}
SIMPLE = tuple(k for k in LABELS if k not in ("report-from", "sections"))
_INDEXED = re.compile(r"(section|relay)-(\d{1,3})-")


@dataclass
class Composed:
    """The directive file composed from the form, and where each of its places is on the form."""

    document: dict[str, Any]
    places: dict[str, tuple[str, str]]  # Problem.where → (form field, its Vietnamese name)

    def text(self) -> str:
        return dump(self.document)

    def explain(self, problems: Iterable[Problem]) -> dict[str, list[Told]]:
        """The loader's problems, each told against the form's field it concerns, in Vietnamese (web.input_words:
        the loader's English kept beside it): field → what is wrong with it."""
        found: dict[str, list[Told]] = {}
        for number, problem in enumerate(problems):
            key, label = self._place(problem.where)
            found.setdefault(key or f"problem-{number}", []).append(on_form(label, problem))
        return found

    def _place(self, where: str) -> tuple[str, str]:
        """The field of the place, or of the nearest place holding it ('sections[0].to[1]' → 'sections[0].to')."""
        while where not in self.places:
            shorter = re.sub(r"\[\d+\]$", "", where)
            shorter = re.sub(r"\.[^.]*$", "", where) if shorter == where else shorter
            if shorter == where:
                return "", ""
            where = shorter
        return self.places[where]


def dump(document: Mapping[str, Any]) -> str:
    """The directive file as YAML text, Vietnamese as written, one value per line."""
    return yaml.safe_dump(dict(document), allow_unicode=True, sort_keys=False, width=1 << 20)


def issuers(hierarchy: Hierarchy, reader: str) -> list[Unit]:
    """The units the reader approves letters of and that have units under them: those they may start from."""
    return [
        u for u in hierarchy.source.units if any(a.id == reader for a in u.approvers) and hierarchy.has_children(u.code)
    ]


def blank(choices: list[Unit]) -> Fields:
    """An empty form: the reader's unit and its signer when there is one choice, the model's defaults."""
    fields = fields_of({})
    if len(choices) == 1:
        unit = choices[0]
        fields["issuer"] = unit.code
        if unit.signer is not None:
            signer = unit.signer
            fields.update(
                {
                    "signer-on-behalf": signer.on_behalf or "",
                    "signer-authority": signer.authority or "",
                    "signer-position": signer.position,
                    "signer-name": signer.name,
                }
            )
    return fields


def padded(fields: Fields) -> Fields:
    """The fields as the form shows them: two empty sections and an empty relay to fill, three sections at least."""
    sections, relays = list(fields["sections"]), list(fields["relays"])
    empty_sections = len(sections) - max((n + 1 for n, s in enumerate(sections) if _filled(s)), default=0)
    sections += [_empty_section() for _ in range(max(2 - empty_sections, 3 - len(sections), 0))]
    if not relays or _filled(relays[-1]):
        relays.append({"section": "", "item": "", "content": "", "to": []})
    return {**fields, "sections": sections, "relays": relays}


def fields_from_text(text: str, name: str) -> Fields:
    """A pasted or uploaded directive's fields, to fill the form; InputError if it is no YAML."""
    return fields_of(parse_source(nfc(text).replace("\r\n", "\n"), name, DIRECTIVE).data)


def fields_of(data: Any) -> Fields:
    """A directive file's data (as the YAML loader reads it, or a Directive dumped by alias) as the form's
    fields; what is missing or malformed is shown empty, to be corrected on the form."""
    data = _mapping(data)
    basis, report, signer = (_mapping(data.get(k)) for k in ("basis", "report", "signer"))
    due, within = report.get("due"), report.get("within_days")
    rule = "within" if within is not None and due is None else "on_request" if due in (None, "on_request") else "due"
    fields: Fields = {
        "issuer": _str(data.get("issuer")),
        "type": _str(data.get("type", "Công văn")),
        "drafting_unit": _str(data.get("drafting_unit")),
        "subject": _str(data.get("subject")),
        "date": _day_text(data.get("date")),
        "urgency": _str(data.get("urgency")),
        **{f"basis-{k}": _str(basis.get(k)) for k in ("type", "number", "issuer", "subject")},
        "basis-date": _day_text(basis.get("date")),
        "report-rule": rule,
        "report-due": _day_text(due) if rule == "due" else "",
        "report-within": _str(within),
        "report-from": [_str(r) for r in _sequence(report.get("from"))],
        **{key: _str(report.get(name, _default(name))) for key, name in _REPORT_NUMBERS.items()},
        "report-days-off": "\n".join(_day_text(d) for d in _sequence(report.get("days_off"))),
        "closing": _str(data.get("closing")),
        "note": _str(data.get("note")),
        "copies": "\n".join(_one_line(c) for c in _sequence(data.get("copies"))),
        **{
            f"signer-{k.replace('_', '-')}": _str(signer.get(k)) for k in ("on_behalf", "authority", "position", "name")
        },
    }
    sections = [_mapping(s) for s in _sequence(data.get("sections"))]
    numbers = {_str(s.get("id")): str(p) for p, s in enumerate(sections, 1)}
    fields["sections"], fields["relays"] = [], []
    for p, section in enumerate(sections, 1):
        lines = []
        for j, item in enumerate(_sequence(section.get("items")), 1):
            relay = _mapping(item.get("relay")) if isinstance(item, dict) else {}
            lines.append(_one_line(item.get("text") if isinstance(item, dict) else item))
            if relay:
                content = _str(relay.get("content"))
                to = [_str(r) for r in _sequence(relay.get("to"))]
                fields["relays"].append(
                    {"section": str(p), "item": str(j), "content": numbers.get(content, content), "to": to}
                )
        fields["sections"].append(
            {
                "id": _str(section.get("id")),
                "title": _str(section.get("title")),
                "to": [_str(r) for r in _sequence(section.get("to"))],
                "items": "\n".join(lines),
            }
        )
    return fields


def posted(form: Mapping[str, Any]) -> Fields:
    """The fields as posted (NFC, trimmed), to compose the directive or show the form again as it was."""
    fields: Fields = {key: nfc_text(form, key) for key in SIMPLE}
    fields["report-from"] = _roles(form, "report-from")
    indices: dict[str, set[int]] = {"section": set(), "relay": set()}
    for key in form:
        found = _INDEXED.match(key)
        if found:
            indices[found.group(1)].add(int(found.group(2)))
    fields["sections"] = [
        {
            "id": nfc_text(form, f"section-{n}-id"),
            "title": nfc_text(form, f"section-{n}-title"),
            "to": _roles(form, f"section-{n}-to"),
            "items": nfc_text(form, f"section-{n}-items"),
        }
        for n in sorted(indices["section"])
    ]
    fields["relays"] = [
        {
            "section": nfc_text(form, f"relay-{n}-section"),
            "item": nfc_text(form, f"relay-{n}-item"),
            "content": nfc_text(form, f"relay-{n}-content"),
            "to": _roles(form, f"relay-{n}-to"),
        }
        for n in sorted(indices["relay"])
    ]
    return fields


def compose(fields: Fields) -> Composed:
    """The directive file the fields make, keys as the loader reads them; FormErrors (field → what is wrong, in
    Vietnamese) for what the form itself can tell."""
    errors: dict[str, str] = {}
    places = {where: (key, LABELS[key]) for where, key in _KEYS.items()}

    def need(key: str) -> str:
        if not fields[key]:
            errors[key] = f"{LABELS[key]}: chưa điền."
        return str(fields[key])

    def day(key: str, text: str | None = None) -> dt.date | None:
        text = fields[key] if text is None else text
        found = _day(text) if text else None
        if text and found is None:
            errors[key] = f"{LABELS[key]}: “{text}” không phải một ngày (ngày/tháng/năm, ví dụ 20/02/2024)."
        return found

    def number(key: str) -> int | None:
        text = str(fields[key])
        if text and not text.isdigit():
            errors[key] = f"{LABELS[key]}: “{text}” không phải một số ngày."
        return int(text) if text.isdigit() else None

    document: dict[str, Any] = {"issuer": need("issuer"), "type": fields["type"] or "Công văn"}
    _put(document, "drafting_unit", fields["drafting_unit"])
    document["subject"] = need("subject")
    _put(document, "date", day("date"))
    _put(document, "urgency", fields["urgency"])
    basis: dict[str, Any] = {k: need(f"basis-{k}") for k in ("type", "number")}
    basis["date"] = day("basis-date") if need("basis-date") else None
    basis.update({k: need(f"basis-{k}") for k in ("issuer", "subject")})
    document["basis"] = basis
    document["sections"] = _sections(fields, errors, places)
    document["closing"] = need("closing")
    _put(document, "note", fields["note"])
    report: dict[str, Any] = {}
    rule = fields["report-rule"] or "on_request"
    if rule == "due":
        report["due"] = day("report-due") if need("report-due") else None
    elif rule == "within":
        report["within_days"] = number("report-within") if need("report-within") else None
    elif rule == "on_request":
        report["due"] = "on_request"
    else:
        errors["report-rule"] = f"{LABELS['report-rule']}: hãy chọn một cách."
    _put(report, "from", list(fields["report-from"]))
    for key, name in _REPORT_NUMBERS.items():
        value = number(key)
        if value is not None and value != _default(name):
            report[name] = value
    _put(report, "days_off", [day("report-days-off", line) for line in _lines(fields["report-days-off"])])
    document["report"] = report
    _put(document, "copies", _lines(fields["copies"]))
    signer: dict[str, Any] = {}
    _put(signer, "on_behalf", fields["signer-on-behalf"])
    _put(signer, "authority", fields["signer-authority"])
    signer.update({"position": need("signer-position"), "name": need("signer-name")})
    document["signer"] = signer
    if errors:
        raise FormErrors(errors)
    return Composed(document, places)


def _sections(fields: Fields, errors: dict[str, str], places: dict[str, tuple[str, str]]) -> list[dict[str, Any]]:
    """Sections left wholly empty are dropped; a relay is put on the item it names."""
    sections: list[dict[str, Any]] = []
    at: dict[str, int] = {}  # the section's number on the form → its index in the file
    for n, section in enumerate(fields["sections"]):
        if not _filled(section):
            continue
        key, name, items = f"section-{n}", f"Mục {n + 1}", _lines(section["items"])
        for part, missing in (
            ("title", "chưa có tiêu đề"),
            ("to", "chưa chọn nơi nhận"),
            ("items", "chưa có nội dung"),
        ):
            if not (items if part == "items" else section[part]):
                errors[f"{key}-{part}"] = f"{name}: {missing}."
        i = at[str(n + 1)] = len(sections)
        sections.append(
            {
                "id": section["id"] or f"muc-{n + 1}",
                "title": section["title"],
                "to": list(section["to"]),
                "items": items,
            }
        )
        places[f"sections[{i}]"] = (f"{key}-title", name)
        places.update({f"sections[{i}].{p}": (f"{key}-{p}", f"{name}, {word}") for p, word in _SECTION.items()})
        places.update({f"sections[{i}].items[{j}]": (f"{key}-items", f"{name}, ý {j + 1}") for j in range(len(items))})
    if not sections and not any(k.startswith("section-") for k in errors):
        errors["sections"] = f"{LABELS['sections']}: văn bản cần ít nhất một mục."
    for n, relay in enumerate(fields["relays"]):
        if _filled(relay):
            _relay(n, relay, sections, at, errors, places)
    return sections


def _relay(
    n: int,
    relay: dict[str, Any],
    sections: list[dict[str, Any]],
    at: dict[str, int],
    errors: dict[str, str],
    places: dict[str, tuple[str, str]],
) -> None:
    key, name, before = f"relay-{n}", f"Chuyển tiếp {n + 1}", len(errors)
    i = at.get(relay["section"])
    item = int(relay["item"]) - 1 if relay["item"].isdigit() else -1
    content = relay["content"]
    if i is None:
        chosen = relay["section"]
        errors[f"{key}-section"] = (
            f"{name}: mục {chosen} còn trống." if chosen else f"{name}: hãy chọn mục có ý chuyển tiếp."
        )
    elif not 0 <= item < len(sections[i]["items"]):
        errors[f"{key}-item"] = f"{name}: mục {relay['section']} không có ý số “{relay['item']}”."
    elif not isinstance(sections[i]["items"][item], str):
        errors[f"{key}-item"] = f"{name}: ý này đã có một chuyển tiếp khác."
    if not content:
        errors[f"{key}-content"] = f"{name}: hãy chọn mục có nội dung được chuyển."
    elif content.isdigit():
        if content not in at:
            errors[f"{key}-content"] = f"{name}: không có mục {content}."
        else:
            content = sections[at[content]]["id"]
    if not relay["to"]:
        errors[f"{key}-to"] = f"{name}: chưa chọn nơi nhận."
    if len(errors) > before or i is None:
        return
    text = sections[i]["items"][item]
    sections[i]["items"][item] = {"text": text, "relay": {"to": list(relay["to"]), "content": content}}
    where = f"sections[{i}].items[{item}].relay"
    places[where] = (f"{key}-to", name)
    places.update({f"{where}.{p}": (f"{key}-{p}", f"{name}, {_RELAY[p]}") for p in ("to", "content")})


def _roles(form: Mapping[str, Any], key: str) -> list[str]:
    """The roles ticked, in the order the form was filled with (its hidden '-order' field: a directive file's own
    order is kept), the others after in the page's order."""
    getlist = getattr(form, "getlist", None)
    values = getlist(key) if callable(getlist) else form.get(key)
    ticked = [nfc(v).strip() for v in (values if isinstance(values, list) else [values]) if isinstance(v, str)]
    order = nfc_text(form, f"{key}-order").split()
    return sorted(dict.fromkeys(v for v in ticked if v), key=lambda r: order.index(r) if r in order else len(order))


def _filled(row: Mapping[str, Any]) -> bool:
    return any(row.values())


def _empty_section() -> dict[str, Any]:
    return {"id": "", "title": "", "to": [], "items": ""}


def _put(document: dict[str, Any], key: str, value: Any) -> None:
    if value not in (None, "", []):
        document[key] = value


def _lines(text: str) -> list[str]:
    """One per line, as the letter's edit form reads them (a leading '- ' is dropped)."""
    return [line.strip().removeprefix("- ").strip() for line in text.splitlines() if line.strip()]


def _day(text: str) -> dt.date | None:
    """dd/mm/yyyy (or d/m/yyyy, with dots or dashes), or yyyy-mm-dd."""
    found = re.fullmatch(r"(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})", text)
    iso = re.fullmatch(r"(\d{4})-(\d{2})-(\d{2})", text)
    try:
        if found:
            return dt.date(int(found.group(3)), int(found.group(2)), int(found.group(1)))
        if iso:
            return dt.date(int(iso.group(1)), int(iso.group(2)), int(iso.group(3)))
    except ValueError:
        return None
    return None


def _day_text(value: Any) -> str:
    if isinstance(value, str):
        value = _day(value) or value
    return f"{value:%d/%m/%Y}" if isinstance(value, dt.date) else _str(value)


def _default(name: str) -> Any:
    return Report.model_fields[name].default


def _str(value: Any) -> str:
    return "" if value is None else nfc(str(value)).strip()


def _one_line(value: Any) -> str:
    """An item or a copy on one line of its box (a line break in the file's text becomes a space)."""
    return re.sub(r"\s*\n\s*", " ", _str(value))


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _sequence(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [] if value is None else [value]
