"""The project's error types.

Every error says whether retrying can help (``retryable``), the way kopf separates
permanent from temporary errors: bad input is permanent (fix the spec), a solver or
network hiccup is temporary (try again later).
"""

from __future__ import annotations

from dataclasses import dataclass


class UpirError(Exception):
    """Base class of every error the library raises on purpose."""

    retryable: bool = False


class PermanentError(UpirError):
    """Retrying with the same input gives the same failure."""

    retryable = False


class TemporaryError(UpirError):
    """The same input may succeed later (timeouts, outages, conflicts)."""

    retryable = True


@dataclass(frozen=True, slots=True)
class FieldIssue:
    """One problem with one field of a resource.

    ``field`` is a dotted/indexed path such as ``spec.parameters[2].min``;
    ``position`` is a 0-based character offset inside that field's text, when the
    field holds an expression.
    """

    field: str
    message: str
    position: int | None = None

    def __str__(self) -> str:
        where = f" (at position {self.position})" if self.position is not None else ""
        return f"{self.field}: {self.message}{where}"


class InvalidSpecError(PermanentError):
    """The input is not a valid UPIR; ``issues`` lists every problem found."""

    def __init__(self, issues: list[FieldIssue] | tuple[FieldIssue, ...]) -> None:
        if not issues:
            raise ValueError("InvalidSpecError needs at least one issue")
        self.issues: tuple[FieldIssue, ...] = tuple(issues)
        super().__init__("; ".join(str(i) for i in self.issues))

    @classmethod
    def single(cls, field: str, message: str, position: int | None = None) -> InvalidSpecError:
        return cls([FieldIssue(field, message, position)])


class ExpressionError(InvalidSpecError):
    """An expression (predicate, assumption) failed to parse or type-check."""

    def __init__(self, field: str, message: str, position: int | None = None) -> None:
        super().__init__([FieldIssue(field, message, position)])

    @property
    def field(self) -> str:
        return self.issues[0].field

    @property
    def position(self) -> int | None:
        return self.issues[0].position


class SettingsError(PermanentError):
    """A setting (environment variable or config file entry) is malformed."""


class SolverError(TemporaryError):
    """The SMT solver failed in a way that is not a verdict (resource limits, crash)."""
