"""Rendering what ``docmigrate validate`` found in the formats people and CI systems read.

One entry point, :func:`render`, turns a sequence of :class:`~docmigrate.reports.FileReport`
into the whole output of one format, ending with a newline:

``text``
    ``file:line:col: <json path>: message`` per problem, grouped per file in the order given,
    then one summary line. Colour (ANSI) only when asked for.
``json``
    One object whose shape is versioned by ``format_version`` and described, field by field,
    by the JSON Schema shipped beside this module (``report.schema.json``, see
    :func:`report_schema`).
``github``
    GitHub Actions workflow commands (``::error file=...,line=...,col=...,title=...::...``),
    at most :data:`GITHUB_ANNOTATION_LIMIT` of them, the most relevant first, then a notice
    when some were left out and a plain summary line.
``junit``
    JUnit XML: one ``<testsuite>`` per file holding one ``<testcase>`` for its document;
    a ``<failure>`` when it breaks its schema, an ``<error>`` when it could not be read.
``sarif``
    SARIF 2.1.0, one run, one rule per keyword, one result per problem.

Every problem in every format carries its line and column, its JSON path, the family and
version the file was checked against, and the keyword that failed (or the kind of problem).

A file can hold many thousands of errors, so what is shown of each file is capped: ``text``
and ``junit`` show its first :data:`SHOWN_ERRORS_PER_FILE` errors and then a line
``… and N more errors in this file``; ``json`` and ``sarif`` list its first
:data:`LISTED_ERRORS_PER_FILE`, and ``json`` gives the number left out as ``errors_omitted``
(``sarif`` as the run property ``errorsOmitted``). ``github`` shows at most
:data:`GITHUB_ANNOTATION_LIMIT` in all. Summary counts always count every error.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import quote

from docmigrate import __version__
from docmigrate.display import count, visible
from docmigrate.reports import FileReport, Problem

__all__ = [
    "FORMATS",
    "GITHUB_ANNOTATION_LIMIT",
    "LISTED_ERRORS_PER_FILE",
    "REPORT_FORMAT_VERSION",
    "SARIF_SCHEMA_URI",
    "SHOWN_ERRORS_PER_FILE",
    "encodable",
    "problem_lines",
    "render",
    "report_schema",
    "summary_line",
]

FORMATS = ("text", "json", "github", "junit", "sarif")
"""The names :func:`render` accepts, the default first."""

REPORT_FORMAT_VERSION = 1
"""The version of the ``json`` format's shape; it changes only when that shape does."""

GITHUB_ANNOTATION_LIMIT = 10
"""GitHub shows at most this many error annotations per step."""

SHOWN_ERRORS_PER_FILE = 100
"""``text`` and ``junit`` show at most this many errors of one file, then how many more."""

LISTED_ERRORS_PER_FILE = 10_000
"""``json`` and ``sarif`` list at most this many errors of one file and count the rest."""

SARIF_SCHEMA_URI = (
    "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
)

TOOL_NAME = "docmigrate"

# Problems about the file as a whole (it could not be read, or its family or version could not
# be told): shown before schema errors where only a few can be shown.
_FILE_KEYWORDS = frozenset({"json", "io", "family", "version"})
# The file never became a document: JUnit calls that an error rather than a failure.
_UNREADABLE_KEYWORDS = frozenset({"json", "io"})

_RULE_DESCRIPTIONS = {
    "json": "The file is not readable JSON.",
    "io": "The file cannot be read.",
    "family": "The document's family cannot be told.",
    "version": "The document's version is missing or unknown.",
    "required": "A required property is missing.",
    "enum": "The value is not one of the allowed values.",
    "const": "The value is not the one allowed value.",
    "type": "The value has the wrong type.",
    "format": "The value does not match its format.",
    "pattern": "The value does not match its pattern.",
    "additionalProperties": "The object has a property the schema does not allow.",
    "unevaluatedProperties": "The object has a property the schema does not allow.",
}

_JSON_PATH_STEP = re.compile(r"\.[^.\[]+|\[\d+\]|\['(?:[^'\\]|\\.)*'\]")

_RESET = "\x1b[0m"
_BOLD = "\x1b[1m"
_DIM = "\x1b[2m"
_RED = "\x1b[31m"


def render(
    reports: Sequence[FileReport],
    fmt: str,
    *,
    color: bool = False,
    tool_version: str = __version__,
) -> str:
    """Render ``reports`` in the format ``fmt`` (one of :data:`FORMATS`), ending with a newline.

    ``color`` applies to ``text`` only: the caller decides (a terminal, and no ``NO_COLOR``).
    ``tool_version`` is the version the ``json`` and ``sarif`` outputs name.
    """
    renderers: dict[str, Callable[[Sequence[FileReport]], str]] = {
        "text": lambda r: _render_text(r, color=color),
        "json": lambda r: _render_json(r, tool_version),
        "github": _render_github,
        "junit": _render_junit,
        "sarif": lambda r: _render_sarif(r, tool_version),
    }
    try:
        renderer = renderers[fmt]
    except KeyError:
        raise ValueError(f"unknown report format {fmt!r} (known: {', '.join(FORMATS)})") from None
    return renderer(reports)


def report_schema() -> dict[str, Any]:
    """The JSON Schema (Draft 2020-12) of the ``json`` format, as shipped with the package."""
    from importlib import resources  # only the schema's readers need it

    text = resources.files("docmigrate").joinpath("report.schema.json").read_text("utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


def summary_line(reports: Sequence[FileReport]) -> str:
    """One line counting files, invalid files and problems: ``N files, M invalid, K errors``.

    Nouns agree with their numbers (``1 file, 1 invalid, 1 error``).
    """
    files, invalid, errors = _counts(reports)
    return f"{count(files, 'file')}, {invalid} invalid, {count(errors, 'error')}"


# --- text -------------------------------------------------------------------------------------


def _render_text(reports: Sequence[FileReport], *, color: bool) -> str:
    lines = [line for report in reports for line in problem_lines(report, color=color)]
    lines.append(summary_line(reports))
    return "\n".join(lines) + "\n"


def problem_lines(report: FileReport, *, color: bool = False) -> list[str]:
    """One file's problems as ``file:line:col: <json path>: message`` lines, escaped.

    Only the first :data:`SHOWN_ERRORS_PER_FILE` are listed, then one line saying how many
    more there are.
    """
    lines = []
    path = visible(report.path)
    shown, left_out = _first(report.problems, SHOWN_ERRORS_PER_FILE)
    for problem in shown:
        location = f"{path}:{problem.line}:{problem.column}:"
        where = f"{visible(problem.json_path)}:"
        message = visible(problem.message)
        if color:
            location = f"{_BOLD}{location}{_RESET}"
            where = f"{_DIM}{where}{_RESET}"
            message = f"{_RED}{message}{_RESET}"
        lines.append(f"{location} {where} {message}")
    if left_out:
        lines.append(f"{path}: {_more_errors(left_out)}")
    return lines


# --- json -------------------------------------------------------------------------------------


def _render_json(reports: Sequence[FileReport], tool_version: str) -> str:
    files, invalid, errors = _counts(reports)
    document = {
        "format_version": REPORT_FORMAT_VERSION,
        "tool": {"name": TOOL_NAME, "version": tool_version},
        "summary": {"files": files, "invalid": invalid, "errors": errors},
        "files": [_file_object(report) for report in reports],
    }
    return json.dumps(encodable(document), indent=2, ensure_ascii=False) + "\n"


def _file_object(report: FileReport) -> dict[str, Any]:
    listed, left_out = _first(report.problems, LISTED_ERRORS_PER_FILE)
    item: dict[str, Any] = {
        "path": report.path,
        "family": report.family,
        "version": report.version,
        "valid": report.ok,
        "errors": [
            {
                "line": problem.line,
                "column": problem.column,
                "json_path": problem.json_path,
                "keyword": problem.keyword,
                "message": problem.message,
                "family": report.family,
                "version": report.version,
            }
            for problem in listed
        ],
    }
    # Absent unless the errors were capped, and what `upgrade` and `import` add.
    optional: dict[str, Any] = {
        "errors_omitted": left_out,
        "target": report.target,
        "steps": list(report.steps),
        "action": report.action,
        "output": report.output,
        "counts": dict(report.counts),
        "pipeline": report.pipeline,
    }
    item.update({key: value for key, value in optional.items() if value})
    return item


# --- github -----------------------------------------------------------------------------------


def _render_github(reports: Sequence[FileReport]) -> str:
    ranked = sorted(
        ((report, problem) for report in reports for problem in report.problems),
        key=lambda pair: relevance(pair[1]),
    )
    lines = []
    for report, problem in ranked[:GITHUB_ANNOTATION_LIMIT]:
        properties = ",".join(
            f"{name}={_github_property(value)}"
            for name, value in (
                ("file", report.path),
                ("line", str(problem.line)),
                ("col", str(problem.column)),
                ("title", _title(report, problem)),
            )
        )
        message = _github_data(f"{problem.json_path}: {problem.message}")
        lines.append(f"::error {properties}::{message}")
    left_out = len(ranked) - GITHUB_ANNOTATION_LIMIT
    if left_out > 0:
        lines.append(
            f"::notice title={TOOL_NAME}::{left_out} more error(s) not shown; "
            f"run docmigrate validate locally for all of them"
        )
    lines.append(summary_line(reports))
    return "\n".join(lines) + "\n"


def relevance(problem: Problem) -> tuple[int, int]:
    """Whole-file problems first, then shallow JSON paths before deep ones (sort is stable)."""
    return (0 if problem.keyword in _FILE_KEYWORDS else 1, _depth(problem.json_path))


def _depth(json_path: str) -> int:
    return len(_JSON_PATH_STEP.findall(json_path.removeprefix("$")))


def _title(report: FileReport, problem: Problem) -> str:
    parts = [report.family or "unknown family"]
    if report.version:
        parts.append(report.version)
    parts.append(problem.keyword or "error")
    return f"{TOOL_NAME}: {' '.join(parts)}"


def _github_data(value: str) -> str:
    """Escape a workflow command's message (GitHub's ``escapeData``)."""
    return _encodable_text(value).replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _github_property(value: str) -> str:
    """Escape a workflow command's property value (GitHub's ``escapeProperty``)."""
    return _github_data(value).replace(":", "%3A").replace(",", "%2C")


# --- junit ------------------------------------------------------------------------------------


def _render_junit(reports: Sequence[FileReport]) -> str:
    import xml.etree.ElementTree as ET  # only this format needs it

    failures = sum(1 for r in reports if r.problems and not _unreadable(r))
    errors = sum(1 for r in reports if _unreadable(r))
    root = ET.Element(
        "testsuites",
        {
            "name": TOOL_NAME,
            "tests": str(len(reports)),
            "failures": str(failures),
            "errors": str(errors),
        },
    )
    for report in reports:
        path = visible(report.path)
        unreadable = _unreadable(report)
        suite = ET.SubElement(
            root,
            "testsuite",
            {
                "name": path,
                "tests": "1",
                "failures": str(int(bool(report.problems) and not unreadable)),
                "errors": str(int(unreadable)),
                "skipped": "0",
            },
        )
        properties = ET.SubElement(suite, "properties")
        for name, value in (("family", report.family), ("version", report.version)):
            ET.SubElement(properties, "property", {"name": name, "value": visible(value or "")})
        case = ET.SubElement(
            suite,
            "testcase",
            {
                "classname": f"{TOOL_NAME}.{visible(report.family or 'unknown')}",
                "name": path,
                "file": path,
            },
        )
        if report.problems:
            first = report.problems[0]
            more = len(report.problems) - 1
            message = _junit_line(report, first) + (f" (and {more} more)" if more else "")
            outcome = ET.SubElement(
                case,
                "error" if unreadable else "failure",
                {"message": message, "type": visible(first.keyword or "error")},
            )
            outcome.text = _junit_text(report)
    ET.indent(root)
    body = ET.tostring(root, encoding="unicode")
    return f'<?xml version="1.0" encoding="UTF-8"?>\n{body}\n'


def _junit_text(report: FileReport) -> str:
    """One line per problem shown, and one saying how many more there are if any."""
    shown, left_out = _first(report.problems, SHOWN_ERRORS_PER_FILE)
    lines = [_junit_line(report, problem) for problem in shown]
    if left_out:
        lines.append(_more_errors(left_out))
    return "\n".join(lines) + "\n"


def _unreadable(report: FileReport) -> bool:
    return any(p.keyword in _UNREADABLE_KEYWORDS for p in report.problems)


def _junit_line(report: FileReport, problem: Problem) -> str:
    checked = " ".join(part for part in (report.family, report.version) if part) or "unknown"
    return visible(
        f"{problem.line}:{problem.column}: {problem.json_path}: {problem.message} "
        f"[{problem.keyword or 'error'}; {checked}]"
    )


# --- sarif ------------------------------------------------------------------------------------


def _render_sarif(reports: Sequence[FileReport], tool_version: str) -> str:
    listed = [(report, _first(report.problems, LISTED_ERRORS_PER_FILE)) for report in reports]
    keywords = sorted({_rule_keyword(p) for _, (problems, _) in listed for p in problems})
    rule_index = {keyword: index for index, keyword in enumerate(keywords)}
    rules = [
        {
            "id": _rule_id(keyword),
            "shortDescription": {"text": _rule_description(keyword)},
            "defaultConfiguration": {"level": "error"},
            "properties": {"keyword": keyword},
        }
        for keyword in keywords
    ]
    results = [
        _sarif_result(report, problem, rule_index[_rule_keyword(problem)])
        for report, (problems, _) in listed
        for problem in problems
    ]
    files, invalid, errors = _counts(reports)
    properties = {"files": files, "invalid": invalid, "errors": errors}
    omitted = sum(left_out for _, (_, left_out) in listed)
    if omitted:
        properties["errorsOmitted"] = omitted
    log = {
        "$schema": SARIF_SCHEMA_URI,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": TOOL_NAME,
                        "version": tool_version,
                        "rules": rules,
                    }
                },
                "columnKind": "unicodeCodePoints",
                "results": results,
                "properties": properties,
            }
        ],
    }
    return json.dumps(encodable(log), indent=2, ensure_ascii=False) + "\n"


def _sarif_result(report: FileReport, problem: Problem, rule_index: int) -> dict[str, Any]:
    return {
        "ruleId": _rule_id(_rule_keyword(problem)),
        "ruleIndex": rule_index,
        "level": "error",
        "message": {"text": f"{problem.json_path}: {problem.message}"},
        "locations": [
            {
                "physicalLocation": {
                    "artifactLocation": {"uri": _artifact_uri(report.path)},
                    "region": {
                        "startLine": max(problem.line, 1),
                        "startColumn": max(problem.column, 1),
                    },
                },
                "logicalLocations": [{"fullyQualifiedName": problem.json_path}],
            }
        ],
        "properties": {
            "path": report.path,
            "jsonPath": problem.json_path,
            "family": report.family,
            "version": report.version,
            "keyword": problem.keyword,
        },
    }


def _rule_keyword(problem: Problem) -> str:
    return problem.keyword or "error"


def _rule_id(keyword: str) -> str:
    return f"{TOOL_NAME}/{keyword}"


def _rule_description(keyword: str) -> str:
    return _RULE_DESCRIPTIONS.get(keyword, f"The document fails the schema keyword '{keyword}'.")


_DRIVE = re.compile(r"^[A-Za-z]:/")
# Characters a URI path segment may hold unescaped (RFC 3986 pchar less unreserved, and '/').
_PATH_SAFE = "/!$&'()*+;=@"


def _artifact_uri(path: str) -> str:
    """The path as given, as a URI reference: forward slashes, percent-encoded where needed.

    A relative path stays relative; a Windows drive or UNC path becomes a ``file:`` URI.
    A ``:`` is always escaped in a relative path, so its first segment is never a scheme.
    """
    slashed = path.replace("\\", "/")
    if _DRIVE.match(slashed):
        return "file:///" + slashed[:2] + _quote_path(slashed[2:])
    if slashed.startswith("//"):
        return "file:" + _quote_path(slashed)
    return _quote_path(slashed)


def _quote_path(path: str) -> str:
    """Percent-encode ``path`` as UTF-8; an undecodable file name's own bytes are kept."""
    try:
        raw = path.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        raw = path.encode("utf-8", "surrogatepass")
    return quote(raw, safe=_PATH_SAFE)


# --- shared -----------------------------------------------------------------------------------


def _first(problems: list[Problem], limit: int) -> tuple[list[Problem], int]:
    """The first ``limit`` problems, and how many are left out."""
    return problems[:limit], max(len(problems) - limit, 0)


def _more_errors(left_out: int) -> str:
    return f"… and {left_out} more {'error' if left_out == 1 else 'errors'} in this file"


def _counts(reports: Sequence[FileReport]) -> tuple[int, int, int]:
    return (
        len(reports),
        sum(not r.ok for r in reports),
        sum(len(r.problems) for r in reports),
    )


def encodable(value: Any) -> Any:
    """``value`` with lone surrogates (from undecodable file names) shown as escapes.

    Anything else is left as it is: a string that can be written out as UTF-8.
    """
    if isinstance(value, str):
        return _encodable_text(value)
    if isinstance(value, dict):
        return {encodable(key): encodable(item) for key, item in value.items()}
    if isinstance(value, list):
        return [encodable(item) for item in value]
    return value


def _encodable_text(value: str) -> str:
    r"""``value`` with each lone surrogate written as a ``\udcXX`` escape."""
    if not any(0xD800 <= ord(char) <= 0xDFFF for char in value):
        return value
    return "".join(
        f"\\u{ord(char):04x}" if 0xD800 <= ord(char) <= 0xDFFF else char for char in value
    )
