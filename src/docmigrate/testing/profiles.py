"""Hypothesis settings profiles for family tests: ``dev`` (quick) and ``ci`` (thorough).

They are registered as ``docmigrate-dev`` and ``docmigrate-ci`` (Hypothesis has a ``ci``
profile of its own) and chosen with the environment variable ``DOCMIGRATE_PROFILE=dev|ci``.
Both turn the deadline off (a step over a big document may take a while) and quiet the
"too slow" and "filter too much" health checks.
"""

from __future__ import annotations

import os

PROFILE_VARIABLE = "DOCMIGRATE_PROFILE"
PROFILES = {"dev": 25, "ci": 200}
"""Examples per law in each profile."""


def register_profiles() -> None:
    """Register ``docmigrate-dev`` and ``docmigrate-ci`` with Hypothesis."""
    from hypothesis import HealthCheck, settings

    for name, examples in PROFILES.items():
        settings.register_profile(
            f"docmigrate-{name}",
            max_examples=examples,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        )


def load_profile(name: str | None = None) -> str | None:
    """Load profile ``name`` (default: ``$DOCMIGRATE_PROFILE``); return its Hypothesis name.

    ``name`` is ``dev`` or ``ci``; without one (and without the variable) nothing changes.
    """
    name = name or os.environ.get(PROFILE_VARIABLE)
    if not name:
        return None
    if name not in PROFILES:
        raise ValueError(f"{PROFILE_VARIABLE}={name!r}: choose one of {', '.join(PROFILES)}")
    from hypothesis import settings

    register_profiles()
    settings.load_profile(f"docmigrate-{name}")
    return f"docmigrate-{name}"


def quiet_profile() -> None:
    """Load a profile for command-line checks: no example database, deadline or line report."""
    from hypothesis import HealthCheck, Phase, settings

    settings.register_profile(
        "docmigrate-check",
        database=None,
        phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.target, Phase.shrink],
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    )
    settings.load_profile("docmigrate-check")
