"""Hostile family folders, settings and step code: clear errors and exit codes, never a traceback.

Every case is a real folder written in ``tmp_path`` and run through the command line in-process.
The document validated is invalid, so a run that wrongly ends well (exit 0) shows at once.
"""

from __future__ import annotations

import json
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from conftest import simple_schema
from test_cli import run

from docmigrate import jsonio

REMOTE = "https://example.com/elsewhere.json"
ITEM = "/properties/items/items"
"""Where the item schema of :func:`simple_schema` sits."""
ARRAY = "/properties/items"
"""Where the array schema of :func:`simple_schema` sits."""
FAMILY_TOML = 'name = "demo"\nversion_pointer = "/v"\n[detect]\nrequired = ["/items"]\n'
INVALID_DOCUMENT = '{"v": "1", "items": [{"id": 5}]}\n'
TWO_VERSIONS = {"1.schema.json": simple_schema("1"), "2.schema.json": simple_schema("2")}


@dataclass(frozen=True)
class Case:
    """One hostile input: files written over a sound family, and what the error must name."""

    name: str
    files: dict[str, Any]
    """Path (relative to the working folder) -> JSON value, text or bytes."""
    expect: tuple[str, ...]
    """Pieces the single error line must contain (besides the file's name)."""
    file: str = "1.schema.json"
    """The file the error must name."""


def _schema_with(where: str, **keywords: Any) -> dict[str, Any]:
    """simple_schema("1") with ``keywords`` added to the subschema at ``where``."""
    schema = simple_schema("1")
    node = schema
    for token in where.split("/")[1:]:
        node = node[token]
    node.update(keywords)
    return schema


def _schema_case(name: str, schema: Any, *expect: str) -> Case:
    return Case(name, {"fam/1.schema.json": schema}, expect)


def _remote_ref_cases() -> list[Case]:
    """A remote $ref in every kind of subschema location that Draft 2020-12 defines."""
    ref = {"$ref": REMOTE}
    placed = [
        (ITEM, "contentSchema", ref, ""),
        (ITEM, "dependencies", {"id": ref}, "/id"),
        (ITEM, "dependentSchemas", {"id": ref}, "/id"),
        (ITEM, "propertyNames", ref, ""),
        (ITEM, "unevaluatedProperties", ref, ""),
        (ITEM, "patternProperties", {"^x": ref}, "/^x"),
        (ITEM, "if", ref, ""),
        (ITEM, "then", ref, ""),
        (ITEM, "else", ref, ""),
        (ITEM, "not", ref, ""),
        (ITEM, "allOf", [ref], "/0"),
        (ITEM, "anyOf", [ref], "/0"),
        (ITEM, "oneOf", [ref], "/0"),
        (ARRAY, "prefixItems", [ref], "/0"),
        (ARRAY, "contains", ref, ""),
        (ARRAY, "unevaluatedItems", ref, ""),
        ("", "$defs", {"unit": ref}, "/unit"),
        ("", "definitions", {"unit": ref}, "/unit"),
        ("/properties", "extra", ref, ""),
        ("", "additionalProperties", ref, ""),
    ]
    cases = [
        _schema_case(
            f"remote-ref-in-{keyword}",
            _schema_with(where, **{keyword: value}),
            f"'{where}/{keyword}{suffix}'",
            "never fetches",
        )
        for where, keyword, value, suffix in placed
    ]
    items = simple_schema("1")
    items["properties"]["items"]["items"] = ref
    cases.append(_schema_case("remote-ref-as-items", items, f"'{ITEM}'", "never fetches"))
    cases.append(
        _schema_case(
            "remote-dynamic-ref",
            _schema_with(ITEM, **{"$dynamicRef": REMOTE}),
            f"'{ITEM}'",
            "never fetches",
        )
    )
    return cases


def _broken_schema_cases() -> list[Case]:
    """Schemas that are not JSON, not schemas, or that no validator can be built from."""
    return [
        _schema_case(
            "schema-keyword-is-a-number", _schema_with("", **{"$schema": 5}), "'/$schema'"
        ),
        _schema_case("schema-keyword-is-null", _schema_with("", **{"$schema": None}), "'/$schema'"),
        _schema_case(
            "schema-keyword-is-an-unsupported-draft",
            _schema_with("", **{"$schema": "http://json-schema.org/draft-03/schema#"}),
            "'/$schema'",
        ),
        _schema_case(
            "items-array-form",
            _schema_with(ARRAY, items=[{"$ref": REMOTE}]),
            f"'{ARRAY}/items'",
        ),
        _schema_case(
            "invalid-regex-in-pattern",
            _schema_with(ITEM + "/properties/id", pattern="(["),
            f"'{ITEM}/properties/id/pattern'",
            "regex",
        ),
        _schema_case(
            "invalid-regex-as-pattern-property",
            _schema_with(ITEM, patternProperties={"([": {}}),
            f"'{ITEM}/patternProperties'",
            "regex",
        ),
        _schema_case(
            "dangling-local-pointer",
            _schema_with(ITEM + "/properties/id", **{"$ref": "#/$defs/missing"}),
            f"'{ITEM}/properties/id'",
            "#/$defs/missing",
        ),
        _schema_case(
            "dangling-anchor",
            _schema_with(ITEM + "/properties/id", **{"$ref": "#nowhere"}),
            f"'{ITEM}/properties/id'",
            "#nowhere",
        ),
        _schema_case(
            "ref-that-is-not-a-uri",
            _schema_with(ITEM + "/properties/id", **{"$ref": "http://[bad"}),
            f"'{ITEM}/properties/id/$ref'",
        ),
        _schema_case(
            "embedded-id-that-is-not-a-uri",
            _schema_with(ITEM, **{"$id": "http://[bad"}),
            f"'{ITEM}/$id'",
        ),
        _schema_case(
            "root-id-that-is-not-a-uri",
            _schema_with("", **{"$id": "https://example.com/a b"}),
            "'/$id'",
        ),
        _schema_case(
            "relative-embedded-id-without-a-root-id",
            _schema_with("", **{"$defs": {"unit": {"$id": "unit.json", "type": "string"}}}),
            "'/$defs/unit/$id'",
            "unit.json",
        ),
        _schema_case(
            "default-rejected-by-its-schema",
            _schema_with(ITEM + "/properties/id", default=5),
            f"'{ITEM}/properties/id/default'",
        ),
        _schema_case(
            "default-under-root-id-with-empty-fragment",
            _schema_with("", **{"$id": "https://example.com/demo/1.json#"})
            | {"properties": {"v": {"const": "1", "default": "2"}, "items": {}}},
            "'/properties/v/default'",
            "rejected",
        ),
        _schema_case("schema-file-not-json", "{\n  oops\n}\n", "1.schema.json:2:3"),
        _schema_case("schema-file-not-utf8", b'{"type": "\xff"}', "UTF-8"),
        _schema_case(
            "schema-file-with-duplicate-keys", '{"type": "object", "type": "array"}', "duplicate"
        ),
        _schema_case("schema-file-too-deep", '{"not": ' * 300 + "{}" + "}" * 300, "nesting"),
        _schema_case("schema-file-is-an-array", [], "JSON object"),
        _schema_case("schema-file-is-a-string", '"schema"', "JSON object"),
        _schema_case("schema-file-is-true", True, "JSON object"),
    ]


def _steps(source: str) -> str:
    return "import sys\nfrom docmigrate import upgrade, downgrade\n" + textwrap.dedent(source)


def _steps_case(name: str, source: str, *expect: str) -> Case:
    files = {f"fam/{k}": v for k, v in TWO_VERSIONS.items()} | {"fam/steps.py": _steps(source)}
    return Case(name, files, expect, file="steps.py")


UP = '@upgrade("1", "2"{extra})\ndef one_to_two(doc):\n    return doc\n'


def _steps_cases() -> list[Case]:
    """steps.py files that cannot be imported, stop the interpreter, or declare broken steps."""
    return [
        _steps_case("steps-syntax-error", "def (:\n", "SyntaxError"),
        _steps_case("steps-raise-on-import", "raise RuntimeError('boom')\n", "boom"),
        _steps_case(
            "steps-sys-exit-3-on-import",
            "sys.exit(3)\n",
            "steps.py called sys.exit(3) while being imported",
        ),
        _steps_case(
            "steps-sys-exit-0-on-import",
            "sys.exit(0)\n",
            "steps.py called sys.exit(0) while being imported",
        ),
        _steps_case(
            "steps-bare-sys-exit-on-import",
            "sys.exit()\n",
            "steps.py called sys.exit() while being imported",
        ),
        _steps_case(
            "steps-base-exception-on-import",
            "class Stop(BaseException):\n    pass\nraise Stop('halt')\n",
            "Stop('halt')",
        ),
        _steps_case(
            "step-each-not-a-pointer",
            UP.format(extra=', each="items"'),
            "one_to_two",
            "each",
        ),
        _steps_case(
            "step-drops-not-a-pointer",
            UP.format(extra="")
            + '@downgrade("2", "1", drops=["id"])\ndef two_to_one(doc):\n    return doc\n',
            "two_to_one",
            "drops",
        ),
        _steps_case(
            "step-to-unknown-version",
            '@upgrade("1", "9")\ndef to_nine(doc):\n    return doc\n',
            "to_nine",
        ),
        _steps_case(
            "steps-in-a-cycle",
            UP.format(extra="") + '@upgrade("2", "1")\ndef back(doc):\n    return doc\n',
            "cycle",
        ),
    ]


def _toml_case(name: str, text: str | bytes, *expect: str) -> Case:
    return Case(name, {"fam/family.toml": text}, expect, file="family.toml")


def _family_toml_cases() -> list[Case]:
    """family.toml files that are not TOML or say something impossible."""
    return [
        _toml_case("family-toml-not-toml", 'name = "demo\n', "line 1"),
        _toml_case("family-toml-not-utf8", b'name = "d\xffmo"\n', "utf-8"),
        _toml_case("family-toml-name-not-a-string", "name = 5\n", "'name'"),
        _toml_case("family-toml-unknown-key", 'verison = "1"\n' + FAMILY_TOML, "verison"),
        _toml_case(
            "family-toml-version-pointer-not-a-pointer",
            FAMILY_TOML.replace('"/v"', '"v"'),
            "version_pointer",
        ),
        _toml_case(
            "family-toml-version-pointer-not-a-string",
            FAMILY_TOML.replace('"/v"', "5"),
            "version_pointer",
        ),
        _toml_case(
            "family-toml-default-version-without-schema",
            'default_version = "9"\n' + FAMILY_TOML,
            "default_version",
        ),
        _toml_case(
            "family-toml-detect-not-a-table",
            'name = "demo"\nversion_pointer = "/v"\ndetect = 5\n',
            "[detect]",
        ),
        _toml_case(
            "family-toml-detect-required-not-a-list",
            FAMILY_TOML.replace('["/items"]', '"/items"'),
            "[detect]",
        ),
        _toml_case(
            "family-toml-detect-required-not-a-pointer",
            FAMILY_TOML.replace('["/items"]', '["items"]'),
            "[detect] required",
        ),
        _toml_case(
            "family-toml-records-not-a-table",
            'name = "demo"\nversion_pointer = "/v"\nrecords = 5\n',
            "[records]",
        ),
        _toml_case(
            "family-toml-records-pointer-not-a-pointer",
            FAMILY_TOML + '[records]\npointer = "items"\n',
            "[records] pointer",
        ),
        _toml_case(
            "family-toml-records-key-not-a-string",
            FAMILY_TOML + "[records]\nkey = 5\n",
            "[records] key",
        ),
    ]


def _pyproject_case(name: str, text: str | bytes, *expect: str) -> Case:
    return Case(name, {"pyproject.toml": text}, expect, file="pyproject.toml")


def _pyproject_cases() -> list[Case]:
    """[tool.docmigrate] settings that are not TOML or not what docmigrate reads."""
    return [
        _pyproject_case("pyproject-tool-is-a-number", "tool = 1\n", "[tool]"),
        _pyproject_case("pyproject-docmigrate-is-a-number", "[tool]\ndocmigrate = 5\n", "table"),
        _pyproject_case(
            "pyproject-family-paths-is-a-string",
            '[tool.docmigrate]\nfamily-paths = "fam"\n',
            "family-paths",
        ),
        _pyproject_case(
            "pyproject-family-paths-holds-a-number",
            "[tool.docmigrate]\nfamily-paths = [1]\n",
            "family-paths",
        ),
        _pyproject_case(
            "pyproject-family-path-missing",
            '[tool.docmigrate]\nfamily-paths = ["missing"]\n',
            "family-paths",
            "missing",
        ),
        _pyproject_case("pyproject-not-toml", "[tool.docmigrate\n", "line 1"),
        _pyproject_case("pyproject-not-utf8", b'[tool.docmigrate]\nformat = "\xff"\n', "utf-8"),
        _pyproject_case(
            "pyproject-unknown-key", "[tool.docmigrate]\nfamily-path = []\n", "family-path"
        ),
        _pyproject_case(
            "pyproject-exclude-holds-a-number", "[tool.docmigrate]\nexclude = [1]\n", "exclude"
        ),
        _pyproject_case(
            "pyproject-unknown-format", '[tool.docmigrate]\nformat = "xml"\n', "format"
        ),
    ]


CASES = _remote_ref_cases() + _broken_schema_cases() + _steps_cases()
CASES += _family_toml_cases() + _pyproject_cases()


def _write(root: Path, files: dict[str, Any]) -> None:
    for relative, content in files.items():
        target = root / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            target.write_bytes(content)
        elif isinstance(content, str) and not relative.endswith(".schema.json"):
            target.write_text(content, encoding="utf-8")
        elif isinstance(content, str) and content.lstrip()[:1] in ("{", "[", '"'):
            target.write_text(content, encoding="utf-8")  # raw (possibly broken) JSON text
        else:
            target.write_text(json.dumps(content), encoding="utf-8")


def _sound_family(root: Path) -> None:
    _write(
        root,
        {
            "fam/family.toml": FAMILY_TOML,
            "fam/1.schema.json": simple_schema("1"),
            "doc.json": INVALID_DOCUMENT,
        },
    )


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
def test_hostile_input_is_one_error_line_and_exit_2(
    case: Case, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A broken family or setting: exit 2, one `docmigrate: error:` line naming file and place."""
    _sound_family(tmp_path)
    _write(tmp_path, case.files)
    monkeypatch.chdir(tmp_path)
    code, out, err = run(capsys, "validate", "doc.json", "--family-path", "fam")
    assert "Traceback" not in out + err
    assert "internal error" not in out + err
    assert code == 2, err
    assert out == ""
    [line] = err.splitlines()
    assert line.startswith("docmigrate: error: ")
    assert case.file in line
    for piece in case.expect:
        assert piece in line


def test_sound_family_of_the_table_reports_the_invalid_document(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Without a hostile change the table's family loads and its document is invalid (exit 1)."""
    _sound_family(tmp_path)
    monkeypatch.chdir(tmp_path)
    code, out, _ = run(capsys, "validate", "doc.json", "--family-path", "fam")
    assert code == 1
    assert "$.items[0].id" in out


# --- user code that stops the interpreter (sys.exit, KeyboardInterrupt, other BaseExceptions)

STOPPING_STEP = """
@upgrade("1", "2", each="/items")
def one_to_two(item):
    if item["id"] == "stop":
        {stop}
    return item
"""


def _upgradable_family(root: Path, stop: str) -> tuple[Path, Path]:
    """A 1 -> 2 family whose step runs ``stop`` on items with id "stop"; two 1 documents."""
    _write(root, {f"fam/{k}": v for k, v in TWO_VERSIONS.items()})
    _write(
        root,
        {
            "fam/family.toml": FAMILY_TOML,
            "fam/steps.py": _steps(STOPPING_STEP.replace("{stop}", stop)),
            "docs/a-stops.json": '{"v": "1", "items": [{"id": "stop"}]}\n',
            "docs/b-fine.json": '{"v": "1", "items": [{"id": "fine"}]}\n',
        },
    )
    return root / "docs" / "a-stops.json", root / "docs" / "b-fine.json"


@pytest.mark.parametrize(
    ("stop", "expect"),
    [
        ("sys.exit(0)", "called sys.exit(0)"),
        ("sys.exit('bye')", "called sys.exit('bye')"),
        ("raise GeneratorExit('odd')", "GeneratorExit: odd"),
    ],
)
@pytest.mark.parametrize("workers", ["1", "2"])
def test_step_that_stops_fails_its_file_and_others_proceed(
    stop: str,
    expect: str,
    workers: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """sys.exit or another BaseException in a step fails that file (exit 1); others upgrade."""
    stopping, fine = _upgradable_family(tmp_path, stop)
    before = stopping.read_bytes()
    monkeypatch.chdir(tmp_path)
    code, out, err = run(
        capsys,
        "upgrade",
        "docs",
        "--in-place",
        "--family-path",
        "fam",
        "--workers",
        workers,
        "--format",
        "json",
    )
    assert "Traceback" not in out + err
    assert code == 1
    assert stopping.read_bytes() == before
    assert jsonio.load_path(fine).value["v"] == "2"
    reports = {Path(r["path"]).name: r for r in json.loads(out)["files"]}
    [problem] = reports["a-stops.json"]["problems"]
    assert expect in problem["message"]
    assert problem["keyword"] == "StepFailedError"
    assert problem["json_path"] == "$.items[0]"


def test_ctrl_c_in_a_step_aborts_the_whole_run_with_exit_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A KeyboardInterrupt in a step is taken for Ctrl-C: the run stops (exit 2), files intact."""
    stopping, fine = _upgradable_family(tmp_path, "raise KeyboardInterrupt")
    before = {p: p.read_bytes() for p in (stopping, fine)}
    monkeypatch.chdir(tmp_path)
    code, out, err = run(
        capsys, "upgrade", "docs", "--in-place", "--family-path", "fam", "--workers", "1"
    )
    assert "Traceback" not in out + err
    assert code == 2
    assert "aborted" in err
    assert {p: p.read_bytes() for p in before} == before  # the stopping file sorts first


def test_ctrl_c_while_importing_steps_aborts_with_exit_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A KeyboardInterrupt while steps.py is imported stops validate (exit 2), not exit 0."""
    _sound_family(tmp_path)
    _write(tmp_path, {"fam/steps.py": _steps("raise KeyboardInterrupt\n")})
    monkeypatch.chdir(tmp_path)
    code, out, err = run(capsys, "validate", "doc.json", "--family-path", "fam")
    assert "Traceback" not in out + err
    assert code == 2
    assert "aborted" in err


def test_steps_calling_sys_exit_on_import_stops_upgrade_with_exit_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """sys.exit(0) while steps.py is imported makes upgrade exit 2, writing nothing."""
    stopping, fine = _upgradable_family(tmp_path, "pass")
    (tmp_path / "fam" / "steps.py").write_text(_steps("sys.exit(0)\n"), encoding="utf-8")
    before = {p: p.read_bytes() for p in (stopping, fine)}
    monkeypatch.chdir(tmp_path)
    code, out, err = run(capsys, "upgrade", "docs", "--in-place", "--family-path", "fam")
    assert "Traceback" not in out + err
    assert code == 2
    assert "steps.py called sys.exit(0) while being imported" in err
    assert {p: p.read_bytes() for p in before} == before
