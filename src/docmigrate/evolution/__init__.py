"""Schema evolution: compatibility diffs, a lock on released versions, scaffolding.

Compatibility diffs come with counterexamples; ``new`` starts versions and families.

>>> from docmigrate.evolution import diff_versions
>>> diff = diff_versions(family, "1.0", "1.1")     # reader/writer verdicts, counterexamples

The diff draws counterexamples with Hypothesis (install ``docmigrate[testing]``); it is
imported on first use, so that loading a family (which checks its lock) stays light.
"""

from __future__ import annotations

from typing import Any

_LAZY = {
    "ROLES": "docmigrate.evolution.diff",
    "Diff": "docmigrate.evolution.diff",
    "Finding": "docmigrate.evolution.diff",
    "diff_schemas": "docmigrate.evolution.diff",
    "diff_versions": "docmigrate.evolution.diff",
    "render": "docmigrate.evolution.diff",
    "Change": "docmigrate.evolution.compare",
}


def __getattr__(name: str) -> Any:
    """Import the diff machinery only when it is asked for."""
    if name not in _LAZY:
        raise AttributeError(f"module 'docmigrate.evolution' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(_LAZY[name]), name)


__all__ = sorted(_LAZY)
