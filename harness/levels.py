"""The service-levels file: its typed model, its loader and its problem report.

This module owns what a run is judged against: per business flow the availability and
latency targets, per fault family the recovery targets (RTO, RPO, degraded latency), the
global measurement settings and abort conditions, and the control map an auditor reads.

The file is read with ``harness.yamlread``: every problem in it is collected and reported
together as ``file:line:column: yaml.path: expected X, saw Y; hint``; no input, however
broken, escapes as anything but ``ServiceLevelsError``. What is specific to service
levels (the sections, their fields and the rules between them) is here.

Documented decisions:

- ``availability_pct`` must lie strictly between 0 and 100. A target of 100 leaves no
  error budget: one failed probe in a steady-state window would fail it, and the
  error-budget burn abort would divide by zero. Use 99.99 for "never down".
- A critical flow gates the steady state, so it must carry all three targets
  (``availability_pct``, ``p95_ms``, ``p99_ms``); a non-critical flow carries all three
  or none (it is then probed and reported, never judged).
- Every fault family needs recovery targets. A family the harness has no scenario
  for yet (``FaultFamily.has_scenario``) is still declared, and ``levels check`` and the
  report say that nothing exercises it, so no control is evidenced by it.
- ``stall_threshold_ms`` (optional): one HTTP exchange of a probe left unanswered
  longer than this marks the flow as not answering from its send until its answer
  (``harness.probes``, "Stalls"), so a hung stack reads as down for as long as it hung,
  whatever the probe timeout. The default is half the flow's p99 target: a single
  exchange of a multi-call flow taking half the whole flow's p99 budget is far outside
  normal service, while a stall of a second or more is seen on every flow. A flow
  without targets defaults to a quarter of its probe timeout. It must lie below the
  probe timeout (a timed-out exchange is a stall already).

Pure: no environment reads, no network; the only I/O is reading the file given to
``load_service_levels``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from harness.errors import ServiceLevelsError
from harness.yamlread import (
    PLAIN_KEY,
    ConfigFile,
    Entries,
    Entry,
    Field,
    Kind,
    Reader,
    describe,
    format_number,
    join_path,
    parse_document,
    read_text,
    suggest,
)

DEFAULT_SERVICE_LEVELS: Path = (
    Path(__file__).resolve().parents[1] / "fixtures" / "service-levels.yaml"
)
SUPPORTED_VERSION = 1


class FaultFamily(StrEnum):
    """The fault families of the service levels (one ``scenarios/`` module each, once built)."""

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

    @property
    def has_scenario(self) -> bool:
        """Whether ``scenarios/`` exercises this family (a test keeps the two in step)."""
        return self not in _FAMILIES_WITHOUT_SCENARIO


#: Families with targets but no scenario yet: nothing can evidence their controls.
_FAMILIES_WITHOUT_SCENARIO = frozenset({FaultFamily.DISASTER_RESTORE})


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

    @property
    def default_stall_threshold_ms(self) -> int:
        """Half the p99 target (see the module docstring)."""
        return self.p99_ms // 2


@dataclass(frozen=True)
class FlowLevels:
    """One business flow: whether it gates the steady state, its targets, its probe."""

    flow: BusinessFlow
    critical: bool
    targets: FlowTargets | None
    durable_writes: bool
    probe_timeout_ms: int
    stall_threshold_ms: int
    """An exchange unanswered longer than this is a stall (module docstring)."""


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
    return parse_service_levels(read_text(path, _LEVELS_FILE), str(path))


def parse_service_levels(text: str, source: str) -> ServiceLevels:
    """Validate service levels given as YAML text; ``source`` names it in problems."""
    reader = _LevelsReader()
    return parse_document(text, source, _LEVELS_FILE, reader, reader.document)


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
    """The OK summary of a file that loaded, then what no scenario exercises yet."""
    critical = len(levels.critical_flows())
    lines = [
        f"{source}: OK, {len(levels.flows)} flows ({critical} critical), "
        f"{len(levels.recovery)} fault families, {len(levels.controls)} controls"
    ]
    for targets in levels.recovery:
        family = targets.family
        if family.has_scenario:
            continue
        controls = ", ".join(c.control_id for c in levels.controls_for(family))
        lines.append(
            f"  note: {family.value} has targets but no scenario yet: nothing measures them"
            + (f", so control {controls} cannot be evidenced" if controls else "")
        )
    return "\n".join(lines)


# --- reading -------------------------------------------------------------------------

_LEVELS_FILE = ConfigFile(
    noun="service-levels",
    top_keys="version, flows and recovery",
    reference=DEFAULT_SERVICE_LEVELS,
    depth_hint="the service levels are at most four levels deep",
    error=ServiceLevelsError,
)
_CONTROL_ID = re.compile(r"[A-Z][A-Z0-9]*-[0-9]+\Z")

_TOP_REQUIRED = ("version", "flows", "recovery")
_TOP_OPTIONAL = ("global", "controls")

_FLOW_REQUIRED = (
    Field("critical", Kind.BOOL, "true"),
    Field("durable_writes", Kind.BOOL, "true"),
    Field("probe_timeout_ms", Kind.MILLISECONDS, "2000"),
)
_STALL_THRESHOLD = Field("stall_threshold_ms", Kind.MILLISECONDS, "1000")
_FLOW_TARGETS = (
    Field("availability_pct", Kind.PERCENT, "99.5"),
    Field("p95_ms", Kind.MILLISECONDS, "300"),
    Field("p99_ms", Kind.MILLISECONDS, "800"),
)
_RECOVERY_FIELDS = (
    Field(
        "rto_s",
        Kind.SECONDS,
        "30",
        range_hint="an RTO of 0 or less can never be met: give the seconds recovery may take",
    ),
    Field(
        "rpo_s",
        Kind.SECONDS,
        "0",
        allow_zero=True,
        range_hint="an RPO cannot be negative: write 0 to allow no data loss",
    ),
    Field("rpo_writes_lost", Kind.COUNT, "0", allow_zero=True),
    Field("degraded_p95_ms", Kind.MILLISECONDS, "2000"),
)
_GLOBAL_FIELDS = (
    Field("steady_state_window_s", Kind.SECONDS, "10"),
    Field("stability_period_s", Kind.SECONDS, "30"),
    Field("probe_interval_ms", Kind.MILLISECONDS, "200"),
)
_ABORT_FIELDS = (
    Field("critical_flow_down_beyond_rto_s", Kind.SECONDS, "60"),
    Field("error_budget_window_days", Kind.DAYS, "30"),
    Field("max_error_budget_burn_pct", Kind.PERCENT, "5"),
)
_CONTROL_KEYS = ("families", "description", "evidence_period_days")
_EVIDENCE_PERIOD = Field("evidence_period_days", Kind.DAYS, "90")
_MIN_PROBES_PER_WINDOW = 10


class _LevelsReader(Reader):
    """The service-levels sections on top of the generic reader."""

    def document(self, root: MappingNode) -> ServiceLevels | None:
        entries = self.entries(root, "")
        self.check_keys(entries, "", root, _TOP_REQUIRED, _TOP_OPTIONAL)
        version = self.version(entries.get("version"), SUPPORTED_VERSION)
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

    def settings(self, item: Entry | None) -> GlobalSettings | None:
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

    def abort(self, item: Entry | None) -> AbortConditions | None:
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

    def flows(self, item: Entry | None) -> tuple[FlowLevels, ...] | None:
        node = self.mapping(item, "flows")
        if item is None or node is None:
            return None
        known = tuple(flow.value for flow in BusinessFlow)
        result: list[FlowLevels] = []
        sound = True
        for name, (key, value) in self.entries(node, "flows").items():
            if name not in known:
                self.unknown_name(key, join_path("flows", name), "a business flow", name, known)
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
        path = join_path("flows", flow.value)
        if not isinstance(node, MappingNode):
            self.add(node, path, f"expected a mapping, saw {describe(node)}; indent keys under it")
            return None
        entries = self.entries(node, path)
        required = tuple(spec.key for spec in _FLOW_REQUIRED)
        optional = (*(spec.key for spec in _FLOW_TARGETS), _STALL_THRESHOLD.key)
        self.check_keys(entries, path, key, required, optional)
        fixed = self.numbers_and_bools(entries, path, _FLOW_REQUIRED)
        stall = self.optional_numbers(entries, path, (_STALL_THRESHOLD,))
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
                    join_path(path, spec.key),
                    f"expected {spec.kind.expected}, saw none; {why}: add "
                    f"{spec.key}: {spec.example}",
                )
            return None
        if (
            fixed is None
            or stall is None
            or len(fixed) < len(_FLOW_REQUIRED)
            or (given and targets is None)
        ):
            return None
        timeout = int(fixed["probe_timeout_ms"])
        default_stall = timeout // 4 if targets is None else targets.default_stall_threshold_ms
        stall_ms = int(stall.get(_STALL_THRESHOLD.key, default_stall))
        if stall_ms >= timeout:
            where = entries.get(_STALL_THRESHOLD.key, entries["probe_timeout_ms"])[1]
            self.add(
                where,
                join_path(path, _STALL_THRESHOLD.key),
                f"expected a stall threshold below probe_timeout_ms ({timeout}), saw "
                f"{stall_ms}{'' if _STALL_THRESHOLD.key in entries else ' (the default)'}; "
                "an exchange that times out is a stall already: lower stall_threshold_ms",
            )
            return None
        if targets is not None and timeout <= targets.p99_ms:
            self.add(
                entries["probe_timeout_ms"][1],
                join_path(path, "probe_timeout_ms"),
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
            stall_threshold_ms=stall_ms,
        )

    def flow_targets(self, entries: Entries, path: str) -> FlowTargets | None:
        """The targets given, each checked alone and against the others it is given with."""
        values: dict[str, float] = {}
        for spec in _FLOW_TARGETS:
            if spec.key in entries:
                value = self.number(entries[spec.key][1], join_path(path, spec.key), spec)
                if value is not None:
                    values[spec.key] = value
        sound = len(values) == len(_FLOW_TARGETS)
        availability = values.get("availability_pct")
        if availability is not None and availability >= 100:
            self.add(
                entries["availability_pct"][1],
                join_path(path, "availability_pct"),
                f"expected a percentage below 100, saw {format_number(availability)}; "
                "100 leaves no error budget (one failed probe would fail the steady "
                "state): use 99.99 at most",
            )
            sound = False
        p95, p99 = values.get("p95_ms"), values.get("p99_ms")
        if p95 is not None and p99 is not None and p95 > p99:
            self.add(
                entries["p95_ms"][1],
                join_path(path, "p95_ms"),
                f"expected p95_ms <= p99_ms ({int(p99)}), saw {int(p95)}; the 95th "
                "percentile cannot be slower than the 99th: swap or correct them",
            )
            sound = False
        if not sound or availability is None or p95 is None or p99 is None:
            return None
        return FlowTargets(availability, int(p95), int(p99))

    def recovery(self, item: Entry | None) -> tuple[RecoveryTargets, ...] | None:
        node = self.mapping(item, "recovery")
        if item is None or node is None:
            return None
        known = tuple(family.value for family in FaultFamily)
        found: dict[FaultFamily, RecoveryTargets] = {}
        sound = True
        entries = self.entries(node, "recovery")
        for name, (key, value) in entries.items():
            path = join_path("recovery", name)
            if name not in known:
                self.unknown_name(key, path, "a fault family", name, known)
                sound = False
                continue
            family = FaultFamily(name)
            if not isinstance(value, MappingNode):
                self.add(
                    value, path, f"expected a mapping, saw {describe(value)}; indent keys under it"
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
                    f"expected recovery targets for {family.value!r}, saw none; every fault "
                    "family is declared, so that its scenarios have targets: add "
                    f"{family.value}: {{rto_s: 60, rpo_s: 0, rpo_writes_lost: 0, "
                    "degraded_p95_ms: 2000}",
                )
                sound = False
        if not sound:
            return None
        return tuple(found[family] for family in FaultFamily)

    def controls(self, item: Entry | None) -> tuple[Control, ...] | None:
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
        path = join_path("controls", name)
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
            self.add(node, path, f"expected a mapping, saw {describe(node)}; indent keys under it")
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

    def families(self, item: Entry | None, path: str) -> tuple[FaultFamily, ...] | None:
        if item is None:
            return None
        _, node = item
        known = tuple(family.value for family in FaultFamily)
        if not isinstance(node, SequenceNode):
            hint = "write [db-failover]"
            if isinstance(node, ScalarNode) and PLAIN_KEY.match(str(node.value)):
                hint = f"write [{node.value}]"
            self.add(node, path, f"expected a list of fault families, saw {describe(node)}; {hint}")
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
                saw = describe(member)
                hint = suggest(name, known) if name is not None else f"known: {', '.join(known)}"
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

    def cross_check(self, settings: GlobalSettings, global_node: Node) -> None:
        window_ms = settings.steady_state_window_s * 1000
        if settings.probe_interval_ms * _MIN_PROBES_PER_WINDOW > window_ms:
            self.add(
                global_node,
                "global.probe_interval_ms",
                f"expected at least {_MIN_PROBES_PER_WINDOW} probes per steady-state window "
                f"({format_number(settings.steady_state_window_s)} s), saw one every "
                f"{settings.probe_interval_ms} ms; shorten probe_interval_ms or lengthen "
                "steady_state_window_s",
            )
