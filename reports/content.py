"""A unit's report: what was done, figures, difficulties, proposals; from YAML or Markdown."""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, FiniteFloat, StringConstraints

from inputs.limits import REPORT
from inputs.sources import InputError, Problem, Source, parse_source, read_text, validate
from inputs.vietnamese import nfc

Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]

# Markdown headings a report may use (case and accents as a clerk types them), and the field each fills.
_HEADINGS = {
    "kết quả thực hiện": "done",
    "số liệu": "figures",
    "khó khăn, vướng mắc": "difficulties",
    "đề xuất, kiến nghị": "proposals",
}


class ReportContent(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    done: Text = Field(description="What the unit did")
    figures: dict[Text, FiniteFloat] = Field(
        default_factory=dict, description="Name -> number; summed when consolidated"
    )
    difficulties: tuple[Text, ...] = ()
    proposals: tuple[Text, ...] = ()


def load_report(path: str | Path) -> tuple[ReportContent, str]:
    """The report in a .yaml/.yml or .md file, and its text as submitted; InputError names file and line."""
    name = str(path)
    text = nfc(read_text(path, REPORT))
    return parse_report(text, name), text


def parse_report(text: str, name: str) -> ReportContent:
    """A report's text: Markdown if the name ends in .md, else YAML (see load_report)."""
    if name.endswith(".md"):
        return _from_markdown(text, name)
    src = parse_source(text, name, REPORT)
    if not isinstance(src.data, dict):
        raise InputError([src.problem((), "expected a mapping: done, figures, difficulties, proposals")])
    return validate(ReportContent, src)


def figure(line: str) -> tuple[str, float] | None:
    """'- Số lượt tuyên truyền: 1.234,5' (the dash optional) as a name and a number, Vietnamese style: '.'
    groups thousands, ',' marks decimals; None if the line is not that."""
    match = re.match(r"^(?:-\s*)?(.+?):\s*([\d.,]+)\s*$", line.strip())
    if not match:
        return None
    try:
        value = float(match.group(2).replace(".", "").replace(",", "."))
    except ValueError:  # only separators, no digit
        return None
    return (match.group(1).strip(), value) if math.isfinite(value) else None


def _from_markdown(text: str, name: str) -> ReportContent:
    """Sections under '## Kết quả thực hiện', '## Số liệu' ('- name: number'), '## Khó khăn, vướng mắc', …"""
    fields: dict[str, list[tuple[int, str]]] = {}
    current: str | None = None
    problems: list[Problem] = []
    for number, line in enumerate(text.splitlines(), 1):
        heading = re.match(r"^#+\s*(.+?)\s*$", line)
        if heading:
            current = _HEADINGS.get(heading.group(1).lower().rstrip(":"))
            if current is None:
                known = ", ".join(f"'## {h.capitalize()}'" for h in _HEADINGS)
                problems.append(Problem(name, number, "", f"unknown section '{heading.group(1)}' (known: {known})"))
            continue
        if line.strip() and current:
            fields.setdefault(current, []).append((number, line.strip()))
    data: dict[str, object] = {}
    if "done" in fields:
        data["done"] = " ".join(t for _, t in fields["done"])
    for key in ("difficulties", "proposals"):
        data[key] = [t.removeprefix("- ").strip() for _, t in fields.get(key, [])]
    figures: dict[str, float] = {}
    for number, line in fields.get("figures", []):
        found = figure(line)
        if found is None:
            problems.append(Problem(name, number, "figures", f"expected '- name: number', got {line!r}"))
            continue
        figures[found[0]] = found[1]
    data["figures"] = figures
    if problems:
        raise InputError(problems)
    return validate(ReportContent, Source(name, data, {(): 1}))
