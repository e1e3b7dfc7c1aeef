"""What the loaders' problems with a directive mean, in the words of the desk's readers.

The loaders (inputs.sources, letters.directive, hierarchy.load) write their problems in English for the command
line and the logs; the start page tells each one in Vietnamese, the loader's own English kept beside it, small
(lang="en"), as the letter page keeps a mail server's reply. Problems carry no pydantic error type (only its
message, after inputs.sources.validate), so messages are matched on their wording: chidao's own, and pydantic's
for every type a directive or a hierarchy can produce. The values a message quotes (a section id, a unit code, a
key) are kept, shown as written (<code>); a message without a match is told as "Giá trị không hợp lệ."
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from inputs import limits
from inputs.sources import Problem

Part = tuple[str, bool]  # text, and whether it is shown as written (a value, a key, a code: <code>)
Parts = tuple[Part, ...]
GENERIC = "giá trị không hợp lệ."

# What a file is, as inputs.limits names its kinds ("too large for a directive").
WHAT = {
    limits.DIRECTIVE.what: "tệp chỉ đạo",
    limits.REPORT.what: "báo cáo",
    limits.EDIT.what: "bản sửa văn bản",
    limits.KEYS.what: "tệp khóa",
    limits.HIERARCHY.what: "tệp hệ thống đơn vị",
}

_YAML = "YAML sai cú pháp"
# (the English, matched whole; the Vietnamese: {name} takes the group's value, `text` is shown as written)
_RULES: tuple[tuple[str, str], ...] = (
    # letters.directive
    (
        r"expected a mapping \(issuer, subject, basis, sections, …\)",
        "tệp chỉ đạo phải gồm các trường dạng `tên: giá trị` (đơn vị ban hành, trích yếu, căn cứ, các mục, …).",
    ),
    (r"unknown document type (?P<v>.+)", "loại văn bản {v} không có trong danh mục loại văn bản."),
    (r"duplicate section id (?P<v>.+)", "mã mục {v} bị trùng: mỗi mục cần một mã riêng."),
    (r"no section has id (?P<v>.+)", "không có mục nào mang mã {v}."),
    (r"a section cannot relay itself", "một mục không thể chuyển tiếp nội dung của chính nó."),
    (r"unknown placeholder (?P<v>\{.*?\}) \(allowed: (?P<many>.*)\)", "chỗ điền {v} không có; chỉ dùng được: {many}."),
    (r"unknown unit (?P<v>.+) in the hierarchy", "không có đơn vị {v} trong hệ thống đơn vị."),
    (r"unit (?P<v>.+) has no units under it", "đơn vị {v} không có đơn vị cấp dưới để triển khai văn bản."),
    (
        r"unit (?P<v>.+) has no abbreviation",
        "đơn vị {v} chưa có tên viết tắt trong hệ thống đơn vị (dùng trong số, ký hiệu văn bản).",
    ),
    (
        r"unknown role (?P<v>.+?) \(the hierarchy has: (?P<many>.*)\)",
        "không có vai trò {v}; hệ thống đơn vị có các vai trò: {many}.",
    ),
    (
        r"the report deadline (?P<due>\S+) has already passed \((?P<today>[^)]*)\)",
        "hạn báo cáo {due} đã qua (hôm nay là {today}).",
    ),
    (
        r"deadline (?P<due>\S+) less (?P<n>\d+) working days per level below leaves the lowest level a deadline of "
        r"(?P<low>\S+), before (?P<today>\S+): set a later date or fewer lead days",
        "hạn {due}, mỗi cấp dưới bớt {n} ngày làm việc, thì cấp thấp nhất chỉ còn hạn {low}, trước hôm nay ({today}): "
        "hãy chọn hạn muộn hơn hoặc bớt số ngày mỗi cấp giữ lại để tổng hợp.",
    ),
    (
        r"give exactly one of 'due' \(a date or on_request\) and 'within_days'",
        "hãy cho đúng một trong hai: hạn báo cáo `due` (một ngày, hoặc `on_request`: khi đơn vị ban hành yêu cầu) "
        "hoặc số ngày làm việc `within_days`.",
    ),
    # letters.plan (NothingToSend, told by web.starts)
    (
        r"no section of the directive addresses a unit under (?P<v>\S+) \(roles there: (?P<many>.*)\)",
        "không mục nào gửi đến đơn vị cấp dưới của {v} (các đơn vị cấp dưới có vai trò: {many}).",
    ),
    # hierarchy.load, hierarchy.model, hierarchy.graph
    (
        r"expected a mapping with 'hierarchy', 'roles' and 'units'",
        "tệp hệ thống đơn vị phải gồm các trường `hierarchy`, `roles` và `units`.",
    ),
    (r"(?P<n>[\d,]+) units: at most (?P<max>[\d,]+) in one file", "{n} đơn vị: một tệp chỉ có tối đa {max} đơn vị."),
    (r"duplicate code \(first at line (?P<n>\d+)\)", "mã đơn vị bị trùng (đã có ở dòng {n})."),
    (r"root (?P<v>.+) is not a unit of the file", "đơn vị gốc {v} không có trong danh sách đơn vị của tệp."),
    (
        r"missing field 'parent' \(only the root (?P<v>.+) has none\)",
        "thiếu đơn vị cấp trên `parent` (chỉ đơn vị gốc {v} không có).",
    ),
    (r"unknown parent (?P<v>.+)", "không có đơn vị cấp trên {v} trong tệp."),
    (r"the root cannot have a parent", "đơn vị gốc không có đơn vị cấp trên."),
    (r"unknown role (?P<v>.+?) \(declared: (?P<many>.*)\)", "vai trò {v} chưa được khai báo (đã khai báo: {many})."),
    (r"unknown role (?P<v>.+)", "vai trò {v} chưa được khai báo."),
    (
        r"missing field 'position' for (?P<v>.+?) \(printed above the name when they sign\)",
        "thiếu chức vụ `position` của {v} (in phía trên tên người ký).",
    ),
    (r"cycle: (?P<chain>.+)", "các đơn vị cấp trên nối thành vòng: {chain}."),
    (r"unreachable from the root (?P<v>.+)", "không nối được lên đơn vị gốc {v}."),
    (
        r"missing field 'head' \(the head's title, for 'KT\. <head>'\)",
        "thiếu chức danh người đứng đầu `head` (dùng cho dòng “KT. …”).",
    ),
    (
        r"missing field '(?P<v>[^']+)' \(the unit has units under it, so it writes letters\)",
        "thiếu trường {v} (đơn vị có đơn vị cấp dưới nên phải ban hành văn bản).",
    ),
    (
        r"not an e-mail address that can be sent to: (?P<v>.+?) \((?P<why>.*)\)",
        "địa chỉ thư {v} không gửi được (sai định dạng).",
    ),
    (
        r"(?P<v>.+) is internationalised, and the mail server is not declared to take it \(CHIDAO_SMTPUTF8\): "
        r"write it (?P<w>.+)",
        "địa chỉ thư {v} có ký tự ngoài ASCII mà máy chủ thư chưa được khai báo là nhận (`CHIDAO_SMTPUTF8`): "
        "hãy viết là {w}.",
    ),
    (
        r"(?P<v>.+) is internationalised, and the mail server is not declared to take it \(CHIDAO_SMTPUTF8\)",
        "địa chỉ thư {v} có ký tự ngoài ASCII mà máy chủ thư chưa được khai báo là nhận (`CHIDAO_SMTPUTF8`).",
    ),
    (
        r"unit (?P<v>\S+) has no e-mail address of its own and none to be reached through",
        "đơn vị {v} không có địa chỉ thư riêng, cũng không có đơn vị cấp trên để nhận thay.",
    ),
    (r"unknown unit (?P<v>.+)", "không có đơn vị {v}."),
    # inputs.sources, inputs.limits
    (
        r"too large for (?P<what>.+?): (?P<size>[\d.]+) MB \(at most (?P<max>[\d.]+) MB\)",
        "{what} quá lớn: {size} MB (tối đa {max} MB).",
    ),
    (r"too many values for (?P<what>.+?) \(at most (?P<max>[\d,]+)\)", "{what} có quá nhiều giá trị (tối đa {max})."),
    (r"file not found", "không tìm thấy tệp."),
    (r"a folder, not a file", "đây là một thư mục, không phải một tệp."),
    (r"not UTF-8 text \((?P<why>.*) at byte (?P<n>\d+)\)", "không phải văn bản mã UTF-8 (ký tự lỗi ở vị trí {n})."),
    (
        r"broken YAML: found character.* that cannot start any token",
        f"{_YAML}: có ký tự không được đứng đầu một giá trị (thụt lề bằng phím TAB, hay `@`, `%`): hãy thụt lề bằng "
        "dấu cách, đặt giá trị trong dấu ngoặc kép.",
    ),
    (
        r"broken YAML: mapping values are not allowed (?:here|in this context)",
        f"{_YAML}: có dấu hai chấm không đúng chỗ (giá trị có dấu hai chấm cần đặt trong dấu ngoặc kép).",
    ),
    (
        r"broken YAML: (?:did not find|could not find) expected ',' or '[]}]'",
        f"{_YAML}: thiếu dấu phẩy hoặc dấu đóng ngoặc.",
    ),
    (r"broken YAML: found unexpected end of stream", f"{_YAML}: dấu nháy hoặc dấu ngoặc chưa được đóng."),
    (
        r"broken YAML: (?:did not find|could not find) expected (?:key|':'|<block end>)",
        f"{_YAML}: các dòng thụt lề không thẳng hàng, hoặc có dòng không viết dạng `tên: giá trị`.",
    ),
    (
        r"broken YAML: .*",
        f"{_YAML}: hãy kiểm tra dấu hai chấm, dấu gạch đầu dòng, dấu ngoặc, dấu nháy và cách thụt lề.",
    ),
    (r"YAML anchors and aliases \(&, \*\) are not accepted", "không được dùng neo và bí danh của YAML (`&`, `*`)."),
    (r"nested deeper than (?P<n>\d+) levels", "các trường lồng nhau quá {n} cấp."),
    (r"keys must be text", "tên trường phải là chữ."),
    (r"duplicate key", "tên trường bị lặp lại: mỗi trường chỉ ghi một lần."),
    (r"not a valid value: day is out of range for month", "ngày không có thật (tháng đó không có ngày này)."),
    (r"not a valid value: month must be in 1\.\.12", "tháng phải từ 1 đến 12."),
    (r"not a valid value: year .* is out of range", "năm không hợp lệ."),
    (r"not a valid value: .*", "giá trị không hợp lệ (ngày, số hoặc chữ viết sai)."),
    (r"YAML tags are not accepted \((?P<v>.+)\)", "không được dùng thẻ YAML ({v})."),
    # pydantic, as inputs.sources.validate words it (missing, extra_forbidden) or as pydantic-core does
    (r"missing field '(?P<v>[^']+)'", "thiếu trường bắt buộc {v}."),
    (r"missing|Field required", "thiếu trường bắt buộc."),
    (r"unknown field '(?P<v>[^']+)'", "không có trường {v} trong mẫu (có thể viết sai tên): hãy sửa hoặc bỏ đi."),
    (r"Extra inputs are not permitted", "trường này không có trong mẫu: hãy sửa hoặc bỏ đi."),
    (r"String should have at least 1 character", "chưa điền (không được để trống)."),
    (r"String should have at least (?P<n>\d+) characters", "cần ít nhất {n} ký tự."),
    (r"String should have at most (?P<n>\d+) characters?", "dài quá {n} ký tự."),
    (r"String should match pattern .*", "không đúng định dạng."),
    (r"String should contain only ASCII characters", "chỉ được dùng chữ không dấu (ASCII)."),
    (
        r"\w+ should have at least (?P<n>\d+) items? after validation, not (?P<got>\d+)",
        "cần ít nhất {n} giá trị (đang có {got}).",
    ),
    (
        r"\w+ should have at most (?P<n>\d+) items? after validation, not (?P<got>\d+)",
        "chỉ được có tối đa {n} giá trị (đang có {got}).",
    ),
    (r"Input should be a valid string(?:, .*)?", "phải là chữ (một đoạn văn bản)."),
    (
        r"Input should be a valid date(?: or datetime)?(?: in the format YYYY-MM-DD)?(?:, .*)?",
        "phải là một ngày, viết năm-tháng-ngày (ví dụ 2024-02-20).",
    ),
    (
        r"Datetimes provided to dates should have zero time - e\.g\. be exact dates",
        "phải là một ngày (năm-tháng-ngày), không kèm giờ.",
    ),
    (r"Input should be a valid datetime(?:, .*)?", "phải là một thời điểm (ngày và giờ)."),
    (r"(?:Date|Input) should be in the past", "phải là một ngày đã qua."),
    (r"(?:Date|Input) should be in the future", "phải là một ngày sắp tới."),
    (
        r"Input should be a valid integer, got a number with a fractional part",
        "phải là một số nguyên (không có phần lẻ).",
    ),
    (r"Input should be a valid integer(?:, .*)?", "phải là một số nguyên."),
    (r"Unable to parse input string as an integer, exceeded maximum size", "số quá lớn."),
    (r"Input should be a valid number(?:, .*)?", "phải là một số."),
    (r"Input should be a finite number", "phải là một số hữu hạn."),
    (r"Input should be greater than or equal to (?P<n>\S+)", "phải lớn hơn hoặc bằng {n}."),
    (r"Input should be greater than (?P<n>\S+)", "phải lớn hơn {n}."),
    (r"Input should be less than or equal to (?P<n>\S+)", "phải nhỏ hơn hoặc bằng {n}."),
    (r"Input should be less than (?P<n>\S+)", "phải nhỏ hơn {n}."),
    (r"Input should be a multiple of (?P<n>\S+)", "phải là bội số của {n}."),
    (r"Input should be a valid boolean(?:, .*)?", "phải là `true` (có) hoặc `false` (không)."),
    (
        r"Input should be (?:a valid (?:list|tuple|set|frozenset)|iterable)",
        "phải là một danh sách (mỗi giá trị một dòng, bắt đầu bằng `- `).",
    ),
    (
        r"Input should be a valid dictionary(?: or (?:instance of \w+|object to extract fields from))?",
        "phải là một nhóm trường dạng `tên: giá trị`.",
    ),
    (r"Keys should be strings", "tên trường phải là chữ."),
    (r"Input should be None", "không được có giá trị ở đây."),
    (r"Input should be (?P<choices>'.*)", "{choices}"),  # literal_error, enum
    (r"Value error, (?P<inner>.*)", "{inner}"),
    (r"Assertion failed, (?P<inner>.*)", "{inner}"),
    (r"Recursion error - .*", "các giá trị lồng nhau quá sâu."),
)
RULES = tuple((re.compile(english, re.DOTALL), vietnamese) for english, vietnamese in _RULES)
_TOKEN = re.compile(r"`([^`]*)`|\{(\w+)\}")
_NUMBER = re.compile(r"[\d.,/:-]+")
_QUOTED = re.compile(r"'((?:[^'\\]|\\.)*)'|\"((?:[^\"\\]|\\.)*)\"")


@dataclass(frozen=True)
class Told:
    """A problem as the page tells it: the Vietnamese (values shown as written) and the library's English."""

    parts: Parts
    raw: str = ""

    @property
    def words(self) -> str:
        """As plain text: values in quotes."""
        return "".join(f"“{text}”" if code else text for text, code in self.parts)


def translated(message: str) -> Parts | None:
    """The English message in Vietnamese (beginning in lower case, to follow a field's name), or None when no
    rule knows it."""
    message = message.strip()
    for pattern, template in RULES:
        found = pattern.fullmatch(message)
        if found:
            return _render(template, found.groupdict())
    return None


def vietnamese(message: str) -> Parts:
    """The message in Vietnamese; "giá trị không hợp lệ." when no rule knows it."""
    return translated(message) or ((GENERIC, False),)


def problem_in_vietnamese(problem: Problem) -> tuple[str, str]:
    """The problem's message as a Vietnamese sentence (values quoted as the English quotes them), and the original
    English."""
    words = Told(vietnamese(problem.message)).words
    return words[:1].upper() + words[1:], problem.message


def plain(text: str) -> Told:
    """Words already Vietnamese (the form's own checks, web.starts'): told as they are."""
    return Told(((text, False),))


def in_file(problem: Problem) -> Told:
    """A problem of a pasted or uploaded file: its name, "dòng N", the place (the file's keys, as written), then
    the Vietnamese; the English beside it."""
    head: list[Part] = [(problem.path, False)]
    if problem.line:
        head.append((f", dòng {problem.line}", False))
    if problem.where:
        head += [(", ", False), *_place(problem.where)]
    return Told(_joined([*head, (": ", False), *vietnamese(problem.message)]), problem.message)


def on_form(label: str, problem: Problem) -> Told:
    """A problem of the composed file, told against the form's field (its Vietnamese name, or none)."""
    told = vietnamese(problem.message)
    return Told(_sentence(_joined([(f"{label}: ", False), *told] if label else list(told))), problem.message)


def all_in_file(problems: Iterable[Problem]) -> list[Told]:
    return [in_file(p) for p in problems]


def start_error(message: str, name: str) -> Told:
    """A web.starts.StartError: its own words are Vietnamese, but for a planner's refusal it passes on
    ("<name>: <English>")."""
    english = message.removeprefix(f"{name}: ")
    told = translated(english) if english != message else None
    if told is None:
        return plain(message)
    return Told(_sentence(_joined([(f"{name}: ", False), *told])), english)


def _place(where: str) -> list[Part]:
    """Where in the file: the keys as written ('sections[1].id'); a unit of a hierarchy by its code."""
    unit = re.fullmatch(r"unit (\S+)(?: field '([^']+)')?", where)
    if unit is None:
        return [(where, True)]
    parts: list[Part] = [("đơn vị ", False), (unit.group(1), True)]
    if unit.group(2):
        parts += [(", trường ", False), (unit.group(2), True)]
    return parts


def _render(template: str, values: dict[str, str | None]) -> Parts | None:
    parts: list[Part] = []
    at = 0
    for token in _TOKEN.finditer(template):
        parts.append((template[at : token.start()], False))
        at = token.end()
        if token.group(1) is not None:
            parts.append((token.group(1), True))
            continue
        value = _value(token.group(2), values.get(token.group(2)) or "")
        if value is None:
            return None
        parts += value
    parts.append((template[at:], False))
    return _joined(parts)


_VALUES: dict[str, Callable[[str], list[Part] | None]] = {
    "what": lambda value: [(WHAT.get(value, "tệp"), False)],
    "inner": lambda value: list(translated(value) or ()) or None,
    "many": lambda value: _listed([v for v in value.split(", ") if v], ", "),
    "chain": lambda value: _listed(value.split(" -> "), " → "),
    "choices": lambda value: _choices(value),
}


def _value(name: str, value: str) -> list[Part] | None:
    """A group's value as it is shown: numbers and dates as Vietnamese writes them, the rest as written."""
    if name in _VALUES:
        return _VALUES[name](value)
    if _NUMBER.fullmatch(value):
        return [(_vn_number(value), False)]
    quoted = _QUOTED.fullmatch(value)
    return [(next(g for g in quoted.groups() if g is not None) if quoted else value, True)]


def _listed(values: list[str], between: str) -> list[Part]:
    parts: list[Part] = []
    for n, value in enumerate(values):
        parts += [(between, False)] * bool(n) + [(value, True)]
    return parts


def _choices(expected: str) -> list[Part] | None:
    """pydantic's "'a', 'b' or 'c'" (a literal's or an enum's values)."""
    values = [single or double for single, double in _QUOTED.findall(expected)]
    if not values:
        return None
    if len(values) == 1:
        return [("phải là ", False), (values[0], True), (".", False)]
    parts = [("phải là một trong các giá trị: ", False)]
    for n, value in enumerate(values):
        parts += [(" hoặc " if n == len(values) - 1 else ", ", False)] * bool(n) + [(value, True)]
    return [*parts, (".", False)]


def _vn_number(text: str) -> str:
    """12,000 → 12.000; 2.0 → 2,0 (dates are left as they are)."""
    if re.fullmatch(r"\d{1,3}(?:,\d{3})+", text):
        return text.replace(",", ".")
    if re.fullmatch(r"\d+\.\d+", text):
        return text.replace(".", ",")
    return text


def _joined(parts: Iterable[Part]) -> Parts:
    """Neighbouring parts of the same kind as one, empty ones dropped."""
    out: list[Part] = []
    for text, code in parts:
        if not text:
            continue
        if out and out[-1][1] == code:
            out[-1] = (out[-1][0] + text, code)
        else:
            out.append((text, code))
    return tuple(out)


def _sentence(parts: Parts) -> Parts:
    """Beginning with a capital letter."""
    if not parts or parts[0][1]:
        return parts
    first = parts[0][0]
    return ((first[:1].upper() + first[1:], False), *parts[1:])
