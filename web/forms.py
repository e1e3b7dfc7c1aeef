"""The desk's forms, read into the same models the CLI reads from files (LetterEdit, ReportContent).

A form that does not validate comes back with a message per field, in the users' language.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from chidao.edits import LetterEdit
from inputs.vietnamese import nfc
from letters.content import Letter
from reports.content import ReportContent, figure


class FormErrors(Exception):
    """Field -> what is wrong with it."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


def _text(form: Mapping[str, Any], key: str) -> str:
    value = form.get(key)
    return nfc(value).replace("\r\n", "\n").strip() if isinstance(value, str) else ""


nfc_text = _text


def report_fields(report: ReportContent) -> dict[str, str]:
    """A report as the form shows it, to correct it."""
    return {
        "done": report.done,
        "figures": "\n".join(f"{name}: {_number(value)}" for name, value in report.figures.items()),
        "difficulties": "\n".join(report.difficulties),
        "proposals": "\n".join(report.proposals),
    }


def _lines(text: str) -> list[str]:
    return [line.strip().removeprefix("- ").strip() for line in text.splitlines() if line.strip()]


def edit_fields(letter: Letter) -> dict[str, Any]:
    """A letter as the edit form shows it: each section's title and its items one per line, and an empty
    section at the end for adding one."""
    sections = [{"title": s.title, "items": "\n".join(s.items)} for s in letter.sections]
    return {"opening": letter.opening, "closing": letter.closing, "sections": [*sections, {"title": "", "items": ""}]}


def read_edit(form: Mapping[str, Any]) -> LetterEdit:
    """Sections from 'section-N-title' and 'section-N-items' (one item per line); a section left with
    neither title nor items is dropped, which is how one is removed."""
    sections: list[dict[str, Any]] = []
    errors: dict[str, str] = {}
    count = sum(1 for key in form if key.startswith("section-") and key.endswith("-title"))
    for n in range(count):
        title, items = _text(form, f"section-{n}-title"), _lines(_text(form, f"section-{n}-items"))
        if not title and not items:
            continue
        if not title:
            errors[f"section-{n}-title"] = f"Mục {n + 1} có nội dung nhưng chưa có tiêu đề."
        if not items:
            errors[f"section-{n}-items"] = f"Mục {n + 1} chưa có nội dung (mỗi dòng một ý)."
        sections.append({"title": title, "items": items})
    if not sections and not errors:
        errors["sections"] = "Văn bản cần ít nhất một mục."
    if errors:
        raise FormErrors(errors)
    data = {"opening": _text(form, "opening") or None, "sections": sections, "closing": _text(form, "closing") or None}
    try:
        return LetterEdit.model_validate(data)
    except ValidationError as exc:
        raise FormErrors({".".join(map(str, e["loc"])): e["msg"] for e in exc.errors()}) from None


def read_report(form: Mapping[str, Any]) -> tuple[ReportContent, str]:
    """The report and its text as submitted (the Markdown a clerk could also have sent as a file)."""
    errors: dict[str, str] = {}
    done = _text(form, "done")
    if not done:
        errors["done"] = "Hãy ghi kết quả thực hiện."
    figures: dict[str, float] = {}
    for number, line in enumerate(_lines(_text(form, "figures")), 1):
        found = figure(line)
        if found is None:
            errors["figures"] = f"Dòng {number} của ô Số liệu phải có dạng 'tên chỉ tiêu: số', không phải {line!r}."
            break
        figures[found[0]] = found[1]
    difficulties, proposals = _lines(_text(form, "difficulties")), _lines(_text(form, "proposals"))
    if errors:
        raise FormErrors(errors)
    try:
        content = ReportContent(
            done=done, figures=figures, difficulties=tuple(difficulties), proposals=tuple(proposals)
        )
    except ValidationError as exc:
        raise FormErrors({".".join(map(str, e["loc"])): e["msg"] for e in exc.errors()}) from None
    source = "\n".join(
        [
            "## Kết quả thực hiện",
            done,
            "",
            "## Số liệu",
            *(f"- {name}: {_number(value)}" for name, value in figures.items()),
            "",
            "## Khó khăn, vướng mắc",
            *(f"- {t}" for t in difficulties),
            "",
            "## Đề xuất, kiến nghị",
            *(f"- {t}" for t in proposals),
            "",
        ]
    )
    return content, source


def _number(value: float) -> str:
    """Vietnamese style, as read back by reports.content.figure: 1.234,5."""
    whole, _, frac = f"{value:.6f}".rstrip("0").rstrip(".").partition(".")
    grouped = f"{int(whole):,}".replace(",", ".")
    return f"{grouped},{frac}" if frac else grouped
