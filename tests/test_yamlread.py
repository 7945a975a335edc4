"""The located-YAML reader on its own: a two-key test file read through the public API."""

from __future__ import annotations

from pathlib import Path

import pytest
from yaml.nodes import MappingNode

from harness.errors import ConfigError, ConfigFileError
from harness.yamlread import (
    ConfigFile,
    Field,
    Kind,
    Reader,
    join_path,
    parse_document,
    read_text,
    suggest,
)

SOURCE = "probe.yaml"
_FIELDS = (
    Field("interval_s", Kind.SECONDS, "5"),
    Field("retries", Kind.COUNT, "3", allow_zero=True),
    Field("timeout_ms", Kind.MILLISECONDS, "800", minimum=100),
)


class ProbeFileError(ConfigFileError):
    subject = "the probe settings"


PROBE_FILE = ConfigFile(
    noun="probe-settings",
    top_keys="interval_s and retries",
    reference=Path("fixtures/probe.yaml"),
    depth_hint="probe settings are one level deep",
    error=ProbeFileError,
)


class ProbeReader(Reader):
    def settings(self, root: MappingNode) -> dict[str, float] | None:
        entries = self.entries(root, "")
        self.check_keys(entries, "", root, ("interval_s",), ("retries", "timeout_ms"))
        return self.optional_numbers(entries, "", _FIELDS)


def problems_of(text: str) -> list[str]:
    reader = ProbeReader()
    with pytest.raises(ProbeFileError) as caught:
        parse_document(text, SOURCE, PROBE_FILE, reader, reader.settings)
    assert caught.value.path == SOURCE
    return caught.value.problems


def test_a_sound_file_gives_its_values() -> None:
    reader = ProbeReader()
    values = parse_document(
        "interval_s: 2.5\nretries: 0\n", SOURCE, PROBE_FILE, reader, reader.settings
    )
    assert values == {"interval_s": 2.5, "retries": 0.0}
    assert reader.problems == []


def test_duplicate_keys_are_located_at_the_repeat() -> None:
    assert problems_of("interval_s: 5\nretries: 1\ninterval_s: 6\n") == [
        f"{SOURCE}:3:1: interval_s: expected each key once in a mapping, saw 'interval_s' "
        "again (first on line 1); delete one: YAML readers keep only the last silently"
    ]


def test_every_tab_in_indentation_is_located() -> None:
    message = (
        "(document): expected spaces, saw a tab character; YAML forbids tabs in indentation "
        "and around tokens: replace it with spaces"
    )
    assert problems_of("outer:\n\tinterval_s: 5\n \tretries: 1\n") == [
        f"{SOURCE}:2:1: {message}",
        f"{SOURCE}:3:2: {message}",
    ]


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        (
            "interval_s: 30s",
            "1:13: interval_s: expected a number of seconds, saw the string '30s'; "
            "write 30 (seconds, no unit, no quotes)",
        ),
        (
            "interval_s: 2 minutes",
            "1:13: interval_s: expected a number of seconds, saw the string '2 minutes'; "
            "write 120 (seconds, no unit, no quotes)",
        ),
        (
            "interval_s: 1\ntimeout_ms: 1.5s",
            "2:13: timeout_ms: expected a whole number of milliseconds, saw the string '1.5s'; "
            "write 1500 (milliseconds, no unit, no quotes)",
        ),
        (
            "interval_s: soon",
            "1:13: interval_s: expected a number of seconds, saw the string 'soon'; "
            "write it as a plain number, e.g. interval_s: 5",
        ),
        (
            "interval_s: 1\ntimeout_ms: 20",
            "2:13: timeout_ms: expected at least 100, saw 20; write 100 or more",
        ),
    ],
)
def test_a_number_written_with_a_unit_gets_the_plain_number_as_hint(
    line: str, problem: str
) -> None:
    assert problems_of(line + "\n") == [f"{SOURCE}:{problem}"]


def test_unknown_key_suggests_the_closest_and_missing_key_is_located_at_its_owner() -> None:
    assert problems_of("# probe\nintervall_s: 5\n") == [
        f"{SOURCE}:2:1: intervall_s: expected one of interval_s, retries, timeout_ms, saw "
        "unknown key 'intervall_s'; did you mean 'interval_s'?",
        f"{SOURCE}:2:1: interval_s: expected required key 'interval_s', saw none; add it here",
    ]


def test_suggestion_falls_back_to_the_known_names_or_the_hint_given() -> None:
    assert suggest("retry", ("retries", "interval_s")) == "did you mean 'retries'?"
    assert suggest("colour", ("retries",)) == "known keys: retries"
    assert suggest("colour", ("retries",), "delete it") == "delete it"


def test_paths_quote_keys_that_are_not_plain_words() -> None:
    assert join_path("", "flows") == "flows"
    assert join_path("flows", "p95_ms") == "flows.p95_ms"
    assert join_path("flows", "a b") == "flows.'a b'"


def test_whole_file_problems_name_the_reference() -> None:
    assert problems_of("# nothing\n") == [
        f"{SOURCE}:1:1: (document): expected a mapping with interval_s and retries, saw an "
        "empty document; start from a copy of fixtures/probe.yaml"
    ]
    assert problems_of("- 5\n") == [
        f"{SOURCE}:1:1: (document): expected a mapping with interval_s and retries at the "
        "top, saw a list; start from a copy of fixtures/probe.yaml"
    ]


def test_read_text_locates_a_byte_that_is_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "probe.yaml"
    path.write_bytes(b"interval_s: 5\nretries: \xff\n")
    with pytest.raises(ProbeFileError) as caught:
        read_text(path, PROBE_FILE)
    assert caught.value.problems == [
        f"{path}:2:10: (file): expected UTF-8 text, saw the byte 0xff; save the file as UTF-8"
    ]
    assert isinstance(caught.value, ConfigError)
    assert str(caught.value).startswith(f"{path}: 1 problem in the probe settings:\n  {path}:2:10")
