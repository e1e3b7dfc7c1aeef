"""Any text given to a loader (directive, hierarchy, report) gives either a value or an input error naming
a line, in bounded time, never another exception: Hypothesis over random text, random YAML documents and
mutations of the real example files. CHIDAO_FUZZ_EXAMPLES sets the examples per loader (default 1,500; the
acceptance run, CHIDAO_FUZZ_EXAMPLES=10000, is in the README)."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hierarchy.load import load_hierarchy, parse_hierarchy
from inputs.sources import InputError
from letters.directive import parse_directive
from reports.content import parse_report
from tests.conftest import DATA, LANGSON

EXAMPLES = int(os.environ.get("CHIDAO_FUZZ_EXAMPLES", "1500"))  # the acceptance run: 10,000
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=5000,  # ms per example: bounded time
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    derandomize=True,  # the same examples on every run: CI reproducible
    database=None,
)
# Hypothesis warns when the global random state moves while it draws; in the full suite, threads left by
# earlier tests (Prefect's services, the SMTP sink) move it, so the warning says nothing about these strategies.
pytestmark = pytest.mark.filterwarnings("ignore:Do not use the `random` module inside strategies")
HIERARCHY = load_hierarchy(DATA / "mini.yaml")
SEEDS = {
    "directive": (LANGSON / "directive-hsg-2023.yaml").read_text(encoding="utf-8").replace("20.STTTT", "90.S"),
    "hierarchy": (DATA / "mini.yaml").read_text(encoding="utf-8"),
    "report": "done: Đã tuyên truyền.\nfigures: {tin bài: 3}\ndifficulties: [Thiếu loa]\nproposals: []\n",
    "report.md": "## Kết quả thực hiện\nĐã làm.\n## Số liệu\n- tin bài: 1.234,5\n## Khó khăn, vướng mắc\nKhông.\n",
}
LOADERS: dict[str, Callable[[str], Any]] = {
    "directive": lambda text: parse_directive(text, HIERARCHY, "d.yaml"),
    "hierarchy": lambda text: parse_hierarchy(text, "h.yaml"),
    "report": lambda text: parse_report(text, "r.yaml"),
    "report.md": lambda text: parse_report(text, "r.md"),
}

# Text that looks like YAML: keys and values of the files' own words, the characters YAML gives meaning to.
WORDS = st.sampled_from(
    [
        "issuer",
        "sections",
        "- ",
        ": ",
        "units",
        "code",
        "parent",
        "email",
        "&a ",
        "*a",
        "!!python/object",
        "[",
        "]",
        "{",
        "}",
        "'",
        '"',
        "\n",
        "  ",
        "#",
        "2023-02-30",
        "1e999",
        "~",
        "?",
        "|",
        ">",
        "\t",
        "Lạng Sơn",
        "\x00",
        "\ufeff",
        "ạ",
        "--- ",
        "...",
        "%YAML 1.1\n",
        "0x1F",
        "yes",
        ".nan",
        "<<: *a",
    ]
)
YAMLISH = st.lists(st.one_of(WORDS, st.text(max_size=8)), max_size=60).map("".join)
SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True), st.text(max_size=20), st.dates()
)
DOCUMENTS = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=10), inner, max_size=5),
    max_leaves=30,
).map(lambda data: yaml.safe_dump(data, allow_unicode=True))


@st.composite
def mutated(draw: Any, seed: str) -> str:
    """The real file with a few cuts, insertions and swaps."""
    text = seed
    for _ in range(draw(st.integers(1, 6))):
        at = draw(st.integers(0, len(text)))
        how = draw(st.sampled_from(["cut", "insert", "swap"]))
        if how == "cut":
            text = text[:at] + text[at + draw(st.integers(1, 40)) :]
        elif how == "insert":
            text = text[:at] + draw(st.one_of(WORDS, st.text(max_size=12))) + text[at:]
        else:
            other = draw(st.integers(0, len(text)))
            text = text[:at] + text[other : other + 30] + text[at + 30 :]
    return text


def _only_input_errors(load: Callable[[str], Any], text: str) -> None:
    try:
        load(text)
    except InputError as exc:
        assert exc.problems, "an input error names at least one problem"
        lines = len(text.splitlines()) + 2  # YAML and Markdown break lines where str.splitlines does (NEL, …)
        for problem in exc.problems:
            assert problem.line is None or 1 <= problem.line <= lines, problem
            assert problem.line is not None or (problem.where == "" and problem.message), problem


@pytest.mark.parametrize("kind", list(LOADERS))
def test_any_text_is_a_value_or_an_input_error(kind: str) -> None:
    @FUZZ
    @given(text=st.one_of(YAMLISH, DOCUMENTS, mutated(SEEDS[kind]), st.text(max_size=200)))
    def check(text: str) -> None:
        _only_input_errors(LOADERS[kind], text)

    check()
