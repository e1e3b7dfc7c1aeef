"""Reading YAML input files with line numbers, so every error can name its line."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from inputs.limits import Limits, too_big
from inputs.vietnamese import nfc

# libyaml's parser where the machine has it (twenty times faster on a national hierarchy), same nodes and marks.
_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

Loc = tuple[str | int, ...]


@dataclass(frozen=True)
class Problem:
    """One thing wrong with an input file."""

    path: str
    line: int | None
    where: str
    message: str

    def __str__(self) -> str:
        place = f"{self.path}:{self.line}" if self.line else self.path
        return f"{place}: {self.where}: {self.message}" if self.where else f"{place}: {self.message}"


class InputError(Exception):
    """An input file is unusable; carries every problem found, each naming file and line."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


@dataclass
class Source:
    """A parsed YAML document: the data (NFC-normalised) and the line of every node."""

    path: str
    data: Any
    lines: dict[Loc, int] = field(default_factory=dict)
    normalised: int = 0  # how many strings were not in NFC

    def line(self, loc: Iterable[str | int]) -> int | None:
        """Line of the deepest node of loc that exists in the file."""
        key = tuple(loc)
        while key:
            if key in self.lines:
                return self.lines[key]
            key = key[:-1]
        return self.lines.get((), None)

    def problem(self, loc: Iterable[str | int], message: str, where: str | None = None) -> Problem:
        loc = tuple(loc)
        return Problem(self.path, self.line(loc), where if where is not None else _dotted(loc), message)


def _dotted(loc: Loc) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def read_text(path: str | Path, limits: Limits) -> str:
    """A user's file as text: refused (InputError) if missing, larger than its kind allows (before reading
    it), or not UTF-8."""
    name = str(path)
    try:
        refused = too_big(limits, Path(path).stat().st_size)
        if refused:
            raise InputError([Problem(name, None, "", refused)])
        return Path(path).read_bytes().decode("utf-8")
    except (FileNotFoundError, NotADirectoryError):
        raise InputError([Problem(name, None, "", "file not found")]) from None
    except IsADirectoryError:
        raise InputError([Problem(name, None, "", "a folder, not a file")]) from None
    except UnicodeDecodeError as exc:
        raise InputError([Problem(name, None, "", f"not UTF-8 text ({exc.reason} at byte {exc.start})")]) from None


def read_source(path: str | Path, limits: Limits) -> Source:
    """Parse a YAML file into plain data, recording lines; raise InputError if it is not YAML."""
    return parse_source(read_text(path, limits), str(path), limits)


def parse_source(text: str, name: str, limits: Limits) -> Source:
    """Parse YAML text (see read_source): within the kind's limits, without anchors or aliases."""
    refused = too_big(limits, len(text.encode("utf-8")) if len(text) * 4 > limits.max_bytes else len(text))
    if refused:
        raise InputError([Problem(name, None, "", refused)])
    try:
        node = yaml.compose(text, Loader=_LOADER)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        raise InputError([Problem(name, line, "", f"broken YAML: {exc.problem or exc.context}")]) from None
    except yaml.YAMLError as exc:
        raise InputError([Problem(name, None, "", f"broken YAML: {exc}")]) from None
    except RecursionError:
        raise InputError([Problem(name, None, "", f"nested deeper than {limits.what} may be")]) from None
    if node is not None:
        _check_shape(node, name, limits)
    builder = _Builder(Source(name, None))
    if node is not None:
        builder.src.data = builder.convert(node, ())
    if builder.problems:
        raise InputError(builder.problems)
    return builder.src


def _check_shape(root: yaml.Node, name: str, limits: Limits) -> None:
    """Before anything is built: no node reached twice (an alias), at most max_nodes, at most max_depth deep.
    Each node is visited once, so a document of nested aliases costs what its text costs."""
    seen: set[int] = set()
    stack: list[tuple[yaml.Node, int]] = [(root, 0)]
    while stack:
        node, depth = stack.pop()
        line = node.start_mark.line + 1
        if id(node) in seen:
            raise InputError([Problem(name, line, "", "YAML anchors and aliases (&, *) are not accepted")])
        seen.add(id(node))
        if len(seen) > limits.max_nodes:
            raise InputError(
                [Problem(name, line, "", f"too many values for {limits.what} (at most {limits.max_nodes:,})")]
            )
        if isinstance(node, yaml.MappingNode | yaml.SequenceNode):
            if depth >= limits.max_depth:
                raise InputError([Problem(name, line, "", f"nested deeper than {limits.max_depth} levels")])
            children = [n for pair in node.value for n in pair] if isinstance(node, yaml.MappingNode) else node.value
            stack.extend((child, depth + 1) for child in children)


class _Builder:
    """Turns a composed YAML node tree into plain data, recording each node's line."""

    def __init__(self, src: Source) -> None:
        self.src = src
        self.problems: list[Problem] = []
        self.loader = yaml.SafeLoader("")

    def convert(self, node: yaml.Node, loc: Loc) -> Any:
        src, problems = self.src, self.problems
        src.lines[loc] = node.start_mark.line + 1
        if isinstance(node, yaml.MappingNode):
            out: dict[str, Any] = {}
            for key_node, value_node in node.value:
                key = self.scalar(key_node)
                if not isinstance(key, (str, int)):
                    problems.append(Problem(src.path, key_node.start_mark.line + 1, _dotted(loc), "keys must be text"))
                    continue
                key = str(key)
                if key in out:
                    problems.append(
                        Problem(src.path, key_node.start_mark.line + 1, _dotted((*loc, key)), "duplicate key")
                    )
                    continue
                out[key] = self.convert(value_node, (*loc, key))
                src.lines[(*loc, key)] = key_node.start_mark.line + 1
            return out
        if isinstance(node, yaml.SequenceNode):
            return [self.convert(item, (*loc, i)) for i, item in enumerate(node.value)]
        return self.scalar(node)

    def scalar(self, node: yaml.Node) -> Any:
        try:
            value = self.loader.construct_object(node, deep=True)
        except (ValueError, OverflowError, yaml.YAMLError) as exc:  # 2023-02-30, a number out of range
            self.problems.append(Problem(self.src.path, node.start_mark.line + 1, "", f"not a valid value: {exc}"))
            return None
        if isinstance(value, str):
            normal = nfc(value)
            if normal != value:
                self.src.normalised += 1
            return normal
        return value


M = TypeVar("M", bound=BaseModel)


def validate(model: type[M], src: Source, data: Any | None = None) -> M:
    """Validate data against a pydantic model, turning its errors into Problems with lines."""
    try:
        return model.model_validate(src.data if data is None else data)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            loc = tuple(err["loc"])
            message = err["msg"]
            if err["type"] == "missing":
                message = f"missing field '{loc[-1]}'" if loc else "missing"
            elif err["type"] == "extra_forbidden":
                message = f"unknown field '{loc[-1]}'"
            problems.append(src.problem(loc, message))
        raise InputError(problems) from None
