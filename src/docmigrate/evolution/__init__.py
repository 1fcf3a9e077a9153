"""Schema evolution: compatibility diffs with counterexamples, locks, scaffolding.

>>> from docmigrate.evolution import diff_versions
>>> diff = diff_versions(family, "1.0", "1.1")     # reader/writer verdicts, counterexamples
"""

from __future__ import annotations

from docmigrate.evolution.compare import Change
from docmigrate.evolution.diff import ROLES, Diff, Finding, diff_schemas, diff_versions, render

__all__ = ["ROLES", "Change", "Diff", "Finding", "diff_schemas", "diff_versions", "render"]
