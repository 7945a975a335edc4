"""Load profiles: who the warehouse users are, how they pace themselves, and the load shape.

This module owns ``fixtures/load-profiles.yaml``: per profile (``smoke``, ``nightly``,
``peak``, ...) the user mix (one entry per ``UserRole`` with its weight and think time,
plus the role's own knobs), the request timeout, and the stages of the load shape (users,
spawn rate, duration), as frozen objects. The locustfile imports it (it is pure: PyYAML
and ``harness.yamlread`` only), so the harness and Locust read one definition.

Problems are reported the way every config file is (``harness.yamlread``): all of them
together, each as ``file:line:column: yaml.path: expected X, saw Y; hint``, raised as one
``LoadProfileError``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from harness.errors import ConfigFileError
from harness.yamlread import (
    ConfigFile,
    Entry,
    Field,
    Kind,
    Reader,
    describe,
    join_path,
    parse_document,
    read_text,
    suggest,
)

DEFAULT_LOAD_PROFILES: Path = (
    Path(__file__).resolve().parents[2] / "fixtures" / "load-profiles.yaml"
)


class LoadProfileError(ConfigFileError):
    """The load-profiles file has one or more problems, or lacks the profile asked for."""

    subject = "the load profiles"


class UserRole(StrEnum):
    """The warehouse users the locustfile simulates (one Locust user class each)."""

    PICKER = "picker"
    RECEIVER = "receiver"
    ORDER_IMPORTER = "order_importer"
    REPORTER = "reporter"


@dataclass(frozen=True)
class ThinkTime:
    """Seconds a user waits between two of its tasks, drawn uniformly."""

    min_s: float
    max_s: float


@dataclass(frozen=True)
class PickerTasks:
    """Relative weights of a picker's two tasks: scan a barcode, validate a delivery."""

    scan_weight: int
    pick_weight: int


@dataclass(frozen=True)
class OrderBatches:
    """An importer sends ``orders_per_batch`` orders, then pauses like an EDI feed."""

    orders_per_batch: int
    lines_per_order: int
    batch_pause_s: float


@dataclass(frozen=True)
class UserMix:
    """One role in a profile; ``picker``/``batches`` are set for that role only."""

    role: UserRole
    weight: int
    think: ThinkTime
    picker: PickerTasks | None = None
    batches: OrderBatches | None = None
    pace_s: float | None = None
    """Seconds from one task's start to the next (Locust's ``constant_pacing``), instead
    of a think time after each task: the user keeps its rate while the stack slows down,
    until a task takes longer than its pace. None: ``think`` applies."""


@dataclass(frozen=True)
class Stage:
    """Hold ``users`` (reached at ``spawn_rate`` users/s) for ``duration_s``."""

    duration_s: float
    users: int
    spawn_rate: int


@dataclass(frozen=True)
class LoadProfile:
    name: str
    description: str
    request_timeout_s: float
    users: tuple[UserMix, ...]
    stages: tuple[Stage, ...]
    target_rps: float | None = None
    """OK answers per second the profile reaches against a healthy stack; set for the
    profiles that run under every scenario (``background``), whose steady state needs
    90 % of it."""

    @property
    def duration_s(self) -> float:
        return sum(stage.duration_s for stage in self.stages)

    def stage_at(self, elapsed_s: float) -> Stage | None:
        """The stage running ``elapsed_s`` after the start; None once the last one ended."""
        end = 0.0
        for stage in self.stages:
            end += stage.duration_s
            if elapsed_s < end:
                return stage
        return None

    def user(self, role: UserRole) -> UserMix | None:
        return next((mix for mix in self.users if mix.role is role), None)


@dataclass(frozen=True)
class LoadProfiles:
    source: str
    profiles: tuple[LoadProfile, ...]
    background: Mapping[str, str] = field(default_factory=dict)
    """Scenario profile (smoke, gate, nightly) to the load profile run under each of its
    scenarios; every one named has a ``target_rps``."""

    def background_for(self, scenario_profile: str) -> LoadProfile:
        """The load profile under the scenarios of ``scenario_profile``."""
        name = self.background.get(scenario_profile)
        if name is None:
            known = tuple(self.background)
            raise LoadProfileError(
                self.source,
                [
                    f"{self.source}: background.{scenario_profile}: expected the load profile "
                    f"run under the {scenario_profile} scenarios, saw none (background names "
                    f"{', '.join(known) or 'no profile'}); add "
                    f"background: {{{scenario_profile}: <profile>}}"
                ],
            )
        return self.get(name)

    def get(self, name: str) -> LoadProfile:
        for profile in self.profiles:
            if profile.name == name:
                return profile
        known = tuple(p.name for p in self.profiles)
        raise LoadProfileError(
            self.source,
            [
                f"{self.source}: profiles.{name}: expected one of {', '.join(known)}, saw "
                f"no profile {name!r}; {suggest(name, known)}"
            ],
        )


def load_profiles(path: Path) -> LoadProfiles:
    """Read and validate ``path``; LoadProfileError lists every problem found."""
    return parse_profiles(read_text(path, _PROFILES_FILE), str(path))


def parse_profiles(text: str, source: str) -> LoadProfiles:
    """Validate load profiles given as YAML text; ``source`` names it in problems."""
    reader = _ProfileReader()
    parsed = parse_document(text, source, _PROFILES_FILE, reader, reader.document)
    return LoadProfiles(source, *parsed)


# --- reading -------------------------------------------------------------------------

_WEIGHT = Field("weight", Kind.COUNT, "3")
_THINK = (
    Field("think_min_s", Kind.SECONDS, "0.5", allow_zero=True),
    Field("think_max_s", Kind.SECONDS, "2", allow_zero=True),
)
_PICKER = (
    Field("scan_weight", Kind.COUNT, "4", allow_zero=True),
    Field("pick_weight", Kind.COUNT, "1", allow_zero=True),
)
_BATCHES = (
    Field("orders_per_batch", Kind.COUNT, "10"),
    Field("lines_per_order", Kind.COUNT, "3"),
    Field("batch_pause_s", Kind.SECONDS, "30", allow_zero=True),
)
_PACE = Field("pace_s", Kind.SECONDS, "1")
_ROLE_FIELDS: dict[UserRole, tuple[Field, ...]] = {
    UserRole.PICKER: (_WEIGHT, *_THINK, *_PICKER),
    UserRole.RECEIVER: (_WEIGHT, *_THINK),
    UserRole.ORDER_IMPORTER: (_WEIGHT, *_THINK, *_BATCHES),
    UserRole.REPORTER: (_WEIGHT, *_THINK),
}
"""Every key a role needs; ``pace_s`` may stand in for the think times (not the
importer's, whose think time is between the orders of a batch)."""
_STAGE = (
    Field("duration_s", Kind.SECONDS, "60"),
    Field("users", Kind.COUNT, "10", allow_zero=True),
    Field("spawn_rate", Kind.COUNT, "5"),
)
_TIMEOUT = Field("request_timeout_s", Kind.SECONDS, "10")
_TARGET = Field("target_rps", Kind.RATE, "20")
_DEFAULT_TIMEOUT_S = 10.0
_VERSION = 1
_PROFILES_FILE = ConfigFile(
    noun="load-profiles",
    top_keys="version, profiles and background",
    reference=DEFAULT_LOAD_PROFILES,
    depth_hint="load profiles are at most five levels deep",
    error=LoadProfileError,
)


class _ProfileReader(Reader):
    def document(self, root: MappingNode) -> tuple[tuple[LoadProfile, ...], dict[str, str]] | None:
        entries = self.entries(root, "")
        self.check_keys(entries, "", root, ("version", "profiles"), ("background",))
        version = self.version(entries.get("version"), _VERSION)
        node = self.mapping(entries.get("profiles"), "profiles")
        if node is None:
            return None
        profiles: list[LoadProfile] = []
        declared = self.entries(node, "profiles")
        for name, (key, value) in declared.items():
            profile = self.profile(name, key, value)
            if profile is not None:
                profiles.append(profile)
        if not node.value:
            self.add(node, "profiles", "expected at least one profile, saw none; add smoke")
        background = self.background(entries.get("background"), tuple(declared), profiles)
        if version is None or self.problems:
            return None
        return tuple(profiles), background

    def background(
        self, item: Entry | None, declared: tuple[str, ...], profiles: list[LoadProfile]
    ) -> dict[str, str]:
        """``background``: scenario profile -> a load profile with a target_rps.

        A profile that is declared but has problems of its own is not reported again."""
        if item is None:
            return {}
        node = self.mapping(item, "background")
        if node is None:
            return {}
        by_name = {p.name: p for p in profiles}
        result: dict[str, str] = {}
        for scenario, (key, value) in self.entries(node, "background").items():
            path = join_path("background", scenario)
            name = self.text((key, value), path)
            if name is None:
                continue
            profile = by_name.get(name)
            if name not in declared:
                self.unknown_name(value, path, "a load profile", name, declared)
            elif profile is None:
                continue
            elif profile.target_rps is None:
                self.add(
                    value,
                    path,
                    f"expected a profile with target_rps (the pace its steady state needs), "
                    f"saw profile {name} without one; add target_rps: to profiles.{name}",
                )
            else:
                result[scenario] = name
        return result

    def profile(self, name: str, key: ScalarNode, node: Node) -> LoadProfile | None:
        path = join_path("profiles", name)
        if not isinstance(node, MappingNode):
            self.add(node, path, f"expected a mapping, saw {describe(node)}; indent keys under it")
            return None
        entries = self.entries(node, path)
        self.check_keys(
            entries,
            path,
            key,
            ("users", "stages"),
            ("description", "request_timeout_s", "target_rps"),
        )
        description = ""
        if "description" in entries:
            description = self.text(entries["description"], join_path(path, "description")) or ""
        timeout = self.numbers_and_bools(entries, path, (_TIMEOUT, _TARGET))
        users = self.users(entries.get("users"), join_path(path, "users"))
        stages = self.stages(entries.get("stages"), join_path(path, "stages"))
        if timeout is None or users is None or stages is None:
            return None
        return LoadProfile(
            name=name,
            description=description,
            request_timeout_s=float(timeout.get(_TIMEOUT.key, _DEFAULT_TIMEOUT_S)),
            users=users,
            stages=stages,
            target_rps=None if _TARGET.key not in timeout else float(timeout[_TARGET.key]),
        )

    def users(self, item: Entry | None, path: str) -> tuple[UserMix, ...] | None:
        node = self.mapping(item, path)
        if item is None or node is None:
            return None
        known = tuple(role.value for role in UserRole)
        result: list[UserMix] = []
        sound = True
        for name, (key, value) in self.entries(node, path).items():
            if name not in known:
                self.unknown_name(key, join_path(path, name), "a warehouse user", name, known)
                sound = False
                continue
            mix = self.user_mix(UserRole(name), key, value, join_path(path, name))
            if mix is None:
                sound = False
            else:
                result.append(mix)
        if not node.value:
            self.add(node, path, "expected at least one user role, saw none; add picker")
            return None
        return tuple(result) if sound else None

    def user_mix(self, role: UserRole, key: ScalarNode, node: Node, path: str) -> UserMix | None:
        if not isinstance(node, MappingNode):
            self.add(node, path, f"expected a mapping, saw {describe(node)}; indent keys under it")
            return None
        fields = _ROLE_FIELDS[role]
        entries = self.entries(node, path)
        paced = "pace_s" in entries and role is not UserRole.ORDER_IMPORTER
        if paced:
            fields = tuple(f for f in fields if f not in _THINK)
        pace_key = () if role is UserRole.ORDER_IMPORTER else ("pace_s",)
        self.check_keys(entries, path, key, tuple(f.key for f in fields), pace_key)
        values = self.numbers_and_bools(entries, path, (*fields, _PACE) if paced else fields)
        if values is None or len(values) < len(fields) + paced:
            return None
        pace_s = float(values["pace_s"]) if paced else None
        think = (
            ThinkTime(0.0, 0.0)
            if pace_s is not None
            else ThinkTime(float(values["think_min_s"]), float(values["think_max_s"]))
        )
        if think.min_s > think.max_s:
            self.add(
                entries["think_min_s"][1],
                join_path(path, "think_min_s"),
                f"expected think_min_s <= think_max_s ({think.max_s:g}), saw {think.min_s:g}; "
                "swap or correct them",
            )
            return None
        picker = batches = None
        if role is UserRole.PICKER:
            picker = PickerTasks(int(values["scan_weight"]), int(values["pick_weight"]))
            if picker.scan_weight + picker.pick_weight == 0:
                self.add(
                    key,
                    join_path(path, "scan_weight"),
                    "expected a task weight above 0, saw scan_weight and pick_weight both 0; "
                    "give the picker something to do (scan_weight: 4)",
                )
                return None
        if role is UserRole.ORDER_IMPORTER:
            batches = OrderBatches(
                int(values["orders_per_batch"]),
                int(values["lines_per_order"]),
                float(values["batch_pause_s"]),
            )
        return UserMix(role, int(values["weight"]), think, picker, batches, pace_s)

    def stages(self, item: Entry | None, path: str) -> tuple[Stage, ...] | None:
        if item is None:
            return None
        _, node = item
        if not isinstance(node, SequenceNode) or not node.value:
            self.add(
                node,
                path,
                f"expected a non-empty list of stages, saw {describe(node)}; write "
                "- {duration_s: 60, users: 10, spawn_rate: 5}",
            )
            return None
        result: list[Stage] = []
        sound = True
        for index, member in enumerate(node.value):
            member_path = f"{path}[{index}]"
            if not isinstance(member, MappingNode):
                self.add(
                    member,
                    member_path,
                    f"expected a mapping, saw {describe(member)}; write "
                    "{duration_s: 60, users: 10, spawn_rate: 5}",
                )
                sound = False
                continue
            entries = self.entries(member, member_path)
            self.check_keys(entries, member_path, member, tuple(f.key for f in _STAGE))
            values = self.numbers_and_bools(entries, member_path, _STAGE)
            if values is None or len(values) < len(_STAGE):
                sound = False
                continue
            result.append(
                Stage(float(values["duration_s"]), int(values["users"]), int(values["spawn_rate"]))
            )
        return tuple(result) if sound else None
