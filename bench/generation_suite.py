"""Sweep the JSON-Schema-Test-Suite with docmigrate's document generation, per draft.

    python bench/generation_suite.py [--examples N] [--draft draft2020-12] [--show-failures]

For each draft: groups attempted (those with a valid test), built (the family loader
accepted the schema), drew valid (at least one document drawn) and all drawn valid (every
drawn document accepted by jsonschema-rs and python-jsonschema; "rs only" counts the built
groups where python-jsonschema refuses the suite's own valid tests, so that only jsonschema-rs
is asked there). See tests/json_schema_suite.py.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from json_schema_suite import DRAFTS, attempt, groups


def main() -> int:
    """Run the sweep and print one line per draft (and the failures when asked)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=20)
    parser.add_argument("--draft", action="append", choices=list(DRAFTS))
    parser.add_argument("--show-failures", action="store_true")
    arguments = parser.parse_args()
    print(
        f"{'draft':14} {'attempted':>9} {'built':>6} {'drew valid':>10} {'all valid':>9}"
        f" {'rs only':>7}  seconds"
    )
    for draft in arguments.draft or list(DRAFTS):
        started = time.perf_counter()
        outcomes = [attempt(group, arguments.examples) for group in groups(draft)]
        built = sum(o.built for o in outcomes)
        drew = sum(o.drawn > 0 for o in outcomes)
        exact = sum(o.drawn > 0 and not o.invalid for o in outcomes)
        # Groups where python-jsonschema refuses the suite's own valid tests: jsonschema-rs alone.
        rs_only = sum(o.built and not o.second_opinion for o in outcomes)
        seconds = time.perf_counter() - started
        print(
            f"{draft:14} {len(outcomes):>9} {built:>6} {drew:>10} {exact:>9} {rs_only:>7}"
            f"  {seconds:7.1f}"
        )
        if arguments.show_failures:
            for outcome in outcomes:
                if outcome.drawn == 0 or outcome.invalid:
                    problem = outcome.invalid[0] if outcome.invalid else outcome.why
                    print(f"    {outcome.group.name}: {problem}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
