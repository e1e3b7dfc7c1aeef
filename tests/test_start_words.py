"""The start page tells what is wrong with a directive in Vietnamese (web/input_words.py): a pasted file's problems
and the composed form's, the loader's English kept beside each, small and marked lang="en". Every message the
loaders write has its Vietnamese: a new one without it fails here.

Against a real server (uvicorn on loopback) and a real database, as the start page's tests in test_compose.py."""

from __future__ import annotations

import ast
import copy
import datetime as dt
import html
import re
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic_core import PydanticKnownError

from hierarchy.model import HierarchyFile
from inputs import limits
from inputs.sources import InputError, Problem, Source, validate
from letters.directive import Directive
from tests.steps import LANGSON
from tests.test_compose import EXAMPLE, director_at_desk, filled, form_of, typed
from tests.test_desk import Person
from tests.wording import DESK_ALLOWED, english_words
from web.input_words import GENERIC, WHAT, in_file, on_form, problem_in_vietnamese, translated

ROOT = Path(__file__).resolve().parent.parent
TEXT = EXAMPLE.read_text(encoding="utf-8")


class _Seen(HTMLParser):
    """The text a reader sees, the loader's English (lang="en") and values shown as written (<code>) set aside,
    as tests.wording.english_on_page sets them aside; no style, and no text typed into a box."""

    SKIP = frozenset({"style", "script", "textarea", "title", "code"})
    VOID = frozenset({"input", "br", "img", "meta", "link", "hr", "source", "wbr"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[bool] = []  # for each open element: whether its text is set aside
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self.VOID:
            return
        aside = tag in self.SKIP or dict(attrs).get("lang") == "en"
        self.stack.append(aside or (bool(self.stack) and self.stack[-1]))

    def handle_endtag(self, tag: str) -> None:
        if tag not in self.VOID and self.stack:
            self.stack.pop()

    def handle_data(self, data: str) -> None:
        if not (self.stack and self.stack[-1]):
            self.text.append(data)


def seen(page: str) -> str:
    parser = _Seen()
    parser.feed(page)
    return " ".join(" ".join(parser.text).split())


def english_on(page: str) -> list[str]:
    return english_words(seen(page), DESK_ALLOWED)


@pytest.fixture(scope="module")
def department(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Person]:
    """The department's director, signed in on the desk serving the Lạng Sơn hierarchy."""
    folder = tmp_path_factory.mktemp("start-words")
    url = f"sqlite:///{folder / 'chidao.db'}"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("CHIDAO_DATA_DIR", str(folder / "data"))
        patch.setenv("CHIDAO_DATABASE_URL", url)
        with director_at_desk(url) as person:
            person.get("/start")
            yield person


DUPLICATE = TEXT.replace("  - id: telecom", "  - id: postal")
TWICE = DUPLICATE[: DUPLICATE.rindex("  - id: postal")].count("\n") + 1  # the line of the second 'postal'
YAML_CASES = [
    # (what is posted, what the page says in Vietnamese, the loader's English kept beside it)
    (
        DUPLICATE,
        f"Ô nhập văn bản, dòng {TWICE}, <code>sections[2].id</code>: mã mục <code>postal</code> bị trùng",
        "duplicate section id 'postal'",
    ),
    (
        TEXT.replace('issuer: "20.STTTT"', 'issuer: "20.KHONGCO"'),
        "<code>issuer</code>: không có đơn vị <code>20.KHONGCO</code> trong hệ thống đơn vị.",
        "unknown unit '20.KHONGCO' in the hierarchy",
    ),
    (
        re.sub(r"\nsubject: .*", "", TEXT, count=1),
        "Ô nhập văn bản, dòng 4, <code>subject</code>: thiếu trường bắt buộc <code>subject</code>.",
        "missing field 'subject'",
    ),
    (
        TEXT.replace("  date: 2023-11-20", "  date: 20/11/2023"),
        "<code>basis.date</code>: phải là một ngày, viết năm-tháng-ngày (ví dụ 2024-02-20).",
        "Input should be a valid date or datetime",
    ),
    (TEXT.replace("  date: 2023-11-20", "  date: 2023-02-30"), "ngày không có thật", "day is out of range for month"),
    (
        TEXT.replace("\nclosing: ", "\nuu_tien: cao\nclosing: ", 1),
        "<code>uu_tien</code>: không có trường <code>uu_tien</code> trong mẫu (có thể viết sai tên)",
        "unknown field 'uu_tien'",
    ),
    (
        TEXT.replace("  type: Kế hoạch", "  type: &loai Kế hoạch").replace("type: Công văn", "type: *loai"),
        "không được dùng neo và bí danh của YAML (<code>&amp;</code>, <code>*</code>).",
        "YAML anchors and aliases (&, *) are not accepted",
    ),
    ("issuer: [\n", "Ô nhập văn bản, dòng 2: YAML sai cú pháp:", "broken YAML: did not find expected node content"),
    ("- một\n- hai\n", "tệp chỉ đạo phải gồm các trường dạng <code>tên: giá trị</code>", "expected a mapping"),
]


@pytest.mark.parametrize(("posted", "says", "english"), YAML_CASES)
def test_a_pasted_directive_s_problems_are_told_in_vietnamese(
    department: Person, posted: str, says: str, english: str
) -> None:
    answer = department.post("/start", {"text": posted})
    assert answer.status_code == 400
    assert "Tệp chỉ đạo chưa dùng được" in answer.text and "Khởi động đợt triển khai" not in answer.text
    assert says in answer.text, re.findall(r"<li>(.*?)</li>", answer.text)
    raw = [html.unescape(r) for r in re.findall(r'<span class="raw" lang="en">(.*?)</span>', answer.text)]
    assert any(english in r for r in raw), raw  # the loader's own words, kept
    assert not english_on(answer.text), english_on(answer.text)


def test_an_uploaded_file_is_named_with_its_line(department: Person) -> None:
    upload = department.post("/start", files={"file": ("chi-dao.yaml", DUPLICATE.encode())})
    assert upload.status_code == 400
    told = f"chi-dao.yaml, dòng {TWICE}, <code>sections[2].id</code>: mã mục <code>postal</code> bị trùng"
    assert told in upload.text, re.findall(r"<li>(.*?)</li>", upload.text)
    assert not english_on(upload.text), english_on(upload.text)
    filling = department.post("/start", {"text": "issuer: [\n", "view": "fill"})  # read into the form: the same
    assert filling.status_code == 400 and "YAML sai cú pháp" in filling.text and not english_on(filling.text)


FORM_CASES = [
    # the loader's checks, told against the form's fields
    ({"section-0-id": ["postal"]}, "Mục 2, mã mục: mã mục <code>postal</code> bị trùng", "duplicate section id"),
    (
        {"issuer": ["20.KHONGCO"]},
        "Đơn vị ban hành: không có đơn vị <code>20.KHONGCO</code> trong hệ thống đơn vị.",
        "unknown unit '20.KHONGCO'",
    ),
    (
        {"report-rule": ["due"], "report-due": ["01/02/2020"]},
        "Hạn báo cáo: hạn báo cáo 01/02/2020 đã qua",
        "the report deadline 01/02/2020 has already passed",
    ),
    (
        {"type": ["Tờ trình nội bộ"]},
        "Loại văn bản: loại văn bản <code>Tờ trình nội bộ</code> không có trong danh mục",
        "unknown document type",
    ),
    # the form's own, in Vietnamese already: no English beside them
    ({"subject": [""]}, "Trích yếu: chưa điền.", None),
    ({"basis-date": ["30/02/2024"]}, "Ngày ban hành: “30/02/2024” không phải một ngày", None),
    ({"subject": ["*loai & chữ"]}, None, None),  # what looks like YAML's syntax is text on the form
]


@pytest.mark.parametrize(("change", "says", "english"), FORM_CASES)
def test_the_form_s_problems_are_told_in_vietnamese_against_their_fields(
    department: Person, change: dict[str, list[str]], says: str | None, english: str | None
) -> None:
    complete = filled(form_of(department.get("/start").text), typed(yaml.safe_load(TEXT)))
    answer = department.post("/start", complete | change)
    assert not english_on(answer.text), english_on(answer.text)
    if says is None:
        assert answer.status_code == 200 and "Khởi động đợt triển khai" in answer.text
        return
    assert answer.status_code == 400 and "Biểu mẫu chưa dùng được" in answer.text
    assert says in html.unescape(answer.text) or says in answer.text, re.findall(r"<li>(.*?)</li>", answer.text)
    raw = re.findall(r'<span class="raw" lang="en">(.*?)</span>', answer.text)
    if english is None:
        assert not raw
    else:
        assert any(english in html.unescape(r) for r in raw), raw
        # beside its field too
        assert re.search(r'<p class="error">[^\n]*<span class="raw" lang="en">', answer.text)


# --- every message the loaders write has its Vietnamese -------------------------------------------------------

# The modules whose messages reach the start page: the directive's loader, the YAML reader and its limits, the
# served hierarchy's loader, the planner's refusal (web.starts passes it on).
SOURCES = [
    "letters/directive.py",
    "letters/plan.py",
    "hierarchy/load.py",
    "hierarchy/model.py",
    "hierarchy/graph.py",
    "inputs/sources.py",
    "inputs/limits.py",
]
# Calls that carry a message, and which argument it is.
_MESSAGE_ARG = {"problem": 1, "Problem": 3, "unit_problem": 3, "_refuse": 1, "ValueError": 0, "NothingToSend": 0}
# Functions whose return value is a message.
_RETURNING = {
    ("inputs/limits.py", "too_big"),
    ("hierarchy/load.py", "address_problem"),
    ("hierarchy/graph.py", "__str__"),
}


def _sample(node: ast.expr, blank: bool) -> str | None:
    """The message an expression makes, its values filled with samples ('sample' for a repr, 7 or nothing)."""
    if isinstance(node, ast.Constant):
        return node.value if isinstance(node.value, str) else None
    if isinstance(node, ast.JoinedStr):
        out = ""
        for value in node.values:
            if isinstance(value, ast.Constant):
                out += str(value.value)
            elif isinstance(value, ast.FormattedValue):
                spec = ast.unparse(value.format_spec) if value.format_spec else ""
                if value.conversion == ord("r"):
                    out += "'sample'"
                elif "%d" in spec:
                    out += "01/02/2024"
                elif "," in spec:
                    out += "1,234"
                elif spec.endswith("f'") or spec.endswith('f"'):
                    out += "2.0"
                else:
                    out += "" if blank else "7"
        return out
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        left, right = _sample(node.left, blank), _sample(node.right, blank)
        return (left or "") + (right if right is not None else ("" if blank else "7"))
    return None


def loader_messages() -> list[tuple[str, str, str]]:
    """(file, line, message) for every message the loaders write, samples for its values: with '7' and with
    nothing where a value is neither quoted nor formatted."""
    found: list[tuple[str, str, str]] = []
    for name in SOURCES:
        tree = ast.parse((ROOT / name).read_text(encoding="utf-8"))
        nodes: list[ast.expr] = []
        for node in ast.walk(tree):
            if isinstance(node, ast.Call):
                func = node.func
                called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
                at = _MESSAGE_ARG.get(called)
                if at is not None and len(node.args) > at:
                    nodes.append(node.args[at])
            elif isinstance(node, ast.FunctionDef) and (name, node.name) in _RETURNING:
                nodes += [r.value for r in ast.walk(node) if isinstance(r, ast.Return) and r.value is not None]
            elif isinstance(node, ast.Assign) and any(getattr(t, "id", "") == "message" for t in node.targets):
                nodes.append(node.value)
        nodes += [n.orelse for n in nodes if isinstance(n, ast.IfExp)]  # "missing field 'x'" if loc else "missing"
        for node in [n.body if isinstance(n, ast.IfExp) else n for n in nodes]:
            for blank in (False, True):
                message = _sample(node, blank)
                if message:
                    found.append((name, str(node.lineno), message))
    return found


def _vietnamese_only(message: str) -> list[str]:
    """English in the Vietnamese told for the message (values shown as written set aside)."""
    told = translated(message) or ()
    return english_words(" ".join(text for text, code in told if not code), DESK_ALLOWED)


def test_every_message_the_loaders_write_has_its_vietnamese() -> None:
    messages = loader_messages()
    assert len({m for _, _, m in messages}) >= 60, "the loaders' messages were not found"
    by_place: dict[tuple[str, str], list[str]] = {}
    for name, line, message in messages:
        by_place.setdefault((name, line), []).append(message)
    # each message (with its samples one way or the other) has its rule
    unknown = [(place, ms) for place, ms in by_place.items() if all(translated(m) is None for m in ms)]
    assert not unknown, f"messages without Vietnamese in web/input_words.py: {unknown}"
    english = {m: _vietnamese_only(m) for _, _, m in messages if _vietnamese_only(m)}
    assert not english, english
    # the suggestion address_problem adds, made apart from its message
    assert translated(
        "'bé@x.vn' is internationalised, and the mail server is not declared to take it "
        "(CHIDAO_SMTPUTF8): write it 'xn--b-xx@x.vn'"
    )
    # every kind of file inputs.limits refuses is named
    kinds = [v.what for v in vars(limits).values() if isinstance(v, limits.Limits)]
    assert kinds and all(kind in WHAT for kind in kinds)


def _pydantic_messages(model: Any, data: dict[str, Any], paths: list[tuple[Any, ...]]) -> set[str]:
    """The messages the model's validation writes with each path set to each of a set of bad values."""
    bad: list[Any] = [None, "", "  ", [], {}, "chữ", 1.5, True, -1, 10**40, [1], {"a": 1}, "2023-13-45", "on_request"]
    bad += [dt.datetime(2023, 1, 1, 5), dt.date(2023, 1, 1), 400, "x" * 3]
    messages: set[str] = set()
    for path in paths:
        for value in [*bad, _DELETE]:
            changed = copy.deepcopy(data)
            where = changed
            for key in path[:-1]:
                where = where[key]
            if value is not _DELETE:
                where[path[-1]] = value
            elif isinstance(where, dict):
                where.pop(path[-1], None)
            try:
                validate(model, Source("t", changed))
            except InputError as exc:
                messages |= {p.message for p in exc.problems}
    return messages


_DELETE = object()


def test_every_message_pydantic_writes_for_a_directive_or_a_hierarchy_has_its_vietnamese() -> None:
    directive = yaml.safe_load(TEXT)
    paths: list[tuple[Any, ...]] = [(k,) for k in [*Directive.model_fields, "from", "extra"]]
    paths += [("basis", k) for k in ("type", "number", "date", "issuer", "subject", "extra")]
    paths += [("sections", 0, k) for k in ("id", "title", "to", "items", "extra")]
    paths += [("sections", 0, "to", 0), ("sections", 0, "items", 0), ("sections", 3, "items", 0, "relay")]
    paths += [("sections", 3, "items", 0, "relay", k) for k in ("to", "content", "extra")]
    paths += [("report", k) for k in ("due", "within_days", "from", "lead_days", "days_off", "remind_before")]
    paths += [("report", k) for k in ("escalate_after", "extra")] + [("signer", k) for k in ("name", "extra")]
    messages = _pydantic_messages(Directive, directive, paths)
    hierarchy = yaml.safe_load((LANGSON / "hierarchy.yaml").read_text(encoding="utf-8"))
    hierarchy["units"] = hierarchy["units"][:3]  # the models' checks: a few units are enough
    unit_paths: list[tuple[Any, ...]] = [("units", 0, k) for k in ("code", "level", "kind", "link", "roles")]
    unit_paths += [("units", 0, k) for k in ("email", "groups", "approvers", "signer", "extra")]
    unit_paths += [("hierarchy", "root"), ("roles",), ("units",)]
    messages |= _pydantic_messages(HierarchyFile, hierarchy, unit_paths)
    assert len(messages) >= 25, messages
    unknown = sorted(m for m in messages if translated(m) is None)
    assert not unknown, f"pydantic's messages without Vietnamese in web/input_words.py: {unknown}"
    english = {m: _vietnamese_only(m) for m in messages if _vietnamese_only(m)}
    assert not english, english


PYDANTIC_TYPES = [
    ("missing", {}),
    ("extra_forbidden", {}),
    ("string_type", {}),
    ("string_too_short", {"min_length": 1}),
    ("string_too_short", {"min_length": 3}),
    ("string_too_long", {"max_length": 200}),
    ("too_short", {"field_type": "List", "min_length": 1, "actual_length": 0}),
    ("too_long", {"field_type": "Tuple", "max_length": 3, "actual_length": 5}),
    ("date_type", {}),
    ("date_parsing", {"error": "input is too short"}),
    ("date_from_datetime_parsing", {"error": "invalid character in year"}),
    ("date_from_datetime_inexact", {}),
    ("int_type", {}),
    ("int_parsing", {}),
    ("int_from_float", {}),
    ("int_parsing_size", {}),
    ("float_parsing", {}),
    ("bool_type", {}),
    ("bool_parsing", {}),
    ("literal_error", {"expected": "'Khẩn', 'Thượng khẩn' or 'Hỏa tốc'"}),
    ("literal_error", {"expected": "'on_request'"}),
    ("enum", {"expected": "'direct' or 'request'"}),
    ("list_type", {}),
    ("tuple_type", {}),
    ("set_type", {}),
    ("iterable_type", {}),
    ("dict_type", {}),
    ("model_type", {"class_name": "Basis"}),
    ("model_attributes_type", {}),
    ("value_error", {"error": "give exactly one of 'due' (a date or on_request) and 'within_days'"}),
    ("greater_than", {"gt": 0}),
    ("greater_than_equal", {"ge": 1}),
    ("less_than", {"lt": 366}),
    ("less_than_equal", {"le": 365}),
    ("multiple_of", {"multiple_of": 2}),
    ("none_required", {}),
    ("invalid_key", {}),
    ("string_pattern_mismatch", {"pattern": "^[a-z]+$"}),
    ("date_past", {}),
    ("date_future", {}),
    ("recursion_loop", {}),
]


@pytest.mark.parametrize(("kind", "context"), PYDANTIC_TYPES)
def test_each_pydantic_error_type_has_its_vietnamese(kind: str, context: dict[str, Any]) -> None:
    message = PydanticKnownError(kind, context or None).message()  # type: ignore[arg-type]
    if kind == "value_error":
        message = f"Value error, {context['error']}"  # as ValidationError.errors() words it
    assert translated(message) is not None, message
    assert not _vietnamese_only(message), (message, _vietnamese_only(message))


def test_a_problem_in_vietnamese_keeps_its_values_and_its_english() -> None:
    problem = Problem("<directive>", 12, "sections[2].id", "duplicate section id 'postal'")
    assert problem_in_vietnamese(problem) == (
        "Mã mục “postal” bị trùng: mỗi mục cần một mã riêng.",
        "duplicate section id 'postal'",
    )
    too_big = Problem("x.yaml", None, "", limits.too_big(limits.DIRECTIVE, 3 * limits.MIB) or "")
    assert problem_in_vietnamese(too_big)[0] == "Tệp chỉ đạo quá lớn: 3,0 MB (tối đa 1 MB)."
    # a message no rule knows: a sentence still, the English beside it
    strange = Problem("<directive>", 3, "issuer", "something new went wrong")
    assert problem_in_vietnamese(strange) == (GENERIC[:1].upper() + GENERIC[1:], "something new went wrong")
    told = on_form("Trích yếu", strange)
    assert told.words == "Trích yếu: giá trị không hợp lệ." and told.raw == "something new went wrong"
    # Value error wrapping a message no rule knows: generic too, not the English
    assert translated("Value error, something new") is None
    # a unit of the served hierarchy is named by its code, its field as the file writes it
    unit = Problem(
        "hierarchy.yaml",
        40,
        "unit 20.STTTT field 'email'",
        "not an e-mail address that can be sent to: 'a b@x' (The email address is not valid.)",
    )
    assert (
        in_file(unit).words == "hierarchy.yaml, dòng 40, đơn vị “20.STTTT”, trường “email”: địa chỉ thư “a b@x” "
        "không gửi được (sai định dạng)."
    )
