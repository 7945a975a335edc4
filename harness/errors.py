"""The harness's one error tree.

Every error the harness raises on purpose is a ``HarnessError``. Foreign exceptions
(OSError, httpx, psycopg, yaml) are translated at the boundary of the module that
meets them, so callers catch these classes only. Each message says what was
expected, what was seen and what to do next.

``exit_code`` is what ``odoo-resilience`` returns when the error ends a command
(DESIGN.md "Exit codes"): 1 verdict failure, 2 usage/configuration, 3 platform.
"""

from __future__ import annotations

from typing import ClassVar


class HarnessError(Exception):
    """Base of every error the harness raises on purpose."""

    exit_code: int = 1


class ConfigError(HarnessError):
    """Bad input from the user: a file, an option, a topology."""

    exit_code = 2


class ConfigFileError(ConfigError):
    """A config file has one or more problems; ``problems`` lists every one, located.

    Subclasses name what the file holds in ``subject`` for the one-line summary.
    """

    subject: ClassVar[str] = "the file"

    def __init__(self, path: str, problems: list[str]) -> None:
        self.path = path
        self.problems = list(problems)
        count = len(self.problems)
        noun = "problem" if count == 1 else "problems"
        body = "\n".join(f"  {p}" for p in self.problems)
        super().__init__(f"{path}: {count} {noun} in {self.subject}:\n{body}")


class ServiceLevelsError(ConfigFileError):
    """The service-levels file has one or more problems; all are listed."""

    subject = "the service levels"


class PlatformError(HarnessError):
    """The platform could not be brought up, reached or torn down."""

    exit_code = 3


class PrerequisiteMissing(PlatformError):
    """A binary, kernel feature or privilege the platform needs is not here."""


class PortInUse(PlatformError):
    """A port the platform must bind is already taken by another process."""


class ComponentFailed(PlatformError):
    """A component did not start or did not become ready in time."""


class FaultError(HarnessError):
    """A fault could not be injected, reverted or proven to have landed."""


class FaultDidNotLand(FaultError):
    """The fault had no measurable effect: the scenario cannot claim anything."""
