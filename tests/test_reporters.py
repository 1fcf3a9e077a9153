"""The report formats: text, json (with its schema), GitHub annotations, JUnit XML and SARIF."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import jsonschema
import jsonschema_rs
import pytest
from conftest import DATA
from hypothesis import given
from hypothesis import strategies as st

from docmigrate import __version__
from docmigrate.reporters import (
    FORMATS,
    GITHUB_ANNOTATION_LIMIT,
    LISTED_ERRORS_PER_FILE,
    REPORT_FORMAT_VERSION,
    SARIF_SCHEMA_URI,
    SHOWN_ERRORS_PER_FILE,
    render,
    report_schema,
)
from docmigrate.reports import FileReport, Problem
from docmigrate.validation import compile_schema

SARIF_SCHEMA_PATH = DATA / "sarif" / "sarif-schema-2.1.0.json"
ANSI = re.compile("\x1b\\[[0-9;]*m")

ENUM_PATH = "$.production_runs[0].losses[0].loss_category"
ENUM = Problem(7, 29, ENUM_PATH, "'melted' is not one of 'scrap', 'rework'", "enum")
REQUIRED = Problem(3, 5, "$.production_runs[0]", "'uuid' is a required property", "required")


def valid() -> FileReport:
    return FileReport("data/good.json", "production-history", "1.1")


def invalid() -> FileReport:
    return FileReport("data/run 1.json", "production-history", "1.1", [ENUM, REQUIRED])


def broken() -> FileReport:
    return FileReport("data/broken.json", problems=[Problem(3, 24, "$", "Expecting value", "json")])


def undetected() -> FileReport:
    message = "no known family matches this document"
    return FileReport("data/other.json", problems=[Problem(1, 1, "$", message, "family")])


def sample() -> list[FileReport]:
    return [valid(), invalid(), broken(), undetected()]


@pytest.fixture(scope="module")
def report_validator() -> Any:
    schema = report_schema()
    return compile_schema(schema, schema["$id"])


@pytest.fixture(scope="module")
def sarif_schema() -> dict[str, Any]:
    schema: dict[str, Any] = json.loads(SARIF_SCHEMA_PATH.read_text(encoding="utf-8"))
    return schema


@pytest.fixture(scope="module")
def sarif_validator(sarif_schema: dict[str, Any]) -> Any:
    return jsonschema_rs.Draft7Validator(sarif_schema, validate_formats=True)


def assert_valid(validator: Any, instance: Any) -> None:
    errors = [f"{e.instance_path}: {e.message}" for e in validator.iter_errors(instance)]
    assert errors == []


def reports_from_json(document: dict[str, Any]) -> list[FileReport]:
    """Rebuild the FileReports a json report was made from."""
    return [
        FileReport(
            path=f["path"],
            family=f["family"],
            version=f["version"],
            problems=[
                Problem(e["line"], e["column"], e["json_path"], e["message"], e["keyword"])
                for e in f["errors"]
            ],
            target=f.get("target"),
            steps=f.get("steps", []),
            action=f.get("action", ""),
            output=f.get("output"),
            counts=f.get("counts", {}),
        )
        for f in document["files"]
    ]


# --- every format -----------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_format_ends_with_one_newline(fmt: str) -> None:
    """Each format returns the whole output, ending with exactly one newline."""
    out = render(sample(), fmt)
    assert out.endswith("\n")
    assert not out.endswith("\n\n")


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_format_renders_no_files(fmt: str) -> None:
    """An empty run renders in every format (json and sarif stay valid documents)."""
    out = render([], fmt)
    if fmt in ("json", "sarif"):
        json.loads(out)
    elif fmt == "junit":
        assert ET.fromstring(out).get("tests") == "0"
    else:
        assert out == "0 files, 0 invalid, 0 errors\n"


def test_unknown_format_is_refused() -> None:
    """An unknown format name is a ValueError naming the known ones."""
    with pytest.raises(ValueError, match="known: text, json, github, junit, sarif"):
        render(sample(), "xml")


@pytest.mark.parametrize("fmt", FORMATS)
def test_undecodable_file_names_still_encode(fmt: str) -> None:
    """A path holding a lone surrogate (an undecodable file name) still gives UTF-8 output."""
    report = FileReport("bad-\udcff.json", problems=[Problem(1, 1, "$", "Expecting value", "json")])
    render([report], fmt).encode("utf-8")


# --- text -------------------------------------------------------------------------------------


def test_text_lists_problems_per_file_then_a_summary() -> None:
    """Text: one `file:line:col: <json path>: message` line per problem, in order, then counts."""
    assert render(sample(), "text").splitlines() == [
        f"data/run 1.json:7:29: {ENUM_PATH}: 'melted' is not one of 'scrap', 'rework'",
        "data/run 1.json:3:5: $.production_runs[0]: 'uuid' is a required property",
        "data/broken.json:3:24: $: Expecting value",
        "data/other.json:1:1: $: no known family matches this document",
        "4 files, 3 invalid, 4 errors",
    ]


def test_text_valid_files_show_only_in_the_summary() -> None:
    """Text: valid files print nothing but the summary line."""
    assert render([valid(), valid()], "text") == "2 files, 0 invalid, 0 errors\n"


def test_text_has_no_ansi_codes_without_colour() -> None:
    """Text without colour holds no escape character, even when a message holds one."""
    hostile = FileReport("x.json", "f", "1", [Problem(1, 1, "$", "bad \x1b[31mred\x1b[0m", "enum")])
    out = render([*sample(), hostile], "text", color=False)
    assert "\x1b" not in out
    assert "bad \\x1b[31mred\\x1b[0m" in out


def test_text_colours_location_and_message_with_colour() -> None:
    """Text with colour: the location bold, the JSON path dim, the message red; same text."""
    out = render([invalid()], "text", color=True)
    first = out.splitlines()[0]
    assert first.startswith("\x1b[1mdata/run 1.json:7:29:\x1b[0m \x1b[2m")
    assert "\x1b[31m'melted' is not one of 'scrap', 'rework'\x1b[0m" in first
    assert ANSI.sub("", out) == render([invalid()], "text")


def test_text_keeps_one_line_per_problem() -> None:
    """Text: a message with newlines or control characters stays on its one line."""
    report = FileReport("x.json", "f", "1", [Problem(1, 2, "$", "one\ntwo\r\x00three", "enum")])
    assert render([report], "text").splitlines() == [
        "x.json:1:2: $: one\\ntwo\\r\\x00three",
        "1 file, 1 invalid, 1 error",
    ]


# --- json -------------------------------------------------------------------------------------


def test_report_schema_is_a_valid_2020_12_schema() -> None:
    """The shipped report schema is itself valid Draft 2020-12."""
    schema = report_schema()
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    jsonschema.Draft202012Validator.check_schema(schema)


def test_report_schema_describes_every_field() -> None:
    """Every object and property in the report schema carries a description."""
    undocumented = []

    def walk(node: Any, where: str) -> None:
        if isinstance(node, dict):
            if ("properties" in node or "type" in node or "const" in node) and (
                "description" not in node and where.count("/") > 0 and "items" not in where
            ):
                undocumented.append(where)
            for key, value in node.get("properties", {}).items():
                walk(value, f"{where}/properties/{key}")
            for key, value in node.get("$defs", {}).items():
                walk(value, f"{where}/$defs/{key}")

    schema = report_schema()
    assert "description" in schema
    walk(schema, "#")
    assert undocumented == []


def test_json_validates_against_its_schema(report_validator: Any) -> None:
    """The json output of every kind of report validates against report.schema.json."""
    assert_valid(report_validator, json.loads(render(sample(), "json")))


def test_json_round_trips_the_reports() -> None:
    """The json output holds all the data: the reports rebuild from it unchanged."""
    reports = sample()
    assert reports_from_json(json.loads(render(reports, "json"))) == reports


def test_json_shape_version_tool_and_summary() -> None:
    """The json output names its format version, the tool and version, and the counts."""
    document = json.loads(render(sample(), "json", tool_version="9.9.9"))
    assert document["format_version"] == REPORT_FORMAT_VERSION == 1
    assert document["tool"] == {"name": "docmigrate", "version": "9.9.9"}
    assert document["summary"] == {"files": 4, "invalid": 3, "errors": 4}
    assert json.loads(render([], "json"))["tool"]["version"] == __version__


def test_json_errors_carry_place_keyword_family_and_version() -> None:
    """Each json error carries line, column, JSON path, keyword, message, family and version."""
    files = json.loads(render(sample(), "json"))["files"]
    assert [f["valid"] for f in files] == [True, False, False, False]
    assert files[1]["errors"][0] == {
        "line": 7,
        "column": 29,
        "json_path": ENUM_PATH,
        "keyword": "enum",
        "message": "'melted' is not one of 'scrap', 'rework'",
        "family": "production-history",
        "version": "1.1",
    }
    assert files[2]["errors"][0]["keyword"] == "json"
    assert (files[3]["family"], files[3]["errors"][0]["family"]) == (None, None)


def test_json_upgrade_and_import_fields_appear_only_when_set(report_validator: Any) -> None:
    """Upgrade/import fields are absent for validate reports and kept when set."""
    upgraded = FileReport(
        "a.json",
        "production-history",
        "1.0",
        target="1.1",
        steps=["add_loss_tracking"],
        action="upgraded",
        output="out/a.json",
    )
    imported = FileReport("b.json", "production-history", "1.1", counts={"imported": 2})
    reports = [valid(), upgraded, imported]
    document = json.loads(render(reports, "json"))
    assert set(document["files"][0]) == {"path", "family", "version", "valid", "errors"}
    assert document["files"][1]["steps"] == ["add_loss_tracking"]
    assert document["files"][2]["counts"] == {"imported": 2}
    assert_valid(report_validator, document)
    assert reports_from_json(document) == reports


# --- github -----------------------------------------------------------------------------------


def test_github_annotation_shape() -> None:
    """GitHub: `::error file=,line=,col=,title=::<json path>: message`, then the summary."""
    assert render([invalid()], "github").splitlines() == [
        "::error file=data/run 1.json,line=3,col=5,"
        "title=docmigrate%3A production-history 1.1 required::"
        "$.production_runs[0]: 'uuid' is a required property",
        "::error file=data/run 1.json,line=7,col=29,"
        "title=docmigrate%3A production-history 1.1 enum::"
        f"{ENUM_PATH}: 'melted' is not one of 'scrap', 'rework'",
        "1 file, 1 invalid, 2 errors",
    ]


def test_github_escapes_data_and_properties() -> None:
    """GitHub: `%`, CR and LF escaped everywhere; `:` and `,` escaped in property values too."""
    report = FileReport(
        "dir,a:b%c.json", "fam", "1", [Problem(2, 4, "$.a", "50% off,\r\nnext: line", "type")]
    )
    line = render([report], "github").splitlines()[0]
    assert line == (
        "::error file=dir%2Ca%3Ab%25c.json,line=2,col=4,title=docmigrate%3A fam 1 type::"
        "$.a: 50%25 off,%0D%0Anext: line"
    )


def test_github_caps_annotations_at_ten_with_a_notice() -> None:
    """GitHub: at most 10 ::error lines, then one notice counting the rest, then the summary."""
    problems = [Problem(i, 1, f"$.items[{i}]", f"bad {i}", "type") for i in range(1, 26)]
    lines = render([FileReport("many.json", "f", "1", problems)], "github").splitlines()
    assert sum(line.startswith("::error ") for line in lines) == GITHUB_ANNOTATION_LIMIT
    assert lines[GITHUB_ANNOTATION_LIMIT] == (
        "::notice title=docmigrate::15 more error(s) not shown; "
        "run docmigrate validate locally for all of them"
    )
    assert lines[-1] == "1 file, 1 invalid, 25 errors"
    assert len(lines) == GITHUB_ANNOTATION_LIMIT + 2


def test_github_no_notice_at_exactly_ten() -> None:
    """GitHub: ten problems are all shown and no notice is printed."""
    problems = [Problem(i, 1, "$", f"bad {i}", "type") for i in range(1, 11)]
    out = render([FileReport("ten.json", "f", "1", problems)], "github")
    assert "::notice" not in out
    assert out.count("::error ") == 10


def test_github_orders_file_problems_then_shallow_paths() -> None:
    """GitHub: unreadable/undetected files first, then shallow JSON paths, else stable."""
    deep = Problem(1, 1, "$.a[0].b['c d'].e", "deep", "enum")
    shallow_late = Problem(9, 1, "$.z", "shallow late", "type")
    shallow_early = Problem(2, 1, "$.y", "shallow early", "type")
    middle = Problem(5, 1, "$.a[0]", "middle", "required")
    schema = FileReport("s.json", "f", "1", [deep, shallow_late, shallow_early, middle])
    version = FileReport("v.json", "f", None, [Problem(1, 12, "$.version", "unknown", "version")])
    reports = [schema, broken(), version, undetected()]
    messages = [
        line.rsplit("::", 1)[1]
        for line in render(reports, "github").splitlines()
        if line.startswith("::error")
    ]
    assert messages == [
        "$: Expecting value",
        "$: no known family matches this document",
        "$.version: unknown",
        "$.z: shallow late",
        "$.y: shallow early",
        "$.a[0]: middle",
        "$.a[0].b['c d'].e: deep",
    ]


def test_github_cap_keeps_the_most_relevant() -> None:
    """GitHub: when capped, the unreadable file's error is among the ten shown."""
    many = FileReport(
        "many.json", "f", "1", [Problem(i, 1, "$.a.b", "x", "type") for i in range(30)]
    )
    out = render([many, broken()], "github")
    assert out.splitlines()[0].startswith("::error file=data/broken.json,")
    assert "21 more error(s) not shown" in out


# --- junit ------------------------------------------------------------------------------------


def test_junit_structure_and_counts() -> None:
    """JUnit: testsuites with totals; one testsuite (tests=1) and one testcase per file."""
    root = ET.fromstring(render(sample(), "junit"))
    assert root.tag == "testsuites"
    assert (root.get("name"), root.get("tests"), root.get("failures"), root.get("errors")) == (
        "docmigrate",
        "4",
        "2",
        "1",
    )
    suites = root.findall("testsuite")
    assert [s.get("name") for s in suites] == [r.path for r in sample()]
    assert all(s.get("tests") == "1" and len(s.findall("testcase")) == 1 for s in suites)
    cases = [s.find("testcase") for s in suites]
    assert [c.get("classname") for c in cases if c is not None] == [
        "docmigrate.production-history",
        "docmigrate.production-history",
        "docmigrate.unknown",
        "docmigrate.unknown",
    ]
    assert [c.get("name") for c in cases if c is not None] == [r.path for r in sample()]


def test_junit_failure_for_schema_errors_error_for_unreadable_files() -> None:
    """JUnit: valid passes; schema/undetected problems fail; unreadable JSON is an <error>."""
    root = ET.fromstring(render(sample(), "junit"))
    outcomes = [
        [child.tag for child in case if child.tag in ("failure", "error")]
        for case in root.iter("testcase")
    ]
    assert outcomes == [[], ["failure"], ["error"], ["failure"]]
    suites = root.findall("testsuite")
    assert [(s.get("failures"), s.get("errors")) for s in suites] == [
        ("0", "0"),
        ("1", "0"),
        ("0", "1"),
        ("1", "0"),
    ]
    io = FileReport("gone.json", problems=[Problem(1, 1, "$", "cannot read the file", "io")])
    assert ET.fromstring(render([io], "junit")).find("testsuite/testcase/error") is not None


def test_junit_failure_lists_every_problem() -> None:
    """JUnit: the failure's text lists each problem as `line:col: json path: message`."""
    root = ET.fromstring(render([invalid()], "junit"))
    failure = root.find("testsuite/testcase/failure")
    assert failure is not None
    assert failure.get("type") == "enum"
    assert failure.get("message", "").startswith(f"7:29: {ENUM_PATH}: 'melted' is not one of")
    assert "(and 1 more)" in failure.get("message", "")
    assert (failure.text or "").splitlines() == [
        f"7:29: {ENUM_PATH}: 'melted' is not one of 'scrap', 'rework'"
        " [enum; production-history 1.1]",
        "3:5: $.production_runs[0]: 'uuid' is a required property"
        " [required; production-history 1.1]",
    ]
    properties = {p.get("name"): p.get("value") for p in root.iter("property")}
    assert properties == {"family": "production-history", "version": "1.1"}


def test_junit_stays_parseable_with_control_characters() -> None:
    """JUnit: characters XML 1.0 cannot hold are written as escapes, so readers can parse it."""
    report = FileReport("a\x01.json", "f", "1", [Problem(1, 1, "$", "nul \x00 esc \x1b", "enum")])
    failure = ET.fromstring(render([report], "junit")).find("testsuite/testcase/failure")
    assert failure is not None
    assert "nul \\x00 esc \\x1b" in (failure.text or "")


# --- sarif ------------------------------------------------------------------------------------


def test_vendored_sarif_schema_is_the_oasis_2_1_0_schema(sarif_schema: dict[str, Any]) -> None:
    """The vendored SARIF schema is the OASIS SARIF 2.1.0 (errata 01) draft-07 schema."""
    assert sarif_schema["$id"] == SARIF_SCHEMA_URI
    assert sarif_schema["$schema"] == "http://json-schema.org/draft-07/schema#"
    assert "SARIF" in sarif_schema["title"] and "2.1.0" in sarif_schema["title"]
    jsonschema.Draft7Validator.check_schema(sarif_schema)


def test_sarif_validates_against_the_official_schema(
    sarif_schema: dict[str, Any], sarif_validator: Any
) -> None:
    """SARIF output validates against the OASIS schema (jsonschema_rs and jsonschema)."""
    log = json.loads(render(sample(), "sarif"))
    assert_valid(sarif_validator, log)
    checker = jsonschema.Draft7Validator(
        sarif_schema, format_checker=jsonschema.Draft7Validator.FORMAT_CHECKER
    )
    assert [e.message for e in checker.iter_errors(log)] == []


def test_sarif_log_run_and_tool() -> None:
    """SARIF: $schema, version 2.1.0, one run whose driver is docmigrate at the given version."""
    log = json.loads(render(sample(), "sarif", tool_version="1.2.3"))
    assert log["$schema"] == SARIF_SCHEMA_URI
    assert log["version"] == "2.1.0"
    (run,) = log["runs"]
    assert run["tool"]["driver"]["name"] == "docmigrate"
    assert run["tool"]["driver"]["version"] == "1.2.3"
    assert run["columnKind"] == "unicodeCodePoints"


def test_sarif_one_rule_per_keyword() -> None:
    """SARIF: one rule per distinct keyword, `docmigrate/<keyword>`, referenced by results."""
    log = json.loads(render([invalid(), invalid(), broken(), undetected()], "sarif"))
    (run,) = log["runs"]
    rules = run["tool"]["driver"]["rules"]
    ids = [rule["id"] for rule in rules]
    assert sorted(ids) == [
        "docmigrate/enum",
        "docmigrate/family",
        "docmigrate/json",
        "docmigrate/required",
    ]
    assert all(rule["shortDescription"]["text"] for rule in rules)
    for result in run["results"]:
        assert rules[result["ruleIndex"]]["id"] == result["ruleId"]


def test_sarif_results_carry_location_and_properties() -> None:
    """SARIF: each result has level error, message, uri, region and the docmigrate properties."""
    (run,) = json.loads(render(sample(), "sarif"))["runs"]
    results = run["results"]
    assert len(results) == 4
    first = results[0]
    assert first["ruleId"] == "docmigrate/enum"
    assert first["level"] == "error"
    assert first["message"]["text"] == f"{ENUM_PATH}: 'melted' is not one of 'scrap', 'rework'"
    (location,) = first["locations"]
    physical = location["physicalLocation"]
    assert physical["artifactLocation"]["uri"] == "data/run%201.json"
    assert physical["region"] == {"startLine": 7, "startColumn": 29}
    assert location["logicalLocations"] == [{"fullyQualifiedName": ENUM_PATH}]
    assert first["properties"] == {
        "path": "data/run 1.json",
        "jsonPath": ENUM_PATH,
        "family": "production-history",
        "version": "1.1",
        "keyword": "enum",
    }
    assert results[2]["properties"]["family"] is None
    assert results[2]["ruleId"] == "docmigrate/json"


@pytest.mark.parametrize(
    ("path", "uri"),
    [
        ("data/a.json", "data/a.json"),
        ("data\\sub dir\\a.json", "data/sub%20dir/a.json"),
        ("c:colon.json", "c%3Acolon.json"),
        ("100%.json", "100%25.json"),
        ("données/é.json", "donn%C3%A9es/%C3%A9.json"),
        ("/abs/a#b?.json", "/abs/a%23b%3F.json"),
        ("C:\\work\\a.json", "file:///C:/work/a.json"),
        ("\\\\server\\share\\a.json", "file://server/share/a.json"),
        ("bad-\udcff.json", "bad-%FF.json"),
    ],
)
def test_sarif_artifact_uri(path: str, uri: str, sarif_validator: Any) -> None:
    """SARIF: paths become URI references with forward slashes, percent-encoded where needed."""
    report = FileReport(path, "f", "1", [Problem(1, 1, "$", "m", "enum")])
    log = json.loads(render([report], "sarif"))
    assert_valid(sarif_validator, log)
    physical = log["runs"][0]["results"][0]["locations"][0]["physicalLocation"]
    assert physical["artifactLocation"]["uri"] == uri
    if not uri.startswith("file:"):
        assert unquote(uri, errors="surrogateescape") == path.replace("\\", "/")


# --- properties -------------------------------------------------------------------------------

tricky_text = st.text(
    # Any character but lone surrogates (those are only written as escapes, see above).
    alphabet=st.one_of(
        st.characters(exclude_categories=["Cs"]), st.sampled_from("%\r\n,:;\\/ #?'\"é€😀")
    ),
    max_size=30,
)
keywords = st.one_of(
    st.sampled_from(["enum", "required", "type", "json", "io", "family", "version", ""]),
    tricky_text,
)
problems = st.builds(
    Problem,
    line=st.integers(1, 10**6),
    column=st.integers(1, 10**4),
    json_path=st.one_of(st.just("$"), tricky_text.map(lambda s: "$." + s)),
    message=tricky_text,
    keyword=keywords,
)
file_reports = st.builds(
    FileReport,
    path=tricky_text,
    family=st.one_of(st.none(), tricky_text),
    version=st.one_of(st.none(), tricky_text),
    problems=st.lists(problems, max_size=4),
)


@given(reports=st.lists(file_reports, max_size=14))
def test_outputs_stay_valid_for_any_reports(
    reports: list[FileReport], report_validator: Any, sarif_validator: Any
) -> None:
    """Any reports: json/SARIF fit their schemas, JUnit parses, GitHub commands stay one line."""
    document = json.loads(render(reports, "json"))
    assert_valid(report_validator, document)
    assert reports_from_json(document) == reports

    assert_valid(sarif_validator, json.loads(render(reports, "sarif")))

    root = ET.fromstring(render(reports, "junit"))
    assert root.get("tests") == str(len(reports))

    lines = render(reports, "github").removesuffix("\n").split("\n")
    total = sum(len(r.problems) for r in reports)
    shown = min(total, GITHUB_ANNOTATION_LIMIT)
    assert len(lines) == shown + (total > shown) + 1
    assert all(line.startswith(("::error file=", "::notice ")) for line in lines[:-1])
    assert not any("\r" in line for line in lines)
    assert lines[-1].endswith(f"{total} error" if total == 1 else f"{total} errors")


def test_sarif_schema_readme_names_its_source() -> None:
    """The vendored SARIF schema has a README naming OASIS and where the copy came from."""
    readme = (Path(SARIF_SCHEMA_PATH).parent / "README.md").read_text(encoding="utf-8")
    assert SARIF_SCHEMA_URI in readme
    assert "OASIS" in readme


# --- caps on errors per file ------------------------------------------------------------------


def many(path: str, count: int) -> FileReport:
    """A report for ``path`` with ``count`` distinct schema errors."""
    problems = [Problem(i + 2, 5, f"$.rows[{i}]", f"error {i}", "type") for i in range(count)]
    return FileReport(path, "production-history", "1.1", problems)


def test_text_shows_the_first_errors_of_a_file_then_how_many_more() -> None:
    """Text: at most SHOWN_ERRORS_PER_FILE lines per file, one `… and N more` line, full counts."""
    reports = [many("big.json", SHOWN_ERRORS_PER_FILE + 3), many("small.json", 2)]
    lines = render(reports, "text").splitlines()
    big = [line for line in lines if line.startswith("big.json:")]
    assert len(big) == SHOWN_ERRORS_PER_FILE + 1
    assert big[0] == "big.json:2:5: $.rows[0]: error 0"
    assert big[-2].endswith(f"error {SHOWN_ERRORS_PER_FILE - 1}")
    assert big[-1] == "big.json: … and 3 more errors in this file"
    assert lines[-3:] == [
        "small.json:2:5: $.rows[0]: error 0",
        "small.json:3:5: $.rows[1]: error 1",
        f"2 files, 2 invalid, {SHOWN_ERRORS_PER_FILE + 5} errors",
    ]


def test_text_no_more_line_at_exactly_the_cap() -> None:
    """Text: a file with exactly SHOWN_ERRORS_PER_FILE errors shows them all and no note."""
    lines = render([many("a.json", SHOWN_ERRORS_PER_FILE)], "text").splitlines()
    assert len(lines) == SHOWN_ERRORS_PER_FILE + 1
    assert not any("more errors" in line for line in lines)


def test_junit_failure_lists_the_first_errors_then_how_many_more() -> None:
    """JUnit: the failure text stops at SHOWN_ERRORS_PER_FILE lines plus a `… and N more` line."""
    report = many("big.json", SHOWN_ERRORS_PER_FILE + 50)
    failure = ET.fromstring(render([report], "junit")).find("testsuite/testcase/failure")
    assert failure is not None
    text = (failure.text or "").splitlines()
    assert len(text) == SHOWN_ERRORS_PER_FILE + 1
    assert text[0].startswith("2:5: $.rows[0]: error 0 [type;")
    assert text[-1] == "… and 50 more errors in this file"
    assert failure.get("message", "").endswith(f"(and {SHOWN_ERRORS_PER_FILE + 49} more)")


def test_json_lists_the_first_errors_and_counts_the_rest(report_validator: Any) -> None:
    """Json: at most LISTED_ERRORS_PER_FILE errors per file, `errors_omitted`, a full summary."""
    reports = [many("big.json", LISTED_ERRORS_PER_FILE + 7), many("exact.json", 3), valid()]
    document = json.loads(render(reports, "json"))
    big, exact, good = document["files"]
    assert len(big["errors"]) == LISTED_ERRORS_PER_FILE
    assert big["errors"][-1]["message"] == f"error {LISTED_ERRORS_PER_FILE - 1}"
    assert big["errors_omitted"] == 7
    assert "errors_omitted" not in exact and "errors_omitted" not in good
    assert document["summary"] == {"files": 3, "invalid": 2, "errors": LISTED_ERRORS_PER_FILE + 10}
    assert_valid(report_validator, document)


def test_json_lists_every_error_up_to_the_cap() -> None:
    """Json: a file with exactly LISTED_ERRORS_PER_FILE errors lists all and omits nothing."""
    (file,) = json.loads(render([many("a.json", LISTED_ERRORS_PER_FILE)], "json"))["files"]
    assert len(file["errors"]) == LISTED_ERRORS_PER_FILE
    assert "errors_omitted" not in file


def test_report_schema_documents_errors_omitted() -> None:
    """The report schema allows an optional positive `errors_omitted` and says what it counts."""
    file = report_schema()["$defs"]["file"]
    assert "errors_omitted" not in file["required"]
    assert file["properties"]["errors_omitted"]["minimum"] == 1
    assert f"{LISTED_ERRORS_PER_FILE:,}" in file["properties"]["errors"]["description"]


def test_sarif_lists_the_first_errors_and_counts_the_rest(sarif_validator: Any) -> None:
    """SARIF: at most LISTED_ERRORS_PER_FILE results per file; `errorsOmitted` counts the rest."""
    reports = [many("big.json", LISTED_ERRORS_PER_FILE + 2), many("small.json", 1)]
    log = json.loads(render(reports, "sarif"))
    (run,) = log["runs"]
    assert len(run["results"]) == LISTED_ERRORS_PER_FILE + 1
    assert run["results"][-1]["properties"]["path"] == "small.json"
    assert run["properties"] == {
        "files": 2,
        "invalid": 2,
        "errors": LISTED_ERRORS_PER_FILE + 3,
        "errorsOmitted": 2,
    }
    small = json.loads(render([many("a.json", 1)], "sarif"))
    assert "errorsOmitted" not in small["runs"][0]["properties"]
    assert_valid(sarif_validator, log)
