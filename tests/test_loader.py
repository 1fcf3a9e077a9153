"""Loading family folders: a sound family loads, each kind of broken family is refused."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import FamilyMaker, simple_schema

from docmigrate import FamilyError, RemoteReferenceError, load_family
from docmigrate.schema_walk import SUBSCHEMA_KEYWORDS, iter_subschemas, non_local_references

TWO_STEPS = """
@upgrade("1", "2")
def one_to_two(doc):
    return doc

@upgrade("2", "3")
def two_to_three(doc):
    return doc
"""


def test_sound_family_loads_with_versions_in_upgrade_order(make_family: FamilyMaker) -> None:
    """Versions are ordered along the upgrade graph; the head is current."""
    folder = make_family({v: simple_schema(v) for v in ("3", "1", "2")}, TWO_STEPS)
    family = load_family(folder)
    assert family.versions == ("1", "2", "3")
    assert family.current == "3"
    assert [s.name for s in family.upgrades] == ["one_to_two", "two_to_three"]
    assert [s.name for s in family.plan("1")] == ["one_to_two", "two_to_three"]


def test_builtin_family_describes_itself(history: object) -> None:
    """The production-history family has 1.0 -> 1.1, a per-record upgrade and a downgrade."""
    from docmigrate import Family

    assert isinstance(history, Family)
    assert history.versions == ("1.0", "1.1")
    assert history.default_version == "1.0"
    assert [(s.source, s.target, s.spec.each) for s in history.steps] == [
        ("1.0", "1.1", "/production_runs"),
        ("1.1", "1.0", "/production_runs"),
    ]
    assert history.downgrades[0].spec.drops == ("/production_status", "/loss_quantity", "/losses")


def test_schema_failing_its_metaschema_is_refused(make_family: FamilyMaker) -> None:
    """A schema with a wrong keyword value names the file and the place."""
    bad = simple_schema("1") | {"type": "objekt"}
    with pytest.raises(FamilyError, match=r"1\.schema\.json: not a valid JSON Schema at '/type'"):
        load_family(make_family({"1": bad}))


def test_schema_of_an_unsupported_draft_is_refused(make_family: FamilyMaker) -> None:
    """Drafts 4, 6, 7, 2019-09 and 2020-12 are accepted; draft 3 is refused, naming them."""
    old = simple_schema("1") | {"$schema": "http://json-schema.org/draft-03/schema#"}
    with pytest.raises(
        FamilyError, match=r"must be one of .*'https://json-schema\.org/draft/2020-12/schema'"
    ):
        load_family(make_family({"1": old}))


def test_step_naming_unknown_version_is_refused(make_family: FamilyMaker) -> None:
    """A step to a version without a schema file is named in the error."""
    steps = '@upgrade("1", "9")\ndef to_nine(doc):\n    return doc\n'
    with pytest.raises(FamilyError, match=r"step to_nine names version '9'.*known: 1, 2"):
        load_family(make_family({"1": simple_schema("1"), "2": simple_schema("2")}, steps))


def test_two_steps_for_one_edge_are_refused(make_family: FamilyMaker) -> None:
    """Duplicate edges are ambiguous; both functions are named."""
    steps = TWO_STEPS + '\n@upgrade("1", "2")\ndef again(doc):\n    return doc\n'
    schemas = {v: simple_schema(v) for v in ("1", "2", "3")}
    with pytest.raises(FamilyError, match=r"two steps for 1 -> 2: one_to_two and again"):
        load_family(make_family(schemas, steps))


def test_cycle_of_upgrades_is_refused(make_family: FamilyMaker) -> None:
    """Upgrades that loop back are refused, showing the loop."""
    steps = TWO_STEPS + '\n@upgrade("3", "1")\ndef back(doc):\n    return doc\n'
    schemas = {v: simple_schema(v) for v in ("1", "2", "3")}
    with pytest.raises(FamilyError, match=r"cycle: 1 -> 2 -> 3 -> 1"):
        load_family(make_family(schemas, steps))


def test_more_than_one_head_is_refused(make_family: FamilyMaker) -> None:
    """Two versions that both end the upgrade chains leave current undefined."""
    steps = (
        '@upgrade("1", "2a")\ndef a(doc):\n    return doc\n'
        '@upgrade("1", "2b")\ndef b(doc):\n    return doc\n'
    )
    schemas = {v: simple_schema(v) for v in ("1", "2a", "2b")}
    with pytest.raises(FamilyError, match=r"more than one head \(current version\): 2a, 2b"):
        load_family(make_family(schemas, steps))


def test_version_that_cannot_reach_current_is_refused(make_family: FamilyMaker) -> None:
    """A version with no way up to current is named, with what to do."""
    steps = '@upgrade("1", "2")\ndef up(doc):\n    return doc\n'
    schemas = {v: simple_schema(v) for v in ("1", "2", "0")}
    with pytest.raises(FamilyError, match=r"version\(s\) 0 cannot be upgraded to current 2"):
        load_family(make_family(schemas, steps))


def test_default_rejected_by_its_own_schema_is_refused(make_family: FamilyMaker) -> None:
    """A default must be valid under the schema that declares it."""
    schema = simple_schema("1", count={"type": "integer", "minimum": 0, "default": -1})
    with pytest.raises(FamilyError, match=r"default at '.*/count/default' is rejected"):
        load_family(make_family({"1": schema}))


def test_default_through_ref_is_checked_against_the_referenced_schema(
    make_family: FamilyMaker,
) -> None:
    """A default beside a $ref is checked against what the $ref points to."""
    schema = simple_schema("1", status={"$ref": "#/$defs/status", "default": "melted"})
    schema["$defs"] = {"status": {"enum": ["complete", "partial_loss"]}}
    with pytest.raises(FamilyError, match="is rejected by its own schema"):
        load_family(make_family({"1": schema}))


def test_remote_reference_is_refused_without_network(make_family: FamilyMaker) -> None:
    """A $ref to another document is a clear error at load time; nothing is fetched."""
    schema = simple_schema("1", unit={"$ref": "https://example.com/units.json"})
    with pytest.raises(RemoteReferenceError, match="never fetches"):
        load_family(make_family({"1": schema}))


def test_reference_to_embedded_id_is_local(make_family: FamilyMaker) -> None:
    """A $ref to an $id embedded in the same schema is allowed."""
    schema = simple_schema("1", unit={"$ref": "urn:demo:unit"})
    schema["$defs"] = {"unit": {"$id": "urn:demo:unit", "enum": ["g", "cup"]}}
    family = load_family(make_family({"1": schema}))
    assert family.versions == ("1",)


def test_unknown_family_toml_key_is_refused(make_family: FamilyMaker) -> None:
    """A typo in family.toml is an error, not silently ignored."""
    with pytest.raises(FamilyError, match="unknown key"):
        load_family(make_family({"1": simple_schema("1")}, toml='verison_pointer = "/v"\n'))


def test_steps_module_that_raises_on_import_is_refused(make_family: FamilyMaker) -> None:
    """A steps.py that fails to import names the file and the error."""
    with pytest.raises(FamilyError, match=r"steps\.py: importing it raised"):
        load_family(make_family({"1": simple_schema("1")}, "raise RuntimeError('boom')\n"))


def test_folder_without_family_toml_is_refused(tmp_path: Path) -> None:
    """A folder that is not a family says so."""
    with pytest.raises(FamilyError, match=r"no family\.toml"):
        load_family(tmp_path)


def test_downgrade_towards_newer_version_is_refused(make_family: FamilyMaker) -> None:
    """A downgrade must go to an older version."""
    steps = TWO_STEPS + '@downgrade("1", "3", drops=[])\ndef wrong(doc):\n    return doc\n'
    schemas = {v: simple_schema(v) for v in ("1", "2", "3")}
    with pytest.raises(FamilyError, match="goes from 1 to a newer version"):
        load_family(make_family(schemas, steps))


# --- every subschema location, every way a schema can be broken (issue #9, item 11)

REMOTE = "https://example.com/x"
DRAFT = "https://json-schema.org/draft/2020-12/"


def _metaschema_kinds() -> dict[str, str]:
    """Each keyword of the official 2020-12 metaschema that holds subschemas, and how."""
    from jsonschema_specifications import REGISTRY

    root = REGISTRY.contents(f"{DRAFT}schema")
    kinds = {}
    for part in ["schema", *(vocabulary["$ref"] for vocabulary in root["allOf"])]:
        contents = REGISTRY.contents(f"{DRAFT}{part}")
        for keyword, definition in contents["properties"].items():
            text = json.dumps(definition)
            if not isinstance(definition, dict):
                continue
            if definition == {"$dynamicRef": "#meta"}:
                kinds[keyword] = "schema"
            elif definition.get("$ref") == "#/$defs/schemaArray":
                kinds[keyword] = "list"
            elif "#meta" in json.dumps(definition.get("additionalProperties")):
                kinds[keyword] = "map"
            elif "#meta" in text:
                kinds[keyword] = f"unrecognised: {text}"
    return kinds


def test_walker_knows_every_subschema_keyword_of_the_metaschema() -> None:
    """The walker's table holds each 2020-12 metaschema keyword that holds schemas, as it does."""
    kinds = _metaschema_kinds()
    assert "contentSchema" in kinds and "dependencies" in kinds  # the parts were all read
    for keyword, kind in kinds.items():
        table_kind = SUBSCHEMA_KEYWORDS.get(keyword)
        assert table_kind == kind or (keyword, table_kind) == ("items", "schema-or-list")
    assert set(SUBSCHEMA_KEYWORDS) - set(kinds) == {"additionalItems"}


def _placed(kind: str, schema: dict[str, Any]) -> tuple[Any, str]:
    """Put ``schema`` where a keyword of ``kind`` holds one; return the value and the suffix."""
    if kind == "map":
        return {"name": schema}, "/name"
    if kind in ("list", "schema-or-list"):
        return [schema], "/0"
    return schema, ""


@pytest.mark.parametrize("keyword", sorted(SUBSCHEMA_KEYWORDS))
def test_remote_reference_is_found_under_every_subschema_keyword(keyword: str) -> None:
    """A $ref under any keyword of the walker's table is found, at its exact place."""
    value, suffix = _placed(SUBSCHEMA_KEYWORDS[keyword], {"$ref": REMOTE})
    found = non_local_references({"not": {keyword: value}}, "urn:demo")
    assert [(r.pointer, r.value) for r in found] == [(f"/not/{keyword}{suffix}", REMOTE)]


def test_values_that_are_not_subschemas_are_not_walked() -> None:
    """enum, const, default and examples hold data, and dependencies' string lists are skipped."""
    data = {"$ref": "https://example.com/x", "default": {"$ref": "https://example.com/y"}}
    schema = {
        "enum": [data],
        "const": data,
        "default": data,
        "examples": [data],
        "dependencies": {"a": ["b", "c"]},
        "properties": {"$ref": {"type": "string"}, "default": {"type": "string"}},
    }
    assert non_local_references(schema, "urn:demo") == []
    assert [s.pointer for s in iter_subschemas(schema)] == [
        "",
        "/properties/$ref",
        "/properties/default",
    ]


def test_local_references_in_every_kind_of_place_load(make_family: FamilyMaker) -> None:
    """References to #/$defs from contentSchema, dependencies, if/then... are sound: it loads."""
    ref = {"$ref": "#/$defs/text"}
    schema = simple_schema("1", note={"contentMediaType": "application/json", "contentSchema": ref})
    item = schema["properties"]["items"]["items"]
    item |= {"dependencies": {"id": ref, "note": ["id"]}, "if": ref, "then": ref, "not": False}
    schema["$defs"] = {"text": {"type": ["object", "string"]}}
    family = load_family(make_family({"1": schema}))
    assert family.versions == ("1",)


def test_broken_schema_error_carries_file_and_pointer(make_family: FamilyMaker) -> None:
    """A FamilyError for a schema holds the schema file and the JSON Pointer as data."""
    schema = simple_schema("1", code={"type": "string", "pattern": "(["})
    folder = make_family({"1": schema})
    with pytest.raises(FamilyError) as caught:
        load_family(folder)
    assert caught.value.file == str(folder / "1.schema.json")
    assert caught.value.pointer == "/properties/items/items/properties/code/pattern"
    assert "\n" not in str(caught.value)


def test_schema_that_passes_the_metaschema_but_cannot_compile_is_refused_at_load(
    make_family: FamilyMaker,
) -> None:
    """A $ref to a missing $defs entry is found when the family loads, not on first validation."""
    schema = simple_schema("1", code={"$ref": "#/$defs/code"})
    schema["$defs"] = {"kode": {"type": "string"}}
    with pytest.raises(FamilyError) as caught:
        load_family(make_family({"1": schema}))
    assert caught.value.pointer == "/properties/items/items/properties/code"
    assert "'#/$defs/code' resolves nowhere" in str(caught.value)


@pytest.mark.parametrize("declared", [5, None, True, ["x"]])
def test_schema_keyword_that_is_not_a_string_is_refused(
    make_family: FamilyMaker, declared: object
) -> None:
    """A $schema of 5 (or null, ...) is a FamilyError at '/$schema', not an AttributeError."""
    schema = simple_schema("1") | {"$schema": declared}
    with pytest.raises(FamilyError, match=r"\$schema at '/\$schema' must be") as caught:
        load_family(make_family({"1": schema}))
    assert caught.value.pointer == "/$schema"


def test_default_is_checked_under_an_id_with_an_empty_fragment(make_family: FamilyMaker) -> None:
    """An $id ending in an empty fragment still has its defaults checked; a good one loads."""
    good = simple_schema("1", size={"type": "integer", "default": 1})
    good["$id"] = "https://example.com/demo/1.json#"
    assert load_family(make_family({"1": good})).versions == ("1",)
    bad = simple_schema("1", size={"type": "integer", "default": "big"})
    bad["$id"] = "https://example.com/demo/1.json#"
    with pytest.raises(FamilyError, match="is rejected by its own schema"):
        load_family(make_family({"1": bad}, name="bad"))


# --- steps.py that stops the interpreter or holds odd objects (issue #9, item 12)


def _steps_modules() -> set[str]:
    return {name for name in sys.modules if name.startswith("docmigrate_family_")}


@pytest.mark.parametrize(
    ("stop", "said"),
    [
        ("sys.exit(3)", "{steps} called sys.exit(3) while being imported"),
        ("sys.exit()", "{steps} called sys.exit() while being imported"),
        ("raise SystemExit('bye')", "{steps} called sys.exit('bye') while being imported"),
        ("raise GeneratorExit", "{steps}: importing it raised GeneratorExit()"),
    ],
)
def test_steps_module_stopping_on_import_is_a_family_error(
    make_family: FamilyMaker, stop: str, said: str
) -> None:
    """sys.exit (or another BaseException) while steps.py is imported refuses the family."""
    before = _steps_modules()
    folder = make_family({"1": simple_schema("1")}, f"import sys\n{stop}\n")
    with pytest.raises(FamilyError) as caught:
        load_family(folder)
    assert caught.value.message == said.format(steps=folder / "steps.py")
    assert caught.value.file == str(folder / "steps.py")
    assert _steps_modules() == before  # the half-imported module is not kept


def test_steps_module_can_be_loaded_once_fixed(make_family: FamilyMaker) -> None:
    """After a steps.py that called sys.exit is fixed, the same folder loads."""
    folder = make_family({"1": simple_schema("1")}, "import sys\nsys.exit(0)\n")
    with pytest.raises(FamilyError):
        load_family(folder)
    (folder / "steps.py").write_text("SIZE = 1\n", encoding="utf-8")
    assert load_family(folder).versions == ("1",)


def test_ctrl_c_while_importing_steps_propagates(make_family: FamilyMaker) -> None:
    """A KeyboardInterrupt is taken for Ctrl-C: it is not turned into a FamilyError."""
    before = _steps_modules()
    folder = make_family({"1": simple_schema("1")}, "raise KeyboardInterrupt\n")
    with pytest.raises(KeyboardInterrupt):
        load_family(folder)
    assert _steps_modules() == before


def test_step_spec_with_a_bad_pointer_is_refused_even_without_the_decorator(
    make_family: FamilyMaker,
) -> None:
    """A step tagged by hand with each="items" (no leading /) is refused at load, named."""
    steps = """
    from docmigrate.steps import STEP_ATTRIBUTE, StepSpec

    def by_hand(doc):
        return doc

    setattr(by_hand, STEP_ATTRIBUTE, StepSpec("1", "2", "upgrade", each="items"))
    """
    schemas = {v: simple_schema(v) for v in ("1", "2")}
    with pytest.raises(FamilyError, match=r"steps\.py: step by_hand: each='items' is not a JSON"):
        load_family(make_family(schemas, steps))


def test_decorator_names_the_step_with_a_bad_pointer(make_family: FamilyMaker) -> None:
    """@upgrade(..., each="items") fails at import naming the function and the argument."""
    steps = '@upgrade("1", "2", each="items")\ndef one_to_two(doc):\n    return doc\n'
    schemas = {v: simple_schema(v) for v in ("1", "2")}
    with pytest.raises(FamilyError, match=r"step one_to_two: each='items' is not a JSON Pointer"):
        load_family(make_family(schemas, steps))


def test_object_refusing_attribute_access_in_steps_is_not_a_step(
    make_family: FamilyMaker,
) -> None:
    """A lazy proxy in steps.py (raising on any attribute) is skipped, the steps still load."""
    proxy = (
        "class Unbound:\n"
        "    def __getattr__(self, name):\n"
        "        raise RuntimeError('working outside of a context')\n"
        "\n"
        "current = Unbound()\n"
    )
    schemas = {v: simple_schema(v) for v in ("1", "2", "3")}
    family = load_family(make_family(schemas, TWO_STEPS + proxy))
    assert [s.name for s in family.upgrades] == ["one_to_two", "two_to_three"]
    current = family.upgrades[0].function.__globals__["current"]
    with pytest.raises(RuntimeError, match="outside of a context"):  # the proxy did refuse
        getattr(current, "__docmigrate_step__", None)
