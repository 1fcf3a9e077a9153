"""The pytest plugin's Hypothesis profile in a user's own project (run through pytester)."""

from __future__ import annotations

import pytest

# A user's test that reports the settings Hypothesis will use for it.
PROFILE_PROBE = """
from hypothesis import settings

def test_profile():
    print("examples", settings.default.max_examples, "deadline", settings.default.deadline)
"""

MINE = """
from hypothesis import settings

# Explicit deadline: an inherited one would depend on what Hypothesis loaded first (its own
# `ci` profile when the CI variable is set).
settings.register_profile("mine", max_examples=7, deadline=321)
"""


@pytest.fixture
def project(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    """A user's project with one test printing the active settings, no docmigrate variable."""
    monkeypatch.delenv("DOCMIGRATE_PROFILE", raising=False)
    pytester.makepyfile(test_probe=PROFILE_PROBE)
    return pytester


def _run(project: pytest.Pytester, *args: str) -> pytest.RunResult:
    """Run the project's tests in a fresh interpreter, as its developer would."""
    return project.runpytest_subprocess("-p", "no:cacheprovider", "-s", *args)


def test_dev_profile_is_loaded_by_default(project: pytest.Pytester) -> None:
    """Without DOCMIGRATE_PROFILE a user's tests get docmigrate-dev: 25 examples, no deadline."""
    result = _run(project)

    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(
        [
            "docmigrate: Hypothesis profile 'dev' (the default: 25 examples, no deadline; "
            "DOCMIGRATE_PROFILE=ci for 200)",
            "*examples 25 deadline None",
        ]
    )


def test_dev_profile_replaces_the_one_hypothesis_picks_on_a_ci_service(
    project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On a CI service Hypothesis loads its own `ci` profile by itself; docmigrate-dev wins."""
    monkeypatch.setenv("CI", "true")
    project.makeconftest(
        """
        from hypothesis import settings

        CHOSEN = settings.get_current_profile_name()

        def pytest_report_header():
            return f"Hypothesis chose {CHOSEN!r} by itself"
        """
    )
    result = _run(project)

    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(
        [
            "docmigrate: Hypothesis profile 'dev' (the default*",
            "Hypothesis chose 'ci' by itself",
            "*examples 25 deadline None",
        ]
    )


def test_a_profile_loaded_in_the_users_conftest_is_kept(project: pytest.Pytester) -> None:
    """A project that loads its own profile in conftest.py keeps it, and the header says so."""
    project.makeconftest(MINE + 'settings.load_profile("mine")\n')

    result = _run(project)

    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(
        [
            "docmigrate: Hypothesis profile 'mine' (loaded by this project; "
            "DOCMIGRATE_PROFILE=dev|ci overrides it)",
            "*examples 7 deadline 0:00:00.321000",
        ]
    )


def test_hypothesis_profile_option_is_kept(project: pytest.Pytester) -> None:
    """`--hypothesis-profile NAME` wins over the docmigrate default."""
    project.makeconftest(MINE)

    result = _run(project, "--hypothesis-profile", "mine")

    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(
        [
            "docmigrate: Hypothesis profile 'mine' (from --hypothesis-profile)",
            "*examples 7 deadline 0:00:00.321000",
        ]
    )


def test_docmigrate_profile_variable_wins_over_the_users_conftest(
    project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """DOCMIGRATE_PROFILE=ci is an explicit choice for this run: 200 examples, no deadline."""
    project.makeconftest(MINE + 'settings.load_profile("mine")\n')
    monkeypatch.setenv("DOCMIGRATE_PROFILE", "ci")

    result = _run(project)

    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(
        ["docmigrate: Hypothesis profile 'ci'", "*examples 200 deadline None"]
    )


def test_unknown_docmigrate_profile_is_a_usage_error(
    project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """DOCMIGRATE_PROFILE=fast stops pytest with a one-line usage error naming the choices."""
    monkeypatch.setenv("DOCMIGRATE_PROFILE", "fast")

    result = _run(project)

    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: DOCMIGRATE_PROFILE='fast': choose one of dev, ci"])
    assert "Traceback" not in result.stderr.str() + result.stdout.str()
