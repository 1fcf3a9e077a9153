"""Step coverage: whether each upgrade step repairs every reader-breaking change of its edge.

For each upgrade step, the diff of its two versions lists the changes that break readers,
each with a counterexample document valid at the source. The step is run on each (as the
migrator runs it, output validated at the target); a change whose counterexample still fails
is not covered.
"""

from __future__ import annotations

from dataclasses import dataclass

from docmigrate import jsonio
from docmigrate.evolution.diff import Finding, diff_versions
from docmigrate.exceptions import DocmigrateError
from docmigrate.family import Family, Step
from docmigrate.migrator import run_step


@dataclass(frozen=True)
class Coverage:
    """One upgrade step and the reader-breaking changes it repairs or leaves broken."""

    step: Step
    covered: tuple[Finding, ...]
    uncovered: tuple[tuple[Finding, str], ...]
    """Each change the step leaves broken, with what went wrong on its counterexample."""


def step_coverage(family: Family, *, examples: int | None = None) -> list[Coverage]:
    """Check every upgrade step of ``family`` against its edge's counterexamples."""
    results = []
    for step in family.upgrades:
        diff = diff_versions(family, step.source, step.target, examples=examples)
        covered, uncovered = [], []
        for finding in diff.reader_breaking():
            problem = _run(family, step, finding)
            if problem is None:
                covered.append(finding)
            else:
                uncovered.append((finding, problem))
        results.append(Coverage(step, tuple(covered), tuple(uncovered)))
    return results


def _run(family: Family, step: Step, finding: Finding) -> str | None:
    document = jsonio.clone(finding.examples["reader"])
    try:
        run_step(document, family, step)
    except DocmigrateError as error:
        return str(error).splitlines()[0]
    except Exception as error:  # the family's own step code failing in any way
        return f"{step.name} raised {error!r}"
    return None
