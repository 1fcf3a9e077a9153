"""Loading family folders: a sound family loads, each kind of broken family is refused."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import FamilyMaker, simple_schema

from docmigrate import FamilyError, RemoteReferenceError, load_family

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


def test_schema_of_another_draft_is_refused(make_family: FamilyMaker) -> None:
    """Only Draft 2020-12 schemas are accepted."""
    old = simple_schema("1") | {"$schema": "http://json-schema.org/draft-07/schema#"}
    with pytest.raises(
        FamilyError, match=r"must be 'https://json-schema\.org/draft/2020-12/schema'"
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
