"""Reading YAML input files with line numbers, so every error can name its line."""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator, Sequence
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
    """Parse YAML text (see read_source): within the kind's limits, without anchors or aliases.

    Built from the parser's events in one pass (libyaml's, where installed): no node tree is made, so a
    hierarchy of a hundred thousand units costs what its events cost, and an alias is refused where it
    stands, before anything is expanded."""
    refused = too_big(limits, len(text.encode("utf-8")) if len(text) * 4 > limits.max_bytes else len(text))
    if refused:
        raise InputError([Problem(name, None, "", refused)])
    builder = _Builder(Source(name, None), limits)
    try:
        builder.build(_events(text))
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        raise InputError([Problem(name, line, "", f"broken YAML: {exc.problem or exc.context}")]) from None
    except yaml.YAMLError as exc:
        raise InputError([Problem(name, None, "", f"broken YAML: {exc}")]) from None
    if builder.problems:
        raise InputError(builder.problems)
    return builder.src


def _events(text: str) -> Iterator[Any]:
    """The parser's events, asked of it directly (yaml.parse asks twice per event)."""
    parser = _LOADER(text)
    try:
        get = parser.get_event
        end = yaml.StreamEndEvent
        while True:
            event = get()
            if event is None or type(event) is end:
                return
            yield event
    finally:
        parser.dispose()


class _Refused(Exception):
    """The document is beyond its kind's limits: stop reading it."""


class _Builder:
    """Plain data from YAML events, the line of every key and item kept (to the kind's line_depth: deeper
    problems are told at the line of their nearest recorded ancestor)."""

    def __init__(self, src: Source, limits: Limits) -> None:
        self.src, self.limits = src, limits
        self.problems: list[Problem] = []
        self.loader = yaml.SafeLoader("")
        self.resolvers = yaml.SafeLoader.yaml_implicit_resolvers
        self.values = 0

    def build(self, events: Any) -> None:
        with contextlib.suppress(_Refused):  # the problem that stopped it is recorded
            self._build(iter(events))

    def _refuse(self, line: int, message: str) -> None:
        self.problems.append(Problem(self.src.path, line, "", message))
        raise _Refused

    def _build(self, events: Any) -> None:
        # Each open container: [the container, its loc (None below the depth lines are kept to), the key].
        stack: list[list[Any]] = []
        lines, limits, keep = self.src.lines, self.limits, self.limits.line_depth
        scalar_event, mapping_start, sequence_start = yaml.ScalarEvent, yaml.MappingStartEvent, yaml.SequenceStartEvent
        scalar = self._scalar
        values, max_values = 0, limits.max_nodes
        for event in events:
            kind = type(event)
            if kind is scalar_event or kind is mapping_start or kind is sequence_start:
                line = event.start_mark.line + 1
                values += 1
                if values > max_values:
                    self._refuse(line, f"too many values for {limits.what} (at most {max_values:,})")
                if event.anchor is not None:
                    self._refuse(line, "YAML anchors and aliases (&, *) are not accepted")
                if kind is scalar_event:
                    value: Any = scalar(event, line)
                else:
                    if len(stack) >= limits.max_depth:
                        self._refuse(line, f"nested deeper than {limits.max_depth} levels")
                    value = {} if kind is mapping_start else []
                loc: Loc | None
                if not stack:
                    loc = ()
                    self.src.data = value
                    lines[()] = line
                else:
                    parent = stack[-1]
                    container, where = parent[0], parent[1]
                    if type(container) is list:
                        container.append(value)
                        loc = (*where, len(container) - 1) if where is not None and len(where) < keep else None
                    elif parent[2] is _NO_KEY:  # this value is a key
                        if kind is not scalar_event or not isinstance(value, str | int):
                            self.problems.append(
                                Problem(self.src.path, line, _dotted(where or ()), "keys must be text")
                            )
                            parent[2] = _BAD_KEY
                        else:
                            key = str(value)
                            if key in container:
                                self.problems.append(
                                    Problem(self.src.path, line, _dotted((*(where or ()), key)), "duplicate key")
                                )
                                parent[2] = _BAD_KEY
                            else:
                                parent[2] = key
                                if where is not None and len(where) < keep:
                                    lines[(*where, key)] = line
                        if kind is scalar_event:
                            continue
                        loc = None  # a container as a key: refused above, its content ignored
                    else:
                        key = parent[2]
                        parent[2] = _NO_KEY
                        if key is _BAD_KEY:
                            loc = None
                        else:
                            container[key] = value
                            loc = (*where, key) if where is not None and len(where) < keep else None
                    if loc is not None and loc not in lines:
                        lines[loc] = line
                if kind is not scalar_event:
                    stack.append([value, loc, _NO_KEY])
            elif kind is yaml.MappingEndEvent or kind is yaml.SequenceEndEvent:
                stack.pop()
            elif kind is yaml.AliasEvent:
                self._refuse(event.start_mark.line + 1, "YAML anchors and aliases (&, *) are not accepted")
        self.values = values

    def _scalar(self, event: Any, line: int) -> Any:
        text = event.value
        if event.implicit[0] and text and text[0] in self.resolvers and not (len(text) > 5 and text[0].isalpha()):
            # a plain scalar that may be a number, a date, a boolean or null (words of five letters at most)
            tag = self.loader.resolve(yaml.ScalarNode, text, event.implicit)  # type: ignore[no-untyped-call]
            if tag != "tag:yaml.org,2002:str":
                try:
                    return self.loader.construct_object(yaml.ScalarNode(tag, text, event.start_mark, event.end_mark))
                except (ValueError, OverflowError, yaml.YAMLError) as exc:  # 2023-02-30, a number out of range
                    self.problems.append(Problem(self.src.path, line, "", f"not a valid value: {exc}"))
                    return None
        elif event.tag is not None and event.tag not in ("!", "tag:yaml.org,2002:str"):
            self.problems.append(Problem(self.src.path, line, "", f"YAML tags are not accepted ({event.tag})"))
            return None
        normal = nfc(text)
        if normal is not text and normal != text:
            self.src.normalised += 1
        return normal


_NO_KEY, _BAD_KEY = object(), object()


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
