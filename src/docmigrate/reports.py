"""What the file-level commands found, as data (rendering lives in the command line)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Problem:
    """One problem in one file, placed by line and column and by JSON path."""

    line: int
    column: int
    json_path: str
    message: str
    keyword: str = ""
    """The schema keyword that failed, or the kind of problem (``json``, ``version``, ...)."""


@dataclass
class FileReport:
    """The outcome for one file."""

    path: str
    family: str | None = None
    version: str | None = None
    problems: list[Problem] = field(default_factory=list)
    target: str | None = None
    steps: list[str] = field(default_factory=list)
    action: str = ""
    """For upgrades: ``upgraded``, ``unchanged``, ``copied``, ``would upgrade`` or ``""``; for
    imports what the store did (see :func:`docmigrate.transfer.import_action`)."""
    output: str | None = None
    counts: dict[str, int] = field(default_factory=dict)
    backup: str | None = None
    """For upgrades with ``--backup``: where the original was kept."""
    sha256_before: str | None = None
    sha256_after: str | None = None
    diff: str = ""
    """For upgrades with ``--diff``: the unified diff. ``counts``, for imports: records
    ``imported``, ``skipped``, ``replaced`` and ``removed``."""
    pipeline: str = ""
    """How the file was read: ``streaming`` (record by record), or ``in memory: <why>``."""

    @property
    def ok(self) -> bool:
        """Tell whether the file had no problem."""
        return not self.problems
