"""Schema resources: family.toml ``[resources]`` and the drafts' metaschemas, seen everywhere.

A family's versions may ``$ref`` documents it brings (a URI prefix mapped to a folder, or one
URI to one file) and any supported draft's metaschema. Validation, error positions,
generation, invalid documents, defaults, streaming and evolution's diff all follow such a
reference; one that resolves to nothing is a load error naming it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from conftest import FamilyMaker
from hypothesis import given, settings
from test_cli import run as run_cli

from docmigrate import Registry, commands, iter_errors, load_family, migrate, validate
from docmigrate.cli import main
from docmigrate.evolution import diff_schemas, diff_versions
from docmigrate.evolution.lock import LockError, schema_fingerprint
from docmigrate.exceptions import DocumentInvalidError, FamilyError, RemoteReferenceError
from docmigrate.jsonio.streaming import NotStreamable
from docmigrate.migrator import step_context
from docmigrate.streaming import validate_stream
from docmigrate.testing import documents, from_schema, invalid_documents

SHARED = "https://example.com/shared/"
MONEY = f"{SHARED}money.json"
META_2020_12 = "https://json-schema.org/draft/2020-12/schema"

MONEY_SCHEMA = {
    "type": "object",
    "required": ["amount", "currency"],
    "properties": {
        "amount": {"type": "integer", "minimum": 0},
        "currency": {"$ref": "codes/currency.json"},
        "rounding": {"type": "string", "default": "half-even"},
    },
    "additionalProperties": False,
}
CURRENCY_SCHEMA = {"enum": ["EUR", "USD"]}
TOML = 'version_pointer = "/v"\n[detect]\nrequired = ["/items"]\n'


def _schema(version: str, **extra: Any) -> dict[str, Any]:
    """A version whose items each hold a price described by the shared money.json."""
    return {
        "type": "object",
        "required": ["v", "items"],
        "properties": {
            "v": {"const": version},
            "items": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["price"],
                    "properties": {"price": {"$ref": MONEY}, **extra},
                },
            },
        },
    }


def _with_shared(folder: Path) -> Path:
    """Write money.json and codes/currency.json into ``folder``/shared; return ``folder``."""
    (folder / "shared" / "codes").mkdir(parents=True, exist_ok=True)
    (folder / "shared" / "money.json").write_text(json.dumps(MONEY_SCHEMA))
    (folder / "shared" / "codes" / "currency.json").write_text(json.dumps(CURRENCY_SCHEMA))
    return folder


def _family(
    make_family: FamilyMaker,
    schemas: dict[str, Any] | None = None,
    steps: str = "",
    resources: str = f'"{SHARED}" = "shared/"\n',
    records: str = "",
) -> Path:
    """A family folder whose [resources] maps SHARED to its shared/ folder."""
    folder = make_family(
        schemas or {"1": _schema("1")}, steps, toml=f"{TOML}{records}[resources]\n{resources}"
    )
    return _with_shared(folder)


def _document(amount: Any = 5, currency: str = "EUR", version: str = "1") -> dict[str, Any]:
    return {"v": version, "items": [{"price": {"amount": amount, "currency": currency}}]}


def test_a_folder_of_resources_validates_by_retrieval_uri(make_family: FamilyMaker) -> None:
    """A URI prefix maps a folder; money.json's own relative $ref resolves from its URI."""
    family = load_family(_family(make_family))
    validate(_document(), family, "1")
    assert set(family.resources) == {MONEY, f"{SHARED}codes/currency.json"}
    with pytest.raises(DocumentInvalidError):
        validate(_document(currency="GBP"), family, "1")


def test_a_single_file_resource_validates(make_family: FamilyMaker) -> None:
    """A URI without a trailing / maps one file; the file refers on to a second one."""
    resources = f'"{MONEY}" = "shared/money.json"\n"{SHARED}codes/currency.json" = "cur.json"\n'
    folder = _family(make_family, resources=resources)
    (folder / "cur.json").write_text(json.dumps(CURRENCY_SCHEMA))
    family = load_family(folder)
    validate(_document(), family, "1")
    with pytest.raises(DocumentInvalidError):
        validate(_document(amount=-1), family, "1")


def test_error_positions_through_a_remote_ref(make_family: FamilyMaker) -> None:
    """Errors inside a resource are placed in the document and name the failing keyword."""
    family = load_family(_family(make_family))
    errors = list(iter_errors(_document(amount=-1, currency="GBP"), family, "1"))
    found = sorted((error.pointer, error.keyword) for error in errors)
    assert found == [("/items/0/price/amount", "minimum"), ("/items/0/price/currency", "enum")]


def test_documents_draw_valid_documents_through_a_remote_ref(make_family: FamilyMaker) -> None:
    """documents() constructs prices from money.json: drawn, counted, every one valid."""
    family = load_family(_family(make_family))
    prices: list[Any] = []

    @settings(max_examples=40, database=None, deadline=None)
    @given(documents(family, "1"))
    def draw(document: Any) -> None:
        validate(document, family, "1")
        prices.extend(item["price"] for item in document["items"])

    draw()
    assert len(prices) >= 10
    assert {p["currency"] for p in prices} <= {"EUR", "USD"}


def test_invalid_documents_break_rules_stated_in_a_resource(make_family: FamilyMaker) -> None:
    """Rules stated inside money.json are broken too, each break refused by the validator."""
    family = load_family(_family(make_family))
    inside: list[str] = []

    # A fixed seed: which kinds of rule 60 draws break varies between seeds.
    @settings(max_examples=60, database=None, deadline=None, derandomize=True)
    @given(invalid_documents(family, "1"))
    def draw(broken: Any) -> None:
        with pytest.raises(DocumentInvalidError):
            validate(broken.document, family, "1")
        if "price" in broken.path:
            inside.append(broken.rule)

    draw()
    # Everything below "price" is stated by money.json or codes/currency.json.
    stated = {"type", "minimum", "required", "additionalProperties", "enum"}
    assert len(set(inside)) >= 2 and set(inside) <= stated, inside


def test_defaults_are_read_through_a_remote_ref(make_family: FamilyMaker) -> None:
    """A per-record step's context.defaults() finds the defaults money.json declares."""
    steps = """
        @upgrade("1", "2", each="/items")
        def add_rounding(item, context):
            item["price"].update(context.defaults("/items/-/price"))
            return item
    """
    schemas = {"1": _schema("1"), "2": _schema("2")}
    family = load_family(_family(make_family, schemas, steps))
    step = family.steps[0]
    assert step_context(family, step).defaults("/items/-/price") == {"rounding": "half-even"}
    upgraded = migrate(_document(), family, to="2").document
    assert upgraded["items"][0]["price"]["rounding"] == "half-even"


def test_streamed_records_validate_through_a_remote_ref(
    make_family: FamilyMaker, tmp_path: Path
) -> None:
    """A record schema with a $ref into a resource streams, with the in-memory problems."""
    folder = _family(make_family, records='[records]\npointer = "/items"\n')
    registry = Registry.discover([folder], builtin=False, entry_points=False, cwd=folder)
    family = registry.get("demo")
    document = {"v": "1", "items": [_document()["items"][0], {"price": {"amount": -1}}]}
    path = tmp_path / "doc.json"
    path.write_text(json.dumps(document))
    streamed = validate_stream(path, registry)
    in_memory = sorted((e.json_path, e.keyword) for e in iter_errors(document, family, "1"))
    assert sorted((p.json_path, p.keyword) for p in streamed.problems) == in_memory
    assert in_memory == [("$.items[1].price", "required"), ("$.items[1].price.amount", "minimum")]


def test_a_metaschema_ref_validates_and_draws(make_family: FamilyMaker) -> None:
    """$ref to a draft's metaschema resolves offline; documents() draws within health checks."""
    schema = {
        "type": "object",
        "required": ["v", "items", "rule"],
        "properties": {
            "v": {"const": "1"},
            "items": {"type": "array"},
            "rule": {"$ref": META_2020_12},
            "old_rule": {"$ref": "http://json-schema.org/draft-07/schema#"},
        },
    }
    family = load_family(make_family({"1": schema}))
    assert set(family.resources) >= {META_2020_12, "http://json-schema.org/draft-07/schema"}
    validate({"v": "1", "items": [], "rule": {"minLength": 1}}, family, "1")
    with pytest.raises(DocumentInvalidError):
        validate({"v": "1", "items": [], "rule": {"minLength": -1}}, family, "1")
    drawn: list[Any] = []

    # Hypothesis' default health checks (too slow, data too large) stay on.
    @settings(max_examples=15, database=None, deadline=None)
    @given(documents(family, "1"))
    def draw(document: Any) -> None:
        validate(document, family, "1")
        drawn.append(document["rule"])

    draw()
    assert len(drawn) == 15


def test_a_ref_to_an_unknown_uri_names_it_and_resources(make_family: FamilyMaker) -> None:
    """A $ref no resource answers is a RemoteReferenceError at its place, naming [resources]."""
    schema = _schema("1")
    schema["properties"]["items"]["items"]["properties"]["tax"] = {
        "$ref": "https://example.com/elsewhere/tax.json"
    }
    with pytest.raises(RemoteReferenceError) as raised:
        load_family(_family(make_family, {"1": schema}))
    message = str(raised.value)
    assert "https://example.com/elsewhere/tax.json" in message and "[resources]" in message
    assert raised.value.pointer == "/properties/items/items/properties/tax"


def test_a_ref_inside_a_resource_to_nowhere_names_the_resource_file(
    make_family: FamilyMaker,
) -> None:
    """A resource's own dangling $ref is refused, naming the resource file, not the schema."""
    folder = _family(make_family)
    (folder / "shared" / "codes" / "currency.json").unlink()
    (folder / "shared" / "other.json").write_text("{}")
    with pytest.raises(RemoteReferenceError) as raised:
        load_family(folder)
    assert raised.value.file == str(folder / "shared" / "money.json")
    assert "codes/currency.json" in str(raised.value)


@pytest.mark.parametrize(
    ("resources", "prepare", "expected"),
    [
        (f'"{SHARED}" = "missing/"', None, "needs a folder"),
        (f'"{SHARED}" = "shared/money.json"', None, "needs a folder"),
        (f'"{MONEY}" = "nothing.json"', None, "is not a file"),
        (f'"{MONEY}" = "shared/"', None, "is not a file"),
        (f'"{SHARED}" = "../shared/"', None, "inside the family folder"),
        (f'"{SHARED}" = "/tmp/"', None, "inside the family folder"),
        ('"shared/" = "shared/"', None, "must be absolute"),
        (f'"{MONEY}#x" = "shared/money.json"', None, "must be absolute"),
        (f'"{SHARED}" = 3', None, "must be a path"),
        (f'"{SHARED}" = "empty/"', "empty", "holds no *.json"),
        (f'"{SHARED}" = "shared/"', "array", "must hold a JSON object, not list"),
        (f'"{SHARED}" = "shared/"', "boolean", "must hold a JSON object, not a boolean"),
        (f'"{SHARED}" = "shared/"', "broken", "cannot read schema resource"),
    ],
)
def test_broken_resources_are_clear_load_errors(
    make_family: FamilyMaker,
    capsys: pytest.CaptureFixture[str],
    resources: str,
    prepare: str | None,
    expected: str,
) -> None:
    """Each broken [resources] entry is a FamilyError saying why; the CLI exits 2, no traceback."""
    folder = _family(make_family, resources=resources + "\n")
    if prepare == "empty":
        (folder / "empty").mkdir()
    elif prepare == "array":
        (folder / "shared" / "list.json").write_text("[1]")
    elif prepare == "boolean":
        (folder / "shared" / "list.json").write_text("true")
    elif prepare == "broken":
        (folder / "shared" / "list.json").write_text('{"type": ')
    with pytest.raises(FamilyError, match=expected.replace("*", r"\*")):
        load_family(folder)
    document = folder.parent / "doc.json"
    document.write_text(json.dumps(_document()))
    with pytest.raises(SystemExit) as done:
        main(["validate", "--family-path", str(folder), str(document)])
    err = capsys.readouterr().err
    assert done.value.code == 2
    assert expected.split("*")[0] in err and "Traceback" not in err


def test_diff_compares_after_following_resources(make_family: FamilyMaker) -> None:
    """Versions sharing money.json are compared through it: a proof and a counterexample."""
    note = {"note": {"type": "string"}}
    steps = """
        @upgrade("1", "2")
        def relabel(document):
            return {**document, "v": "2"}
    """
    schemas = {"1": _schema("1"), "2": _schema("2", **note)}
    family = load_family(_family(make_family, schemas, steps))
    assert diff_versions(family, "1", "2", examples=10).reason == ""  # compared, not refused
    resources = dict(family.resources)
    added = diff_schemas(_schema("1"), _schema("1", **note), examples=20, resources=resources)
    assert added.verdicts == {"reader": "breaking", "writer": "compatible"}


def test_diff_without_the_resources_is_undecided() -> None:
    """A $ref the diff cannot follow never yields "compatible": both roles stay undecided."""
    diff = diff_schemas(_schema("1"), _schema("1", note={"type": "string"}), examples=10)
    assert diff.verdicts == {"reader": "undecided", "writer": "undecided"}


def test_a_released_version_whose_resource_changed_is_refused(
    make_family: FamilyMaker, capsys: pytest.CaptureFixture[str]
) -> None:
    """The lock covers the resources a version reaches: editing money.json is drift."""
    steps = """
        @upgrade("1", "2")
        def relabel(document):
            return {**document, "v": "2"}
    """
    schemas = {"1": _schema("1"), "2": {**_schema("2"), "properties": {"v": {"const": "2"}}}}
    folder = _family(make_family, schemas, steps)
    code, out, _ = run_cli(capsys, "lock", "--family-path", folder)
    assert code == 0 and "1 released, 2 draft" in out
    load_family(folder)
    money = folder / "shared" / "money.json"
    money.write_text(json.dumps({**MONEY_SCHEMA, "required": ["amount"]}))
    with pytest.raises(LockError, match=r"version 1 of demo changed"):
        load_family(folder)


def test_fingerprints_without_own_resources_are_the_schemas_alone() -> None:
    """A schema reaching no family resource (a shipped metaschema only) keeps its old hash."""
    schema = {"properties": {"rule": {"$ref": META_2020_12}}}
    assert schema_fingerprint(schema, resources={}) == schema_fingerprint(schema)
    assert schema_fingerprint(schema, resources={MONEY: MONEY_SCHEMA}) != schema_fingerprint(schema)


def test_a_resource_that_is_not_a_valid_schema_is_refused_at_its_place(
    make_family: FamilyMaker,
) -> None:
    """A reached resource is checked against its draft's metaschema, naming file and place."""
    folder = _family(make_family)
    money = folder / "shared" / "money.json"
    broken = {**MONEY_SCHEMA, "properties": {**MONEY_SCHEMA["properties"], "amount": {"type": 5}}}
    money.write_text(json.dumps(broken))
    with pytest.raises(FamilyError, match="not a valid JSON Schema") as raised:
        load_family(folder)
    assert (raised.value.file, raised.value.pointer) == (str(money), "/properties/amount/type")


def test_records_described_in_a_resource_fall_back_to_memory(
    make_family: FamilyMaker,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    """A records array given by a $ref into a resource is read whole, saying why, same errors."""
    schema = _schema("1")
    listed = schema["properties"]["items"]
    listed["items"]["properties"]["price"] = {"$ref": "money.json"}  # relative to list.json
    schema["properties"]["items"] = {"$ref": f"{SHARED}list.json"}
    folder = _family(make_family, {"1": schema}, records='[records]\npointer = "/items"\n')
    (folder / "shared" / "list.json").write_text(json.dumps(listed))
    registry = Registry.discover([folder], builtin=False, entry_points=False, cwd=folder)
    path = tmp_path / "doc.json"
    path.write_text(json.dumps({"v": "1", "items": [{"price": {"amount": -1}}]}))
    with pytest.raises(NotStreamable, match=r"refers to another schema document \(https://"):
        validate_stream(path, registry)
    monkeypatch.setattr(commands, "STREAMING_MIN_SIZE", 0)
    code, out, err = run_cli(capsys, "validate", "-v", "--family-path", folder, path)
    assert code == 1
    assert f"{path}: in memory: the schema at /properties/items refers to" in err
    assert "$.items[0].price.amount" in out and "$.items[0].price" in out


def test_from_schema_draws_through_a_metaschema_ref() -> None:
    """from_schema follows a $ref to a shipped metaschema too: values drawn, all valid."""
    schema = {"$schema": "http://json-schema.org/draft-07/schema#", "allOf": [
        {"$ref": "http://json-schema.org/draft-07/schema#"}, {"type": "object"}]}  # fmt: skip
    drawn: list[Any] = []

    @settings(max_examples=15, database=None, deadline=None)
    @given(from_schema(schema))
    def draw(value: Any) -> None:
        assert isinstance(value, dict)
        drawn.append(value)

    draw()
    assert len(drawn) == 15
