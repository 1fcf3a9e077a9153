"""The compatibility diff: verdicts per role on single-change pairs, counterexamples, bad input."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Any

import pytest
from test_cli import run as _cli

from docmigrate import Family, jsonio
from docmigrate.cli import main
from docmigrate.evolution import diff_schemas, diff_versions, render
from docmigrate.validation import compile_schema

PAIRS = sorted((Path(__file__).parent / "data" / "evolution" / "pairs").glob("*.json"))
EXAMPLES = 60


def _pair(path: Path) -> dict[str, Any]:
    loaded: dict[str, Any] = jsonio.loads(path.read_bytes(), source=str(path))  # type: ignore[assignment]
    return loaded


def _valid(schema: Any, value: Any) -> bool:
    """Validate as docmigrate does (formats asserted), from the schema as written."""
    return bool(compile_schema(schema, "urn:test:pair").is_valid(value))


def test_pair_set_is_large_enough() -> None:
    """At least 15 single-change pairs with expected verdicts back the side-by-side table."""
    assert len(PAIRS) >= 15


@pytest.mark.parametrize("path", PAIRS, ids=[p.stem for p in PAIRS])
def test_pair_verdicts_match_expected(path: Path) -> None:
    """Each pair gets its expected verdict per role (undecided only where a pair says unproved)."""
    pair = _pair(path)
    diff = diff_schemas(pair["old"], pair["new"], examples=EXAMPLES)
    for role, expected in pair["expected"].items():
        got = diff.verdicts[role]
        if got == "undecided" and role in pair.get("unproved", []):
            assert expected == "compatible"
            continue
        assert got == expected, (role, [f.change.summary for f in diff.findings])


@pytest.mark.parametrize("path", PAIRS, ids=[p.stem for p in PAIRS])
def test_breaking_verdicts_carry_confirmed_counterexamples(path: Path) -> None:
    """A breaking verdict's document passes one version's validator and fails the other's."""
    pair = _pair(path)
    diff = diff_schemas(pair["old"], pair["new"], examples=EXAMPLES)
    checked = 0
    for finding in diff.findings:
        for role, example in finding.examples.items():
            source, target = (
                (pair["old"], pair["new"]) if role == "reader" else (pair["new"], pair["old"])
            )
            assert _valid(source, example) and not _valid(target, example)
            checked += 1
    breaking = sum(v == "breaking" for v in diff.verdicts.values())
    assert (checked > 0) == (breaking > 0)


def test_builtin_upgrade_lists_each_added_field_with_its_default(history: Family) -> None:
    """1.0 -> 1.1 breaks readers with the three loss-tracking fields and the version label."""
    diff = diff_versions(history, "1.0", "1.1", examples=EXAMPLES)
    assert diff.verdicts == {"reader": "breaking", "writer": "breaking"}
    added = {
        f.change.details["name"]: f.change.details["default"]
        for f in diff.findings
        if f.change.kind == "property-added"
    }
    assert added == {"production_status": "complete", "loss_quantity": 0, "losses": []}
    for finding in diff.findings:
        if finding.change.kind == "property-added":
            assert finding.change.instance_path == "$.production_runs[*]"
            assert finding.verdicts["reader"] == "breaking"
    assert {f.change.kind for f in diff.findings} >= {"const", "required", "property-added"}


def test_identical_versions_are_compatible(history: Family) -> None:
    """A version compared with itself has no change and is compatible both ways."""
    diff = diff_versions(history, "1.1", "1.1", examples=EXAMPLES)
    assert diff.findings == ()
    assert diff.verdicts == {"reader": "compatible", "writer": "compatible"}


@pytest.mark.parametrize(
    ("old", "new", "reason"),
    [
        (
            {"$schema": "https://example.com/my-draft", "type": "string"},
            {"type": "string"},
            "unknown draft",
        ),
        (
            {"type": "object"},
            {"$ref": "https://example.com/remote.json"},
            "cannot be compiled offline",
        ),
    ],
    ids=["unknown-draft", "remote-ref"],
)
def test_incomparable_schemas_are_undecided_with_a_reason(old: Any, new: Any, reason: str) -> None:
    """Schemas that cannot be compared give undecided with the reason, never a crash."""
    diff = diff_schemas(old, new, examples=5)
    assert diff.verdicts == {"reader": "undecided", "writer": "undecided"}
    assert reason in diff.reason
    assert reason in render(diff)


def test_unknown_keyword_change_is_undecided_not_compatible() -> None:
    """A changed keyword docmigrate does not know is never called compatible."""
    diff = diff_schemas({"x-rule": 1}, {"x-rule": 2}, examples=5)
    assert [f.change.kind for f in diff.findings] == ["keyword"]
    assert diff.verdicts["reader"] != "compatible" and diff.verdicts["writer"] != "compatible"


def test_drafts_are_compared_after_normalisation() -> None:
    """A Draft 7 tuple (array items) against a 2020-12 prefixItems is compared item by item."""
    old = {"$schema": "http://json-schema.org/draft-07/schema#", "items": [{"type": "integer"}]}
    new = {"prefixItems": [{"type": "integer", "minimum": 0}]}
    diff = diff_schemas(old, new, examples=EXAMPLES)
    assert diff.verdicts["reader"] == "breaking"
    assert diff.examples["reader"] is not None
    assert [f.change.instance_path for f in diff.findings] == ["$[0]"]


def test_cli_fail_on_exits_one_only_for_the_broken_role(
    capsys: pytest.CaptureFixture[str], make_family: Any
) -> None:
    """--fail-on reader exits 1 on a reader break, --fail-on writer 0 when writers are safe."""
    base = {"type": "object", "properties": {"v": {}, "items": {"type": "array"}}}
    narrower = {
        **base,
        "properties": {**base["properties"], "items": {"type": "array", "maxItems": 2}},
    }
    steps = '@upgrade("1", "2")\ndef up(doc):\n    return doc\n'
    folder = make_family({"1": base, "2": narrower}, steps)
    common = ("diff", "demo", "1", "2", "--family-path", str(folder), "--examples", "40")
    code, out, _ = _cli(capsys, *common, "--fail-on", "reader")
    assert code == 1 and "maxItems" in out
    code, _, _ = _cli(capsys, *common, "--fail-on", "writer")
    assert code == 0
    code, out, _ = _cli(capsys, *common, "--format", "json")
    report = json.loads(out)
    assert code == 0 and report["verdicts"] == {"reader": "breaking", "writer": "compatible"}
    assert len(report["counterexamples"]["reader"]["items"]) == 3


def test_cli_unknown_version_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    """A diff of a version the family lacks exits 2 with a one-line message."""
    code, _, err = _cli(capsys, "diff", "production-history", "1.0", "9.9")
    assert code == 2 and "not a known version" in err and "Traceback" not in err


def test_diff_without_hypothesis_says_what_to_install(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Diff draws with Hypothesis, an optional extra: without it, exit 2 and the pip line."""
    real_find_spec = importlib.util.find_spec

    def no_hypothesis(name: str, *args: object) -> object:
        return None if name == "hypothesis" else real_find_spec(name, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(importlib.util, "find_spec", no_hypothesis)
    with pytest.raises(SystemExit) as done:
        main(["diff", "production-history", "1.0", "1.1"])
    assert done.value.code == 2
    assert "pip install 'docmigrate[testing]'" in capsys.readouterr().err
