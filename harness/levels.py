"""The service-levels file: its typed model, its loader and its problem report.

This module owns what a run is judged against: per business flow the availability and
latency targets, per fault family the recovery targets (RTO, RPO, degraded latency), the
global measurement settings and abort conditions, and the control map an auditor reads.

The loader reads YAML through ``yaml.compose`` (SafeLoader) and never through the
constructor, so every value keeps its file position and duplicate keys, which PyYAML
would silently collapse, are still visible. Every problem in a file is collected and
reported together as ``file:line:column: yaml.path: expected X, saw Y; hint``; no input,
however broken, escapes as anything but ``ServiceLevelsError``.

Documented decisions:

- ``availability_pct`` must lie strictly between 0 and 100. A target of 100 leaves no
  error budget: one failed probe in a steady-state window would fail it, and the
  error-budget burn abort would divide by zero. Use 99.99 for "never down".
- A critical flow gates the steady state, so it must carry all three targets
  (``availability_pct``, ``p95_ms``, ``p99_ms``); a non-critical flow carries all three
  or none (it is then probed and reported, never judged).
- Every fault family needs recovery targets: the harness ships a scenario for each.
- A file that is not valid YAML gets its syntax problems (every tab the YAML reader
  refuses, then the first other syntax error) and no schema checks: until it parses,
  the structure those checks would read is not known.

Pure: no environment reads, no network; the only I/O is reading the file given to
``load_service_levels``.
"""

from __future__ import annotations

import difflib
import math
import re
from dataclasses import dataclass, field
from enum import Enum, StrEnum
from pathlib import Path

import yaml
from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from harness.errors import ServiceLevelsError

DEFAULT_SERVICE_LEVELS: Path = (
    Path(__file__).resolve().parents[1] / "fixtures" / "service-levels.yaml"
)
SUPPORTED_VERSION = 1


class FaultFamily(StrEnum):
    """The fault families the harness has scenarios for (one ``scenarios/`` module each)."""

    NODE_LOSS = "node-loss"
    ZONE_OUTAGE = "zone-outage"
    STORAGE_LATENCY = "storage-latency"
    DB_FAILOVER = "db-failover"
    BAD_RELEASE = "bad-release"
    NETWORK = "network"
    CACHE_LOSS = "cache-loss"
    OBJECT_STORAGE = "object-storage"
    BATCH_SURGE = "batch-surge"
    DISASTER_RESTORE = "disaster-restore"


class BusinessFlow(StrEnum):
    """The warehouse business flows the probes and the load know how to drive."""

    WAREHOUSE_SCAN = "warehouse_scan"
    PICKING_VALIDATE = "picking_validate"
    RECEIVING = "receiving"
    ORDER_IMPORT = "order_import"
    REPORTING = "reporting"


@dataclass(frozen=True)
class FlowTargets:
    """What the steady state of one flow means: success ratio and latency percentiles."""

    availability_pct: float
    p95_ms: int
    p99_ms: int

    @property
    def error_budget_ratio(self) -> float:
        """Fraction of probes allowed to fail (0.005 for 99.5 %); always > 0."""
        return 1.0 - self.availability_pct / 100.0


@dataclass(frozen=True)
class FlowLevels:
    """One business flow: whether it gates the steady state, its targets, its probe."""

    flow: BusinessFlow
    critical: bool
    targets: FlowTargets | None
    durable_writes: bool
    probe_timeout_ms: int


@dataclass(frozen=True)
class RecoveryTargets:
    """What recovery from one fault family must achieve."""

    family: FaultFamily
    rto_s: float
    rpo_s: float
    rpo_writes_lost: int
    degraded_p95_ms: int


@dataclass(frozen=True)
class AbortConditions:
    """When a run stops early: the fault is reverted and the run fails."""

    critical_flow_down_beyond_rto_s: float = 60.0
    error_budget_window_days: int = 30
    max_error_budget_burn_pct: float = 5.0


@dataclass(frozen=True)
class GlobalSettings:
    """Measurement settings shared by every scenario (DESIGN.md "Measurement")."""

    steady_state_window_s: float = 10.0
    stability_period_s: float = 30.0
    probe_interval_ms: int = 200
    abort: AbortConditions = field(default_factory=AbortConditions)


@dataclass(frozen=True)
class Control:
    """A governance control and the scenario families whose runs evidence it."""

    control_id: str
    families: tuple[FaultFamily, ...]
    description: str
    evidence_period_days: int


@dataclass(frozen=True)
class ServiceLevels:
    """The whole service-levels file, validated."""

    version: int
    settings: GlobalSettings
    flows: tuple[FlowLevels, ...]
    recovery: tuple[RecoveryTargets, ...]
    controls: tuple[Control, ...]

    def flow(self, flow: BusinessFlow) -> FlowLevels:
        """The levels of ``flow``; LookupError when the file does not declare it."""
        for levels in self.flows:
            if levels.flow is flow:
                return levels
        raise LookupError(f"the service levels declare no flow {flow.value!r}")

    def critical_flows(self) -> tuple[FlowLevels, ...]:
        return tuple(levels for levels in self.flows if levels.critical)

    def recovery_for(self, family: FaultFamily) -> RecoveryTargets:
        # The loader refuses a file missing a family, so this lookup cannot fail.
        return next(targets for targets in self.recovery if targets.family is family)

    def controls_for(self, family: FaultFamily) -> tuple[Control, ...]:
        return tuple(control for control in self.controls if family in control.families)


def load_service_levels(path: Path) -> ServiceLevels:
    """Read and validate ``path``; ServiceLevelsError lists every problem found."""
    source = str(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise ServiceLevelsError(
            source,
            [
                f"{source}:1:1: (file): expected a readable service-levels file, saw {reason}; "
                f"check the path, or start from a copy of {DEFAULT_SERVICE_LEVELS}"
            ],
        ) from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line, column = _line_column(raw[: exc.start].decode("utf-8-sig", errors="replace"))
        raise ServiceLevelsError(
            source,
            [
                f"{source}:{line}:{column}: (file): expected UTF-8 text, saw the byte "
                f"0x{raw[exc.start]:02x}; save the file as UTF-8"
            ],
        ) from None
    return parse_service_levels(text, source)


def parse_service_levels(text: str, source: str) -> ServiceLevels:
    """Validate service levels given as YAML text; ``source`` names it in problems."""
    reader = _Reader()
    root = _compose(text, reader)
    levels = None if root is None else reader.document(root)
    if reader.problems or levels is None:
        problems = sorted(reader.problems, key=lambda p: (p.line, p.column))
        raise ServiceLevelsError(source, [p.format(source) for p in problems])
    return levels


def format_report(err: ServiceLevelsError) -> str:
    """The report ``odoo-resilience levels check`` prints: one problem per line."""
    count = len(err.problems)
    noun = "problem" if count == 1 else "problems"
    lines = [f"{err.path}: {count} {noun} in the service levels:", *err.problems]
    lines.append(
        f"Fix them and check again; {DEFAULT_SERVICE_LEVELS.name} in fixtures/ is a "
        "commented reference."
    )
    return "\n".join(lines)


def summary_line(levels: ServiceLevels, source: str) -> str:
    """The one-line OK summary of a file that loaded."""
    critical = len(levels.critical_flows())
    return (
        f"{source}: OK, {len(levels.flows)} flows ({critical} critical), "
        f"{len(levels.recovery)} fault families, {len(levels.controls)} controls"
    )


# --- reading -------------------------------------------------------------------------


@dataclass(frozen=True)
class _Problem:
    line: int
    column: int
    path: str
    message: str

    def format(self, source: str) -> str:
        # One problem per line whatever the file held: editors and CI logs parse it.
        text = f"{source}:{self.line}:{self.column}: {self.path}: {self.message}"
        return _escape_breaks(text)


class _Kind(Enum):
    BOOL = "bool"
    PERCENT = "percent"
    SECONDS = "seconds"
    MILLISECONDS = "milliseconds"
    COUNT = "count"
    DAYS = "days"


@dataclass(frozen=True)
class _Field:
    key: str
    kind: _Kind
    example: str
    # Zero is allowed only where "none at all" is meaningful (RPO, lost writes).
    allow_zero: bool = False


_EXPECTED: dict[_Kind, str] = {
    _Kind.BOOL: "true or false",
    _Kind.PERCENT: "a percentage as a plain number",
    _Kind.SECONDS: "a number of seconds",
    _Kind.MILLISECONDS: "a whole number of milliseconds",
    _Kind.COUNT: "a whole number",
    _Kind.DAYS: "a whole number of days",
}

# Unit words a user may append to a number, in the unit of each kind: "30s" in a
# seconds field becomes the hint "write 30", "1.5s" in a milliseconds field "write 1500".
_UNIT_SCALE: dict[_Kind, dict[str, float]] = {
    _Kind.PERCENT: {"": 1.0, "%": 1.0},
    _Kind.SECONDS: {"": 1.0, "ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0},
    _Kind.MILLISECONDS: {"": 1.0, "ms": 1.0, "s": 1000.0, "m": 60000.0},
    _Kind.COUNT: {"": 1.0},
    _Kind.DAYS: {"": 1.0, "d": 1.0},
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

_TAG = "tag:yaml.org,2002:"
_CONTROL_ID = re.compile(r"[A-Z][A-Z0-9]*-[0-9]+\Z")
_LINE_BREAK = re.compile(r"\r\n|[\r\n\x85\u2028\u2029]")
_UNPRINTABLE = re.compile(r"[\x00-\x1f\x7f\x85\u2028\u2029]")
_INDENTATION = re.compile(r"(?:(?<=\r\n)|(?<=[\r\n\x85\u2028\u2029])|\A)[ \t]*\t[ \t]*")
_PLAIN_KEY = re.compile(r"[\w-]+\Z")
_TAB_ERROR = "found character '\\t' that cannot start any token"
_MAX_TAB_PROBLEMS = 200

_TOP_REQUIRED = ("version", "flows", "recovery")
_TOP_OPTIONAL = ("global", "controls")

_FLOW_REQUIRED = (
    _Field("critical", _Kind.BOOL, "true"),
    _Field("durable_writes", _Kind.BOOL, "true"),
    _Field("probe_timeout_ms", _Kind.MILLISECONDS, "2000"),
)
_FLOW_TARGETS = (
    _Field("availability_pct", _Kind.PERCENT, "99.5"),
    _Field("p95_ms", _Kind.MILLISECONDS, "300"),
    _Field("p99_ms", _Kind.MILLISECONDS, "800"),
)
_RECOVERY_FIELDS = (
    _Field("rto_s", _Kind.SECONDS, "30"),
    _Field("rpo_s", _Kind.SECONDS, "0", allow_zero=True),
    _Field("rpo_writes_lost", _Kind.COUNT, "0", allow_zero=True),
    _Field("degraded_p95_ms", _Kind.MILLISECONDS, "2000"),
)
_GLOBAL_FIELDS = (
    _Field("steady_state_window_s", _Kind.SECONDS, "10"),
    _Field("stability_period_s", _Kind.SECONDS, "30"),
    _Field("probe_interval_ms", _Kind.MILLISECONDS, "200"),
)
_ABORT_FIELDS = (
    _Field("critical_flow_down_beyond_rto_s", _Kind.SECONDS, "60"),
    _Field("error_budget_window_days", _Kind.DAYS, "30"),
    _Field("max_error_budget_burn_pct", _Kind.PERCENT, "5"),
)
_CONTROL_KEYS = ("families", "description", "evidence_period_days")
_EVIDENCE_PERIOD = _Field("evidence_period_days", _Kind.DAYS, "90")
_MIN_PROBES_PER_WINDOW = 10

_Entries = dict[str, tuple[ScalarNode, Node]]


def _compose(text: str, reader: _Reader) -> Node | None:
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
                    tab_line, tab_column = _line_column(text[:index])
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
            line, column = _line_column(text[: exc.position])
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
                "expected a shallow document, saw nesting too deep to read; "
                "the service levels are at most four levels deep",
            )
            return None
        if tab_lines:
            return None
        if root is None or (isinstance(root, ScalarNode) and root.tag == _TAG + "null"):
            # A lone "---" composes to a null scalar: as empty as a file of comments.
            reader.add_at(
                1,
                1,
                "(document)",
                "expected a mapping with version, flows and recovery, saw an empty document; "
                f"start from a copy of {DEFAULT_SERVICE_LEVELS}",
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


def _escape_breaks(text: str) -> str:
    return _UNPRINTABLE.sub(lambda m: repr(m.group())[1:-1], text)


def _line_column(prefix: str) -> tuple[int, int]:
    """1-based position just after ``prefix``, counting line breaks as YAML does."""
    breaks = list(_LINE_BREAK.finditer(prefix))
    if not breaks:
        return 1, len(prefix) + 1
    return len(breaks) + 1, len(prefix) - breaks[-1].end() + 1


def _describe(node: Node) -> str:
    if isinstance(node, MappingNode):
        return "a mapping"
    if isinstance(node, SequenceNode):
        return "a list"
    value = str(node.value)
    shown = value if len(value) <= 40 else value[:37] + "..."
    tag = str(node.tag)
    if tag == _TAG + "null":
        return "an empty value"
    if tag == _TAG + "str":
        return f"the string {shown!r}"
    if tag == _TAG + "bool":
        return f"the boolean {shown}"
    if tag in (_TAG + "int", _TAG + "float"):
        return f"the number {shown}"
    if tag == _TAG + "timestamp":
        return f"the date {shown}"
    return f"a value tagged {tag}"


def _format_number(value: float) -> str:
    if not math.isfinite(value):
        return str(value)
    if value == int(value):
        return str(int(value))
    return f"{value:.6g}"


def _suggest(word: str, known: tuple[str, ...]) -> str:
    close = difflib.get_close_matches(word, known, n=1, cutoff=0.6)
    if close:
        return f"did you mean {close[0]!r}?"
    return "known keys: " + ", ".join(known)


def _join(path: str, key: str) -> str:
    shown = key if _PLAIN_KEY.match(key) else repr(key)
    return shown if not path else f"{path}.{shown}"


class _Reader:
    """Walks the node tree, collecting problems, building values where they are sound."""

    def __init__(self) -> None:
        self.problems: list[_Problem] = []
        self._constructor = SafeConstructor()

    def add_at(self, line: int, column: int, path: str, message: str) -> None:
        self.problems.append(_Problem(line, column, path or "(document)", message))

    def add(self, node: Node, path: str, message: str) -> None:
        mark = node.start_mark
        self.add_at(mark.line + 1, mark.column + 1, path, message)

    # --- structure ---

    def document(self, root: Node) -> ServiceLevels | None:
        self._duplicates(root)
        if not isinstance(root, MappingNode):
            self.add(
                root,
                "(document)",
                f"expected a mapping with version, flows and recovery at the top, saw "
                f"{_describe(root)}; start from a copy of {DEFAULT_SERVICE_LEVELS}",
            )
            return None
        entries = self.entries(root, "")
        self.check_keys(entries, "", root, _TOP_REQUIRED, _TOP_OPTIONAL)
        version = self.version(entries.get("version"))
        settings = self.settings(entries.get("global"))
        flows = self.flows(entries.get("flows"))
        recovery = self.recovery(entries.get("recovery"))
        controls = self.controls(entries.get("controls"))
        if settings is not None and "global" in entries:
            self.cross_check(settings, entries["global"][1])
        if (
            version is None
            or settings is None
            or flows is None
            or recovery is None
            or controls is None
            or self.problems
        ):
            return None
        return ServiceLevels(version, settings, flows, recovery, controls)

    def _duplicates(self, root: Node) -> None:
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
                                _join(path, name),
                                f"expected each key once in a mapping, saw {name!r} again "
                                f"(first on line {line}); delete one: YAML readers keep "
                                "only the last silently",
                            )
                        else:
                            first[name] = key
                        stack.append((value, _join(path, name)))
                    else:
                        stack.append((value, path))

    def entries(self, node: MappingNode, path: str) -> _Entries:
        """The mapping's scalar keys (first occurrence wins: duplicates are reported)."""
        result: _Entries = {}
        for key, value in node.value:
            if not isinstance(key, ScalarNode):
                self.add(
                    key,
                    path,
                    f"expected a plain key, saw {_describe(key)} as a key; use a name",
                )
                continue
            if str(key.tag) == _TAG + "merge":
                self.add(
                    key,
                    _join(path, "<<"),
                    "expected plain keys, saw a merge key (<<); write the keys out: "
                    "merges hide which value applies",
                )
                continue
            result.setdefault(str(key.value), (key, value))
        return result

    def check_keys(
        self,
        entries: _Entries,
        path: str,
        owner: Node,
        required: tuple[str, ...],
        optional: tuple[str, ...] = (),
    ) -> None:
        known = required + optional
        for name, (key, _) in entries.items():
            if name not in known:
                self.add(
                    key,
                    _join(path, name),
                    f"expected one of {', '.join(known)}, saw unknown key {name!r}; "
                    + _suggest(name, known),
                )
        for name in required:
            if name not in entries:
                self.add(
                    owner,
                    _join(path, name),
                    f"expected required key {name!r}, saw none; add it here",
                )

    def mapping(self, item: tuple[ScalarNode, Node] | None, path: str) -> MappingNode | None:
        if item is None:
            return None
        _, node = item
        if not isinstance(node, MappingNode):
            self.add(node, path, f"expected a mapping, saw {_describe(node)}; indent keys under it")
            return None
        return node

    # --- sections ---

    def version(self, item: tuple[ScalarNode, Node] | None) -> int | None:
        if item is None:
            return None
        _, node = item
        value = self._numeric(node)
        if value is None or not math.isfinite(value):
            self.number(node, "version", _Field("version", _Kind.COUNT, "1"))
            return None
        if value != SUPPORTED_VERSION:
            self.add(
                node,
                "version",
                f"expected version {SUPPORTED_VERSION}, saw {_format_number(value)}; this "
                f"harness reads version {SUPPORTED_VERSION} files: convert the file or "
                "upgrade the harness",
            )
            return None
        return SUPPORTED_VERSION

    def settings(self, item: tuple[ScalarNode, Node] | None) -> GlobalSettings | None:
        if item is None:
            return GlobalSettings()
        node = self.mapping(item, "global")
        if node is None:
            return None
        entries = self.entries(node, "global")
        fields = _GLOBAL_FIELDS
        self.check_keys(entries, "global", item[0], (), (*(f.key for f in fields), "abort"))
        values = self.optional_numbers(entries, "global", fields)
        abort = self.abort(entries.get("abort"))
        if values is None or abort is None:
            return None
        defaults = GlobalSettings()
        return GlobalSettings(
            steady_state_window_s=values.get(
                "steady_state_window_s", defaults.steady_state_window_s
            ),
            stability_period_s=values.get("stability_period_s", defaults.stability_period_s),
            probe_interval_ms=int(values.get("probe_interval_ms", defaults.probe_interval_ms)),
            abort=abort,
        )

    def abort(self, item: tuple[ScalarNode, Node] | None) -> AbortConditions | None:
        if item is None:
            return AbortConditions()
        node = self.mapping(item, "global.abort")
        if node is None:
            return None
        entries = self.entries(node, "global.abort")
        self.check_keys(entries, "global.abort", item[0], (), tuple(f.key for f in _ABORT_FIELDS))
        values = self.optional_numbers(entries, "global.abort", _ABORT_FIELDS)
        if values is None:
            return None
        defaults = AbortConditions()
        return AbortConditions(
            critical_flow_down_beyond_rto_s=values.get(
                "critical_flow_down_beyond_rto_s", defaults.critical_flow_down_beyond_rto_s
            ),
            error_budget_window_days=int(
                values.get("error_budget_window_days", defaults.error_budget_window_days)
            ),
            max_error_budget_burn_pct=values.get(
                "max_error_budget_burn_pct", defaults.max_error_budget_burn_pct
            ),
        )

    def flows(self, item: tuple[ScalarNode, Node] | None) -> tuple[FlowLevels, ...] | None:
        node = self.mapping(item, "flows")
        if item is None or node is None:
            return None
        known = tuple(flow.value for flow in BusinessFlow)
        result: list[FlowLevels] = []
        sound = True
        for name, (key, value) in self.entries(node, "flows").items():
            if name not in known:
                self.add(
                    key,
                    _join("flows", name),
                    f"expected a business flow ({', '.join(known)}), saw {name!r}; "
                    + _suggest(name, known),
                )
                sound = False
                continue
            levels = self.flow(BusinessFlow(name), key, value)
            if levels is None:
                sound = False
            else:
                result.append(levels)
        if not node.value:
            self.add(node, "flows", "expected at least one flow, saw none; declare warehouse_scan")
            return None
        if sound and not any(levels.critical for levels in result):
            self.add(
                item[0],
                "flows",
                "expected at least one critical flow, saw none; mark the flows the "
                "warehouses cannot work without as critical: true (the steady state, and "
                "so every RTO, is measured on them)",
            )
            return None
        return tuple(result) if sound else None

    def flow(self, flow: BusinessFlow, key: ScalarNode, node: Node) -> FlowLevels | None:
        path = _join("flows", flow.value)
        if not isinstance(node, MappingNode):
            self.add(node, path, f"expected a mapping, saw {_describe(node)}; indent keys under it")
            return None
        entries = self.entries(node, path)
        required = tuple(spec.key for spec in _FLOW_REQUIRED)
        self.check_keys(entries, path, key, required, tuple(spec.key for spec in _FLOW_TARGETS))
        fixed = self.numbers_and_bools(entries, path, _FLOW_REQUIRED)
        given = [spec for spec in _FLOW_TARGETS if spec.key in entries]
        targets = self.flow_targets(entries, path)
        critical = None if fixed is None else fixed.get("critical")
        missing = [spec for spec in _FLOW_TARGETS if spec.key not in entries]
        if missing and (given or critical is True):
            why = (
                "a critical flow gates the steady state"
                if critical is True
                else "a flow carries all three targets or none"
            )
            for spec in missing:
                self.add(
                    key,
                    _join(path, spec.key),
                    f"expected {_EXPECTED[spec.kind]}, saw none; {why}: add "
                    f"{spec.key}: {spec.example}",
                )
            return None
        if fixed is None or len(fixed) < len(_FLOW_REQUIRED) or (given and targets is None):
            return None
        timeout = int(fixed["probe_timeout_ms"])
        if targets is not None and timeout <= targets.p99_ms:
            self.add(
                entries["probe_timeout_ms"][1],
                _join(path, "probe_timeout_ms"),
                f"expected a probe timeout above p99_ms ({targets.p99_ms}), saw {timeout}; "
                "a probe that gives up before the p99 target counts on-target answers "
                "as timeouts: raise it",
            )
            return None
        return FlowLevels(
            flow=flow,
            critical=bool(fixed["critical"]),
            targets=targets,
            durable_writes=bool(fixed["durable_writes"]),
            probe_timeout_ms=timeout,
        )

    def flow_targets(self, entries: _Entries, path: str) -> FlowTargets | None:
        """The targets given, each checked alone and against the others it is given with."""
        values: dict[str, float] = {}
        for spec in _FLOW_TARGETS:
            if spec.key in entries:
                value = self.number(entries[spec.key][1], _join(path, spec.key), spec)
                if value is not None:
                    values[spec.key] = value
        sound = len(values) == len(_FLOW_TARGETS)
        availability = values.get("availability_pct")
        if availability is not None and availability >= 100:
            self.add(
                entries["availability_pct"][1],
                _join(path, "availability_pct"),
                f"expected a percentage below 100, saw {_format_number(availability)}; "
                "100 leaves no error budget (one failed probe would fail the steady "
                "state): use 99.99 at most",
            )
            sound = False
        p95, p99 = values.get("p95_ms"), values.get("p99_ms")
        if p95 is not None and p99 is not None and p95 > p99:
            self.add(
                entries["p95_ms"][1],
                _join(path, "p95_ms"),
                f"expected p95_ms <= p99_ms ({int(p99)}), saw {int(p95)}; the 95th "
                "percentile cannot be slower than the 99th: swap or correct them",
            )
            sound = False
        if not sound or availability is None or p95 is None or p99 is None:
            return None
        return FlowTargets(availability, int(p95), int(p99))

    def recovery(self, item: tuple[ScalarNode, Node] | None) -> tuple[RecoveryTargets, ...] | None:
        node = self.mapping(item, "recovery")
        if item is None or node is None:
            return None
        known = tuple(family.value for family in FaultFamily)
        found: dict[FaultFamily, RecoveryTargets] = {}
        sound = True
        entries = self.entries(node, "recovery")
        for name, (key, value) in entries.items():
            path = _join("recovery", name)
            if name not in known:
                self.add(
                    key,
                    path,
                    f"expected a fault family ({', '.join(known)}), saw {name!r}; "
                    + _suggest(name, known),
                )
                sound = False
                continue
            family = FaultFamily(name)
            if not isinstance(value, MappingNode):
                self.add(
                    value, path, f"expected a mapping, saw {_describe(value)}; indent keys under it"
                )
                sound = False
                continue
            fields = self.entries(value, path)
            self.check_keys(fields, path, key, tuple(f.key for f in _RECOVERY_FIELDS))
            values = self.numbers_and_bools(fields, path, _RECOVERY_FIELDS)
            if values is None or len(values) < len(_RECOVERY_FIELDS):
                sound = False
                continue
            found[family] = RecoveryTargets(
                family=family,
                rto_s=float(values["rto_s"]),
                rpo_s=float(values["rpo_s"]),
                rpo_writes_lost=int(values["rpo_writes_lost"]),
                degraded_p95_ms=int(values["degraded_p95_ms"]),
            )
        for family in FaultFamily:
            if family.value not in entries:
                self.add(
                    item[0],
                    f"recovery.{family.value}",
                    f"expected recovery targets for {family.value!r}, saw none; the harness "
                    "runs a scenario for every fault family: add "
                    f"{family.value}: {{rto_s: 60, rpo_s: 0, rpo_writes_lost: 0, "
                    "degraded_p95_ms: 2000}",
                )
                sound = False
        if not sound:
            return None
        return tuple(found[family] for family in FaultFamily)

    def controls(self, item: tuple[ScalarNode, Node] | None) -> tuple[Control, ...] | None:
        if item is None:
            return ()
        node = self.mapping(item, "controls")
        if node is None:
            return None
        result: list[Control] = []
        sound = True
        for name, (key, value) in self.entries(node, "controls").items():
            control = self.control(name, key, value)
            if control is None:
                sound = False
            else:
                result.append(control)
        return tuple(result) if sound else None

    def control(self, name: str, key: ScalarNode, node: Node) -> Control | None:
        path = _join("controls", name)
        sound = True
        if not _CONTROL_ID.match(name):
            self.add(
                key,
                path,
                f"expected a control id like DR-01 (capitals, a dash, digits), saw {name!r}; "
                "rename it to match your control catalogue",
            )
            sound = False
        if not isinstance(node, MappingNode):
            self.add(node, path, f"expected a mapping, saw {_describe(node)}; indent keys under it")
            return None
        entries = self.entries(node, path)
        self.check_keys(entries, path, key, _CONTROL_KEYS)
        families = self.families(entries.get("families"), f"{path}.families")
        description = self.text(entries.get("description"), f"{path}.description")
        period = self.numbers_and_bools(entries, path, (_EVIDENCE_PERIOD,))
        if (
            not sound
            or families is None
            or description is None
            or period is None
            or _EVIDENCE_PERIOD.key not in period
        ):
            return None
        return Control(name, families, description, int(period[_EVIDENCE_PERIOD.key]))

    def families(
        self, item: tuple[ScalarNode, Node] | None, path: str
    ) -> tuple[FaultFamily, ...] | None:
        if item is None:
            return None
        _, node = item
        known = tuple(family.value for family in FaultFamily)
        if not isinstance(node, SequenceNode):
            hint = "write [db-failover]"
            if isinstance(node, ScalarNode) and _PLAIN_KEY.match(str(node.value)):
                hint = f"write [{node.value}]"
            self.add(
                node, path, f"expected a list of fault families, saw {_describe(node)}; {hint}"
            )
            return None
        if not node.value:
            self.add(
                node,
                path,
                "expected at least one fault family, saw an empty list; name the families "
                "whose scenarios evidence this control",
            )
            return None
        result: list[FaultFamily] = []
        sound = True
        for index, member in enumerate(node.value):
            member_path = f"{path}[{index}]"
            name = str(member.value) if isinstance(member, ScalarNode) else None
            if name is None or name not in known:
                saw = _describe(member)
                hint = _suggest(name, known) if name is not None else f"known: {', '.join(known)}"
                self.add(
                    member,
                    member_path,
                    f"expected a fault family, saw {saw}; {hint}".replace(
                        "known keys:", "known families:"
                    ),
                )
                sound = False
            elif FaultFamily(name) in result:
                self.add(
                    member,
                    member_path,
                    f"expected each family once, saw {name!r} again; delete the repeat",
                )
                sound = False
            else:
                result.append(FaultFamily(name))
        return tuple(result) if sound else None

    def text(self, item: tuple[ScalarNode, Node] | None, path: str) -> str | None:
        if item is None:
            return None
        _, node = item
        if not isinstance(node, ScalarNode) or str(node.tag) == _TAG + "null":
            self.add(
                node,
                path,
                f"expected one line of text, saw {_describe(node)}; write a short sentence",
            )
            return None
        value = str(node.value).strip()
        if not value or "\n" in value:
            saw = "an empty string" if not value else "several lines"
            self.add(node, path, f"expected one line of text, saw {saw}; write one sentence")
            return None
        return value

    def cross_check(self, settings: GlobalSettings, global_node: Node) -> None:
        window_ms = settings.steady_state_window_s * 1000
        if settings.probe_interval_ms * _MIN_PROBES_PER_WINDOW > window_ms:
            self.add(
                global_node,
                "global.probe_interval_ms",
                f"expected at least {_MIN_PROBES_PER_WINDOW} probes per steady-state window "
                f"({_format_number(settings.steady_state_window_s)} s), saw one every "
                f"{settings.probe_interval_ms} ms; shorten probe_interval_ms or lengthen "
                "steady_state_window_s",
            )

    # --- scalars ---

    def optional_numbers(
        self, entries: _Entries, path: str, fields: tuple[_Field, ...]
    ) -> dict[str, float] | None:
        values = self.numbers_and_bools(entries, path, fields)
        if values is None:
            return None
        return {key: float(value) for key, value in values.items()}

    def numbers_and_bools(
        self, entries: _Entries, path: str, fields: tuple[_Field, ...]
    ) -> dict[str, float | bool] | None:
        """Values of the fields present in ``entries``; None if any of them is bad."""
        result: dict[str, float | bool] = {}
        sound = True
        for spec in fields:
            if spec.key not in entries:
                continue
            node = entries[spec.key][1]
            field_path = _join(path, spec.key)
            value: float | bool | None
            if spec.kind is _Kind.BOOL:
                value = self.boolean(node, field_path)
            else:
                value = self.number(node, field_path, spec)
            if value is None:
                sound = False
            else:
                result[spec.key] = value
        return result if sound else None

    def boolean(self, node: Node, path: str) -> bool | None:
        if isinstance(node, ScalarNode) and str(node.tag) == _TAG + "bool":
            word = str(node.value).lower()
            if word in ("true", "yes", "on"):
                return True
            if word in ("false", "no", "off"):
                return False
        hint = "write true or false"
        if isinstance(node, ScalarNode) and str(node.value).lower() in ("true", "false"):
            hint = f"write {str(node.value).lower()} without quotes"
        self.add(node, path, f"expected true or false, saw {_describe(node)}; {hint}")
        return None

    def number(self, node: Node, path: str, spec: _Field) -> float | None:
        expected = _EXPECTED[spec.kind]
        value = self._numeric(node)
        if value is None:
            self.add(
                node, path, f"expected {expected}, saw {_describe(node)}; {self._hint(node, spec)}"
            )
            return None
        if not math.isfinite(value):
            self.add(
                node, path, f"expected {expected}, saw {_describe(node)}; write a finite number"
            )
            return None
        whole = spec.kind in (_Kind.MILLISECONDS, _Kind.COUNT, _Kind.DAYS)
        if whole and value != int(value):
            self.add(
                node,
                path,
                f"expected {expected}, saw {_format_number(value)}; write {round(value)}",
            )
            return None
        if spec.kind is _Kind.PERCENT and not 0 < value <= 100:
            self.add(
                node,
                path,
                f"expected a percentage above 0 and at most 100, saw {_format_number(value)}; "
                "percentages are written as 99.5, not 0.995",
            )
            return None
        if value < 0 or (value == 0 and not spec.allow_zero):
            bound = "0 or more" if spec.allow_zero else "a number greater than 0"
            self.add(
                node,
                path,
                f"expected {bound}, saw {_format_number(value)}; {_range_hint(spec)}",
            )
            return None
        return value

    def _numeric(self, node: Node) -> float | None:
        if not isinstance(node, ScalarNode):
            return None
        tag = str(node.tag)
        try:
            if tag == _TAG + "int":
                return float(self._constructor.construct_yaml_int(node))
            if tag == _TAG + "float":
                return float(self._constructor.construct_yaml_float(node))
        except (ValueError, ArithmeticError, LookupError):
            # An explicit "!!int abc" reaches the constructor unresolved; it is a wrong
            # value like any other, reported by the caller.
            return None
        return None

    def _hint(self, node: Node, spec: _Field) -> str:
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
        unit_words = {
            _Kind.PERCENT: "no % sign, no quotes",
            _Kind.SECONDS: "seconds, no unit, no quotes",
            _Kind.MILLISECONDS: "milliseconds, no unit, no quotes",
            _Kind.COUNT: "no quotes",
            _Kind.DAYS: "days, no unit, no quotes",
        }
        return f"write {_format_number(number)} ({unit_words.get(spec.kind, 'no quotes')})"


def _range_hint(spec: _Field) -> str:
    if spec.key == "rto_s":
        return "an RTO of 0 or less can never be met: give the seconds recovery may take"
    if spec.key == "rpo_s":
        return "an RPO cannot be negative: write 0 to allow no data loss"
    if spec.allow_zero:
        return "write 0 to allow none"
    return f"give a positive value, e.g. {spec.example}"
