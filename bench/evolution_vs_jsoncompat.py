"""Side by side: docmigrate's diff and jsoncompat on the pairs of tests/data/evolution/pairs.

    .venv/bin/python bench/evolution_vs_jsoncompat.py \
        --jsoncompat-python /tmp/jsoncompat-venv/bin/python --runs 5

jsoncompat (PyPI, needs Python >= 3.12) runs in its own interpreter, once per run: its search
is random, so the table shows every verdict it gave over the runs. Roles: reader =
jsoncompat's "deserializer", writer = its "serializer". The built-in family's 1.0 -> 1.1 is
the last row.
"""

from __future__ import annotations

import argparse
import json
import subprocess
from pathlib import Path
from typing import Any

from docmigrate import jsonio
from docmigrate.evolution import diff_schemas
from docmigrate.registry import Registry

ROOT = Path(__file__).parent.parent
PAIRS = ROOT / "tests" / "data" / "evolution" / "pairs"
ROLES = {"reader": "deserializer", "writer": "serializer"}
CHILD = """
import json, sys, jsoncompat
pairs = json.load(sys.stdin)
out = {}
for name, (old, new) in pairs.items():
    out[name] = {}
    for role, theirs in ROLES.items():
        result = jsoncompat.analyze_compat(old, new, theirs)
        out[name][role] = result["status"]
print(json.dumps(out))
""".replace("ROLES", repr(ROLES))


def _pairs() -> dict[str, dict[str, Any]]:
    pairs = {p.stem: json.loads(p.read_text()) for p in sorted(PAIRS.glob("*.json"))}
    family = Registry.discover(entry_points=False).get("production-history")
    pairs["builtin production-history 1.0 -> 1.1"] = {
        "old": json.loads(jsonio.dumps(family.schema("1.0"))),
        "new": json.loads(jsonio.dumps(family.schema("1.1"))),
        "expected": {"reader": "breaking", "writer": "breaking"},
    }
    return pairs


def _theirs(python: str, pairs: dict[str, dict[str, Any]]) -> dict[str, dict[str, str]]:
    texts = {n: (json.dumps(p["old"]), json.dumps(p["new"])) for n, p in pairs.items()}
    done = subprocess.run(
        [python, "-c", CHILD], input=json.dumps(texts), capture_output=True, text=True, check=True
    )
    answer: dict[str, dict[str, str]] = json.loads(done.stdout)
    return answer


def _short(status: str) -> str:
    return {"compatible": "compat", "incompatible": "BREAK", "breaking": "BREAK"}.get(
        status, status
    )


def main() -> None:
    """Print the table (Markdown)."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--jsoncompat-python", required=True)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--examples", type=int, default=200)
    args = parser.parse_args()
    pairs = _pairs()
    runs = [_theirs(args.jsoncompat_python, pairs) for _ in range(args.runs)]
    print(
        "| pair | expected reader/writer | docmigrate reader/writer | jsoncompat reader/writer "
        f"(over {args.runs} runs) |"
    )
    print("| --- | --- | --- | --- |")
    found = {"docmigrate": 0, "jsoncompat": 0}
    truly = 0
    for name, pair in pairs.items():
        ours = diff_schemas(pair["old"], pair["new"], examples=args.examples).verdicts
        cells = []
        for role in ("reader", "writer"):
            seen = sorted({_short(run[name][role]) for run in runs})
            cells.append("/".join(seen))
            if pair["expected"][role] == "breaking":
                truly += 1
                found["docmigrate"] += ours[role] == "breaking"
                found["jsoncompat"] += all(run[name][role] == "incompatible" for run in runs)
        expected = " / ".join(_short(pair["expected"][r]) for r in ("reader", "writer"))
        mine = " / ".join(_short(ours[r]) for r in ("reader", "writer"))
        print(f"| {name} | {expected} | {mine} | {' / '.join(cells)} |")
    print()
    print(
        f"breaking verdicts expected: {truly}; found by docmigrate: {found['docmigrate']}; "
        f"found by jsoncompat in every run: {found['jsoncompat']}"
    )


if __name__ == "__main__":
    main()
