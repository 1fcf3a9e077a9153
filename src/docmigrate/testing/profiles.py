"""Hypothesis settings profiles for family tests: ``dev`` (quick) and ``ci`` (thorough).

They are registered as ``docmigrate-dev`` and ``docmigrate-ci`` (Hypothesis has a ``ci``
profile of its own) and chosen with the environment variable ``DOCMIGRATE_PROFILE=dev|ci``;
``dev`` is the default. Both turn the deadline off (a step over a big document may take a
while) and quiet the "too slow" and "filter too much" health checks.
"""

from __future__ import annotations

import os

from docmigrate.exceptions import ConfigurationError

PROFILE_VARIABLE = "DOCMIGRATE_PROFILE"
DEFAULT_PROFILE = "dev"
PROFILES = {"dev": 25, "ci": 200}
"""Examples per law in each profile."""


def hypothesis_name(name: str) -> str:
    """The name under which profile ``name`` (``dev`` or ``ci``) is registered with Hypothesis."""
    return f"docmigrate-{name}"


def chosen_profile() -> str | None:
    """The profile named by ``$DOCMIGRATE_PROFILE``, or ``None`` when the variable is unset.

    Raises ``ConfigurationError`` when it names no profile.
    """
    name = os.environ.get(PROFILE_VARIABLE)
    if not name:
        return None
    if name not in PROFILES:
        raise ConfigurationError(
            f"{PROFILE_VARIABLE}={name!r}: choose one of {', '.join(PROFILES)}"
        )
    return name


def active_profile() -> str:
    """The profile a test run should use: ``$DOCMIGRATE_PROFILE``, else ``dev``."""
    return chosen_profile() or DEFAULT_PROFILE


def register_profiles() -> None:
    """Register ``docmigrate-dev`` and ``docmigrate-ci`` with Hypothesis."""
    from hypothesis import HealthCheck, settings

    for name, examples in PROFILES.items():
        settings.register_profile(
            hypothesis_name(name),
            max_examples=examples,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        )


def load_profile(name: str | None = None) -> str | None:
    """Load profile ``name`` (default: ``$DOCMIGRATE_PROFILE``); return its Hypothesis name.

    ``name`` is ``dev`` or ``ci``; without one (and without the variable) nothing changes.
    An unknown name raises ``ConfigurationError``.
    """
    name = name or chosen_profile()
    if not name:
        return None
    if name not in PROFILES:
        raise ConfigurationError(f"profile {name!r}: choose one of {', '.join(PROFILES)}")
    from hypothesis import settings

    register_profiles()
    settings.load_profile(hypothesis_name(name))
    return hypothesis_name(name)


def current_hypothesis_profile() -> str:
    """The name of the settings profile Hypothesis has loaded right now."""
    from hypothesis import settings

    # get_current_profile_name is recent public API; older versions only have the attribute.
    getter = getattr(settings, "get_current_profile_name", None)
    if getter is not None:
        return str(getter())
    return str(getattr(settings, "_current_profile", None) or "default")


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
