"""The located-YAML reader every configuration file of the harness is read with.

This module owns how a YAML config file becomes problems or values: composing the text
with PyYAML's node marks (``yaml.compose`` with the SafeLoader, never the constructor, so
every value keeps its position and duplicate keys, which PyYAML would silently collapse,
stay visible), walking the node tree with a ``Reader`` that collects every problem, and
raising one ``ConfigError`` that lists them all, each as
``file:line:column: yaml.path: expected X, saw Y; hint``.

What a file holds is not known here: each loader (``harness.levels``,
``harness.load.profiles``, ``harness.platform.local.topology``) describes its file with a
``ConfigFile``, subclasses ``Reader`` with its sections, and calls ``read_text`` and
``parse_document``. No input, however broken, escapes as anything but the loader's error.

A file that is not valid YAML gets its syntax problems (every tab the YAML reader refuses,
then the first other syntax error) and no schema checks: until it parses, the structure
those checks would read is not known.

Pure: no environment reads, no network; the only I/O is ``read_text`` reading its file.
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import TypeVar

import yaml
from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from harness.errors import ConfigError

YAML_TAG = "tag:yaml.org,2002:"
"""Prefix of the standard tags the SafeLoader resolves plain scalars to."""

PLAIN_KEY = re.compile(r"[\w-]+\Z")
"""A key shown as is in a YAML path; any other key is shown quoted."""

Entry = tuple[ScalarNode, Node]
"""A mapping entry: the key's node (where "missing" problems point) and the value's node."""

Entries = dict[str, Entry]

T = TypeVar("T")


@dataclass(frozen=True)
class ConfigFile:
    """What a kind of config file is, for the problems about the file as a whole."""

    noun: str
    """How the file is named in "expected a readable ... file", e.g. ``service-levels``."""
    top_keys: str
    """The keys its top mapping holds, in words: ``version, flows and recovery``."""
    reference: Path
    """The commented file a user should start from."""
    depth_hint: str
    """Why deep nesting is wrong here: ``the service levels are at most four levels deep``."""
    error: Callable[[str, list[str]], ConfigError]
    """Builds the error raised with the file's source and its formatted problems."""


@dataclass(frozen=True)
class Problem:
    """One problem at a 1-based ``line`` and ``column``; ``path`` is the YAML path."""

    line: int
    column: int
    path: str
    message: str

    def format(self, source: str) -> str:
        """``source:line:column: path: message`` on one line, whatever the file held."""
        # One problem per line: editors and CI logs parse it.
        text = f"{source}:{self.line}:{self.column}: {self.path}: {self.message}"
        return _UNPRINTABLE.sub(lambda m: repr(m.group())[1:-1], text)


class Kind(Enum):
    """What a scalar field holds; each kind names itself and the units it converts."""

    BOOL = "bool"
    PERCENT = "percent"
    SECONDS = "seconds"
    WHOLE_SECONDS = "whole seconds"
    MILLISECONDS = "milliseconds"
    COUNT = "count"
    DAYS = "days"
    RATE = "rate"

    @property
    def expected(self) -> str:
        """The value this kind expects, as the "expected ..." part of a problem."""
        return _EXPECTED[self]

    @property
    def whole(self) -> bool:
        return self in (Kind.WHOLE_SECONDS, Kind.MILLISECONDS, Kind.COUNT, Kind.DAYS)


@dataclass(frozen=True)
class Field:
    """A scalar key: its kind, an example value for hints, and the range it allows."""

    key: str
    kind: Kind
    example: str
    # Zero is allowed only where "none at all" is meaningful (RPO, lost writes).
    allow_zero: bool = False
    minimum: float | None = None
    """A lower bound above zero, where smaller values make no sense (check intervals)."""
    range_hint: str | None = None
    """The hint for a value below the range, when the default one says too little."""


_EXPECTED: dict[Kind, str] = {
    Kind.BOOL: "true or false",
    Kind.PERCENT: "a percentage as a plain number",
    Kind.SECONDS: "a number of seconds",
    Kind.WHOLE_SECONDS: "a whole number of seconds",
    Kind.MILLISECONDS: "a whole number of milliseconds",
    Kind.COUNT: "a whole number",
    Kind.DAYS: "a whole number of days",
    Kind.RATE: "a number of requests per second",
}

# Unit words a user may append to a number, in the unit of each kind: "30s" in a
# seconds field becomes the hint "write 30", "1.5s" in a milliseconds field "write 1500".
_SECONDS_SCALE = {"": 1.0, "ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_UNIT_SCALE: dict[Kind, dict[str, float]] = {
    Kind.PERCENT: {"": 1.0, "%": 1.0},
    Kind.SECONDS: _SECONDS_SCALE,
    Kind.WHOLE_SECONDS: _SECONDS_SCALE,
    Kind.MILLISECONDS: {"": 1.0, "ms": 1.0, "s": 1000.0, "m": 60000.0},
    Kind.COUNT: {"": 1.0},
    Kind.DAYS: {"": 1.0, "d": 1.0},
    Kind.RATE: {"": 1.0, "/s": 1.0, "rps": 1.0},
}
_UNIT_WORDS: dict[Kind, str] = {
    Kind.PERCENT: "no % sign, no quotes",
    Kind.SECONDS: "seconds, no unit, no quotes",
    Kind.WHOLE_SECONDS: "seconds, no unit, no quotes",
    Kind.MILLISECONDS: "milliseconds, no unit, no quotes",
    Kind.DAYS: "days, no unit, no quotes",
    Kind.RATE: "requests per second, no unit, no quotes",
}
_UNIT_ALIASES = {
    "sec": "s",
    "secs": "s",
    "second": "s",
    "seconds": "s",
    "min": "m",
    "mins": "m",
    "minute": "m",
    "minutes": "m",
    "hour": "h",
    "hours": "h",
    "day": "d",
    "days": "d",
    "percent": "%",
    "pct": "%",
}
_NUMBER_WITH_UNIT = re.compile(
    r"\s*([-+]?(?:\d[\d_]*(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?)\s*([a-zA-Z%]*)\s*\Z"
)
_LINE_BREAK = re.compile(r"\r\n|[\r\n\x85\u2028\u2029]")
_UNPRINTABLE = re.compile(r"[\x00-\x1f\x7f\x85\u2028\u2029]")
_INDENTATION = re.compile(r"(?:(?<=\r\n)|(?<=[\r\n\x85\u2028\u2029])|\A)[ \t]*\t[ \t]*")
_TAB_ERROR = "found character '\\t' that cannot start any token"
_MAX_TAB_PROBLEMS = 200


# --- entry points ----------------------------------------------------------------------


def read_text(path: Path, kind: ConfigFile) -> str:
    """The text of ``path``; ``kind.error`` when it cannot be read or is not UTF-8."""
    source = str(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise kind.error(
            source,
            [
                f"{source}:1:1: (file): expected a readable {kind.noun} file, saw {reason}; "
                f"check the path, or start from a copy of {kind.reference}"
            ],
        ) from None
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line, column = line_column(raw[: exc.start].decode("utf-8-sig", errors="replace"))
        raise kind.error(
            source,
            [
                f"{source}:{line}:{column}: (file): expected UTF-8 text, saw the byte "
                f"0x{raw[exc.start]:02x}; save the file as UTF-8"
            ],
        ) from None


def parse_document(
    text: str,
    source: str,
    kind: ConfigFile,
    reader: Reader,
    build: Callable[[MappingNode], T | None],
) -> T:
    """The value ``build`` makes of the top mapping of ``text``, or ``kind.error``.

    ``build`` is usually a method of ``reader`` (a ``Reader`` subclass); it records its
    problems there. The error lists every problem, in file order, named after ``source``.
    """
    root = compose(text, reader, kind)
    value = None
    if root is not None:
        reader.check_duplicates(root)
        if isinstance(root, MappingNode):
            value = build(root)
        else:
            reader.add(
                root,
                "(document)",
                f"expected a mapping with {kind.top_keys} at the top, saw {describe(root)}; "
                f"start from a copy of {kind.reference}",
            )
    if reader.problems or value is None:
        problems = sorted(reader.problems, key=lambda p: (p.line, p.column))
        raise kind.error(source, [p.format(source) for p in problems])
    return value


def compose(text: str, reader: Reader, kind: ConfigFile) -> Node | None:
    """The node tree of ``text``, or None with the problems recorded in ``reader``."""
    tab_lines: set[int] = set()
    while True:
        try:
            root = yaml.compose(text, Loader=yaml.SafeLoader)
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
            if (
                exc.problem == _TAB_ERROR
                and mark is not None
                and len(tab_lines) < _MAX_TAB_PROBLEMS
            ):
                # Once the reader refuses one tab, every tab in indentation is reported
                # together; each becomes a space (columns do not move) and the reader runs
                # again for tabs elsewhere on a line.
                positions = [mark.index, *_indentation_tabs(text)]
                for index in sorted(set(positions)):
                    tab_line, tab_column = line_column(text[:index])
                    if tab_line not in tab_lines:
                        tab_lines.add(tab_line)
                        reader.add_at(
                            tab_line,
                            tab_column,
                            "(document)",
                            "expected spaces, saw a tab character; YAML forbids tabs in "
                            "indentation and around tokens: replace it with spaces",
                        )
                    text = text[:index] + " " + text[index + 1 :]
                continue
            if line not in tab_lines:
                reader.add_at(line, column, "(document)", _syntax_message(exc))
            return None
        except yaml.reader.ReaderError as exc:
            line, column = line_column(text[: exc.position])
            reader.add_at(
                line,
                column,
                "(document)",
                f"expected printable text, saw the character #x{exc.character:04x}; "
                "delete it (control characters are not allowed in YAML)",
            )
            return None
        except yaml.YAMLError as exc:
            reader.add_at(1, 1, "(document)", f"expected valid YAML, saw {exc}; fix the file")
            return None
        except RecursionError:
            reader.add_at(
                1,
                1,
                "(document)",
                f"expected a shallow document, saw nesting too deep to read; {kind.depth_hint}",
            )
            return None
        if tab_lines:
            return None
        if root is None or (isinstance(root, ScalarNode) and root.tag == YAML_TAG + "null"):
            # A lone "---" composes to a null scalar: as empty as a file of comments.
            reader.add_at(
                1,
                1,
                "(document)",
                f"expected a mapping with {kind.top_keys}, saw an empty document; "
                f"start from a copy of {kind.reference}",
            )
            return None
        return root


def _syntax_message(exc: yaml.MarkedYAMLError) -> str:
    problem = exc.problem or "an unreadable construct"
    context = f" {exc.context}" if exc.context else ""
    return (
        f"expected valid YAML, saw a syntax error ({problem}{context}); fix the YAML "
        "syntax at this position"
    ).replace("\n", " ")


def _indentation_tabs(text: str) -> list[int]:
    """Indexes of the tabs in the leading whitespace of every line."""
    return [
        match.start() + offset
        for match in _INDENTATION.finditer(text)
        for offset, char in enumerate(match.group())
        if char == "\t"
    ]


# --- words -----------------------------------------------------------------------------


def line_column(prefix: str) -> tuple[int, int]:
    """1-based position just after ``prefix``, counting line breaks as YAML does."""
    breaks = list(_LINE_BREAK.finditer(prefix))
    if not breaks:
        return 1, len(prefix) + 1
    return len(breaks) + 1, len(prefix) - breaks[-1].end() + 1


def describe(node: Node) -> str:
    """What a node is, for the "saw ..." part of a problem: ``the string '30s'``."""
    if isinstance(node, MappingNode):
        return "a mapping"
    if isinstance(node, SequenceNode):
        return "a list"
    value = str(node.value)
    shown = value if len(value) <= 40 else value[:37] + "..."
    tag = str(node.tag)
    if tag == YAML_TAG + "null":
        return "an empty value"
    if tag == YAML_TAG + "str":
        return f"the string {shown!r}"
    if tag == YAML_TAG + "bool":
        return f"the boolean {shown}"
    if tag in (YAML_TAG + "int", YAML_TAG + "float"):
        return f"the number {shown}"
    if tag == YAML_TAG + "timestamp":
        return f"the date {shown}"
    return f"a value tagged {tag}"


def format_number(value: float) -> str:
    """``30`` for 30.0, ``1.5`` for 1.5: numbers as a user would write them."""
    if not math.isfinite(value):
        return str(value)
    if value == int(value):
        return str(int(value))
    return f"{value:.6g}"


def suggest(word: str, known: tuple[str, ...], fallback: str | None = None) -> str:
    """The hint for an unknown name: the closest known one, else ``fallback`` or all."""
    close = difflib.get_close_matches(word, known, n=1, cutoff=0.6)
    if close:
        return f"did you mean {close[0]!r}?"
    return fallback or "known keys: " + ", ".join(known)


def join_path(path: str, key: str) -> str:
    """``path.key``, quoting a key that is not a plain word; ``key`` alone at the top."""
    shown = key if PLAIN_KEY.match(key) else repr(key)
    return shown if not path else f"{path}.{shown}"


# --- the reader ------------------------------------------------------------------------


class Reader:
    """Walks a node tree, collecting problems, building values where they are sound.

    Loaders subclass it with one method per section of their file. Every helper that
    returns None has recorded why in ``problems``.
    """

    def __init__(self) -> None:
        self.problems: list[Problem] = []
        self._constructor = SafeConstructor()

    def add_at(self, line: int, column: int, path: str, message: str) -> None:
        self.problems.append(Problem(line, column, path or "(document)", message))

    def add(self, node: Node, path: str, message: str) -> None:
        """Record ``message`` at the start of ``node``."""
        mark = node.start_mark
        self.add_at(mark.line + 1, mark.column + 1, path, message)

    # --- structure ---

    def check_duplicates(self, root: Node) -> None:
        """Report every key repeated within one mapping, anywhere below ``root``."""
        seen: set[int] = set()
        stack: list[tuple[Node, str]] = [(root, "")]
        while stack:
            node, path = stack.pop()
            if id(node) in seen:
                continue
            seen.add(id(node))
            if isinstance(node, SequenceNode):
                stack.extend((item, f"{path}[{i}]") for i, item in enumerate(node.value))
            elif isinstance(node, MappingNode):
                first: dict[str, Node] = {}
                for key, value in node.value:
                    if isinstance(key, ScalarNode):
                        name = str(key.value)
                        if name in first:
                            line = first[name].start_mark.line + 1
                            self.add(
                                key,
                                join_path(path, name),
                                f"expected each key once in a mapping, saw {name!r} again "
                                f"(first on line {line}); delete one: YAML readers keep "
                                "only the last silently",
                            )
                        else:
                            first[name] = key
                        stack.append((value, join_path(path, name)))
                    else:
                        stack.append((value, path))

    def entries(self, node: MappingNode, path: str) -> Entries:
        """The mapping's scalar keys (first occurrence wins: duplicates are reported)."""
        result: Entries = {}
        for key, value in node.value:
            if not isinstance(key, ScalarNode):
                self.add(
                    key,
                    path,
                    f"expected a plain key, saw {describe(key)} as a key; use a name",
                )
                continue
            if str(key.tag) == YAML_TAG + "merge":
                self.add(
                    key,
                    join_path(path, "<<"),
                    "expected plain keys, saw a merge key (<<); write the keys out: "
                    "merges hide which value applies",
                )
                continue
            result.setdefault(str(key.value), (key, value))
        return result

    def check_keys(
        self,
        entries: Entries,
        path: str,
        owner: Node,
        required: tuple[str, ...],
        optional: tuple[str, ...] = (),
    ) -> None:
        """Report unknown keys at themselves and missing required ones at ``owner``."""
        known = required + optional
        for name, (key, _) in entries.items():
            if name not in known:
                self.add(
                    key,
                    join_path(path, name),
                    f"expected one of {', '.join(known)}, saw unknown key {name!r}; "
                    + suggest(name, known),
                )
        for name in required:
            if name not in entries:
                self.add(
                    owner,
                    join_path(path, name),
                    f"expected required key {name!r}, saw none; add it here",
                )

    def unknown_name(
        self, key: Node, path: str, what: str, name: str, known: tuple[str, ...]
    ) -> None:
        """Report ``name`` where one of ``known`` (each ``what``, e.g. a business flow) goes."""
        self.add(
            key,
            path,
            f"expected {what} ({', '.join(known)}), saw {name!r}; " + suggest(name, known),
        )

    def mapping(self, item: Entry | None, path: str) -> MappingNode | None:
        """The entry's value if it is a mapping; None (reported) if it is not."""
        if item is None:
            return None
        _, node = item
        if not isinstance(node, MappingNode):
            self.add(node, path, f"expected a mapping, saw {describe(node)}; indent keys under it")
            return None
        return node

    # --- scalars ---

    def version(self, item: Entry | None, supported: int) -> int | None:
        """``supported`` if the entry says so; None (reported unless absent) otherwise."""
        if item is None:
            return None
        _, node = item
        value = self._numeric(node)
        if value is None or not math.isfinite(value):
            self.number(node, "version", Field("version", Kind.COUNT, str(supported)))
            return None
        if value != supported:
            self.add(
                node,
                "version",
                f"expected version {supported}, saw {format_number(value)}; this "
                f"harness reads version {supported} files: convert the file or "
                "upgrade the harness",
            )
            return None
        return supported

    def text(self, item: Entry | None, path: str) -> str | None:
        """One line of text, stripped."""
        if item is None:
            return None
        _, node = item
        if not isinstance(node, ScalarNode) or str(node.tag) == YAML_TAG + "null":
            self.add(
                node,
                path,
                f"expected one line of text, saw {describe(node)}; write a short sentence",
            )
            return None
        value = str(node.value).strip()
        if not value or "\n" in value:
            saw = "an empty string" if not value else "several lines"
            self.add(node, path, f"expected one line of text, saw {saw}; write one sentence")
            return None
        return value

    def optional_numbers(
        self, entries: Entries, path: str, fields: tuple[Field, ...]
    ) -> dict[str, float] | None:
        """Like ``numbers_and_bools`` for fields that are all numbers."""
        values = self.numbers_and_bools(entries, path, fields)
        if values is None:
            return None
        return {key: float(value) for key, value in values.items()}

    def numbers_and_bools(
        self, entries: Entries, path: str, fields: tuple[Field, ...]
    ) -> dict[str, float | bool] | None:
        """Values of the fields present in ``entries``; None if any of them is bad."""
        result: dict[str, float | bool] = {}
        sound = True
        for spec in fields:
            if spec.key not in entries:
                continue
            node = entries[spec.key][1]
            field_path = join_path(path, spec.key)
            value: float | bool | None
            if spec.kind is Kind.BOOL:
                value = self.boolean(node, field_path)
            else:
                value = self.number(node, field_path, spec)
            if value is None:
                sound = False
            else:
                result[spec.key] = value
        return result if sound else None

    def boolean(self, node: Node, path: str) -> bool | None:
        if isinstance(node, ScalarNode) and str(node.tag) == YAML_TAG + "bool":
            word = str(node.value).lower()
            if word in ("true", "yes", "on"):
                return True
            if word in ("false", "no", "off"):
                return False
        hint = "write true or false"
        if isinstance(node, ScalarNode) and str(node.value).lower() in ("true", "false"):
            hint = f"write {str(node.value).lower()} without quotes"
        self.add(node, path, f"expected true or false, saw {describe(node)}; {hint}")
        return None

    def number(self, node: Node, path: str, spec: Field) -> float | None:
        """The node's number if it fits ``spec``; None (reported) otherwise."""
        expected = spec.kind.expected
        value = self._numeric(node)
        if value is None:
            self.add(
                node, path, f"expected {expected}, saw {describe(node)}; {_unit_hint(node, spec)}"
            )
            return None
        if not math.isfinite(value):
            self.add(
                node, path, f"expected {expected}, saw {describe(node)}; write a finite number"
            )
            return None
        if spec.kind.whole and value != int(value):
            self.add(
                node,
                path,
                f"expected {expected}, saw {format_number(value)}; write {round(value)}",
            )
            return None
        if spec.kind is Kind.PERCENT and not 0 < value <= 100:
            self.add(
                node,
                path,
                f"expected a percentage above 0 and at most 100, saw {format_number(value)}; "
                "percentages are written as 99.5, not 0.995",
            )
            return None
        if value < 0 or (value == 0 and not spec.allow_zero):
            bound = "0 or more" if spec.allow_zero else "a number greater than 0"
            self.add(
                node,
                path,
                f"expected {bound}, saw {format_number(value)}; {_range_hint(spec)}",
            )
            return None
        if spec.minimum is not None and value < spec.minimum:
            self.add(
                node,
                path,
                f"expected at least {format_number(spec.minimum)}, saw {format_number(value)}; "
                + (spec.range_hint or f"write {format_number(spec.minimum)} or more"),
            )
            return None
        return value

    def _numeric(self, node: Node) -> float | None:
        if not isinstance(node, ScalarNode):
            return None
        tag = str(node.tag)
        try:
            if tag == YAML_TAG + "int":
                return float(self._constructor.construct_yaml_int(node))
            if tag == YAML_TAG + "float":
                return float(self._constructor.construct_yaml_float(node))
        except (ValueError, ArithmeticError, LookupError):
            # An explicit "!!int abc" reaches the constructor unresolved; it is a wrong
            # value like any other, reported by the caller.
            return None
        return None


def _unit_hint(node: Node, spec: Field) -> str:
    """``write 30 (seconds, ...)`` for "30s"; else how to write a plain number."""
    plain = f"write it as a plain number, e.g. {spec.key}: {spec.example}"
    if not isinstance(node, ScalarNode):
        return plain
    match = _NUMBER_WITH_UNIT.match(str(node.value))
    if match is None:
        return plain
    unit = match.group(2).lower()
    unit = _UNIT_ALIASES.get(unit, unit)
    scale = _UNIT_SCALE.get(spec.kind, {}).get(unit)
    if scale is None:
        return plain
    try:
        number = float(match.group(1).replace("_", "")) * scale
    except ValueError:
        return plain
    if not math.isfinite(number):
        return plain
    return f"write {format_number(number)} ({_UNIT_WORDS.get(spec.kind, 'no quotes')})"


def _range_hint(spec: Field) -> str:
    if spec.range_hint is not None:
        return spec.range_hint
    if spec.allow_zero:
        return "write 0 to allow none"
    return f"give a positive value, e.g. {spec.example}"
