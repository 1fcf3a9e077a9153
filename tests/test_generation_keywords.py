"""Constructive generation: each keyword is honoured by construction, not by filtering.

The raw generator (no validator filter) is checked here: every value it draws must be valid,
so the final filter of documents() is a safety net only.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from docmigrate import jsonio
from docmigrate.exceptions import GenerationError
from docmigrate.testing import from_schema
from docmigrate.testing.ecma_regex import search, translate
from docmigrate.testing.formats import FORMATS
from docmigrate.testing.generation import Generator
from docmigrate.validation import compile_schema

URI = "urn:test"
RAW = settings(max_examples=40, database=None, deadline=None)

# Each schema is a JSON text so numbers are Decimals, as a loaded family's are.
EXACT = {
    "minimum is inclusive and decimal": '{"minimum": 1.1}',
    "exclusive bound is exclusive": '{"type": "number", "exclusiveMinimum": 0}',
    "oneOf excludes the other branch": '{"oneOf": [{"type": "integer"}, {"minimum": 2}]}',
    "prefixItems with uniqueItems": (
        '{"type": "array", "prefixItems": [{"type": "boolean"}, {"type": "boolean"}],'
        ' "uniqueItems": true}'
    ),
    "multipleOf on decimals": '{"type": "number", "multipleOf": 0.01, "maximum": 3}',
    "allOf merged exactly": (
        '{"allOf": [{"type": "object", "properties": {"a": {"type": "integer", "minimum": 3}},'
        ' "required": ["a"]}, {"properties": {"a": {"maximum": 5}}}]}'
    ),
    "not by branch": '{"not": {"type": ["string", "null", "object", "array", "boolean"]}}',
    "if/then/else": (
        '{"type": "integer", "if": {"minimum": 10}, "then": {"multipleOf": 5},'
        ' "else": {"maximum": 3}}'
    ),
    "contains with min and max": (
        '{"type": "array", "items": {"type": "integer", "minimum": 0, "maximum": 3},'
        ' "contains": {"const": 2}, "minContains": 2, "maxContains": 2}'
    ),
    "unevaluatedProperties sees allOf": (
        '{"type": "object", "allOf": [{"properties": {"a": {"type": "string"}}}],'
        ' "unevaluatedProperties": false}'
    ),
    "unevaluatedItems sees prefixItems": (
        '{"type": "array", "prefixItems": [{"type": "integer"}], "unevaluatedItems": false}'
    ),
    "dependentSchemas and dependentRequired": (
        '{"type": "object", "properties": {"a": {"type": "integer"}},'
        ' "dependentSchemas": {"a": {"required": ["b"], "properties": {"b": {"const": 1}}}},'
        ' "dependentRequired": {"b": ["c"]}}'
    ),
    "patternProperties and propertyNames": (
        '{"type": "object", "patternProperties": {"^x_": {"type": "integer"}},'
        ' "propertyNames": {"pattern": "^x_[a-z]+$"}, "additionalProperties": false,'
        ' "minProperties": 1, "maxProperties": 2}'
    ),
    "anchor": '{"$ref": "#num", "$defs": {"n": {"$anchor": "num", "type": "integer"}}}',
    "embedded $id and relative ref": (
        '{"$id": "https://example.com/root.json", "$ref": "other.json",'
        ' "$defs": {"o": {"$id": "other.json", "type": "string", "minLength": 2}}}'
    ),
    "percent-encoded pointer": (
        '{"$ref": "#/$defs/a%25b", "$defs": {"a%b": {"type": "integer", "minimum": 7}}}'
    ),
    "dynamicRef": (
        '{"$id": "https://example.com/list", "$ref": "#/$defs/list",'
        ' "$defs": {"list": {"type": "array", "items": {"$dynamicRef": "#item"}},'
        ' "item": {"$dynamicAnchor": "item", "type": "boolean"}}}'
    ),
    "recursion through $ref #": (
        '{"type": "object", "properties": {"child": {"$ref": "#"},'
        ' "name": {"type": "string"}}, "required": ["name"], "additionalProperties": false}'
    ),
    "boolean subschemas": (
        '{"allOf": [true], "anyOf": [false, {"type": "array", "items": false}], "oneOf": [true]}'
    ),
    "ECMA-only pattern": '{"type": "string", "pattern": "^\\\\p{Lu}\\\\cJ?\\\\d+$"}',
}


def _raw(schema: Any) -> st.SearchStrategy[Any]:
    return Generator(schema, URI).strategy()


@pytest.mark.parametrize("name", list(EXACT))
def test_the_raw_generator_draws_only_valid_values(name: str) -> None:
    """Without any filter, every value drawn for the keyword's schema is valid under it."""
    schema = jsonio.loads(EXACT[name].encode())
    validator = compile_schema(schema, URI)
    drawn: list[Any] = []

    @RAW
    @given(_raw(schema))
    def check(value: Any) -> None:
        drawn.append(value)
        assert validator.is_valid(value), jsonio.dumps(value)

    check()
    assert drawn


@pytest.mark.parametrize(
    ("schema", "never"),
    [
        ('{"minimum": 1.1}', 1),
        ('{"type": "number", "exclusiveMinimum": 0}', Decimal("0.000")),
        ('{"oneOf": [{"type": "integer"}, {"minimum": 2}]}', Decimal("2.000")),
    ],
)
def test_from_schema_never_draws_the_issue_counterexamples(schema: str, never: Any) -> None:
    """from_schema is exact: the values the old generator drew wrongly are never drawn."""
    loaded = jsonio.loads(schema.encode())
    validator = compile_schema(loaded, URI)

    @RAW
    @given(from_schema(loaded))
    def check(value: Any) -> None:
        assert validator.is_valid(value)
        assert not (type(value) is type(never) and value == never)

    check()


def test_type_less_schemas_draw_every_type() -> None:
    """A schema without `type` draws strings, numbers, objects, arrays, booleans and null."""
    seen: set[str] = set()

    @settings(max_examples=200, database=None)
    @given(_raw({"minimum": 5}))
    def check(value: Any) -> None:
        seen.add(type(value).__name__)

    check()
    assert {"str", "int", "dict", "list", "bool", "NoneType"} <= seen


def test_recursion_is_bounded() -> None:
    """A recursive schema draws nested values and never recurses without end."""
    schema = jsonio.loads(EXACT["recursion through $ref #"].encode())
    depths: list[int] = []

    def depth(value: Any) -> int:
        return 1 + depth(value["child"]) if "child" in value else 1

    @settings(max_examples=100, database=None)
    @given(_raw(schema))
    def check(value: Any) -> None:
        depths.append(depth(value))

    check()
    assert max(depths) >= 3


@pytest.mark.parametrize("name", sorted(FORMATS))
def test_every_format_draws_values_both_validators_accept(name: str) -> None:
    """Each asserted format draws strings jsonschema-rs and python-jsonschema both accept."""
    import jsonschema

    schema = {"type": "string", "format": name}
    validator = compile_schema(schema, URI)
    checker = jsonschema.Draft202012Validator(
        schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )

    @RAW
    @given(_raw(schema))
    def check(value: str) -> None:
        assert validator.is_valid(value), value
        assert checker.is_valid(value), value

    check()


@pytest.mark.parametrize(
    ("pattern", "matches", "misses"),
    [
        ("^[0-9]+$", ["12"], ["12\n"]),
        ("^\\d+$", ["12"], ["١٢"]),
        ("^\\w$", ["a"], ["é"]),
        ("^.$", ["a"], ["\u2028", "\r"]),
        ("^a\\/b$", ["a/b"], ["ab"]),
        ("^\\cJ$", ["\n"], ["cJ"]),
        ("^\\p{Lu}+$", ["ÀB"], ["a"]),
        ("^\\u{1F600}$", ["\U0001f600"], ["u"]),
        ("^[\\w-]+$", ["a-b"], ["é"]),
        ("^\\S+$", ["ab"], ["a b"]),
    ],
)
def test_patterns_match_as_ecma_262_does(
    pattern: str, matches: list[str], misses: list[str]
) -> None:
    """Translated patterns accept and refuse what jsonschema-rs does."""
    validator = compile_schema({"pattern": pattern}, URI)
    for text in matches:
        assert search(pattern, text) and validator.is_valid(text), text
    for text in misses:
        assert not search(pattern, text) and not validator.is_valid(text), text


def test_an_untranslatable_pattern_is_a_generation_error() -> None:
    """A Unicode script property is refused with a GenerationError naming it."""
    with pytest.raises(GenerationError, match=r"\\p\{Script=Greek\}"):
        translate("\\p{Script=Greek}")


def test_a_big_schema_passes_the_default_health_checks(tmp_path: Any) -> None:
    """Drawing from a large inferred schema trips no Hypothesis health check."""
    from big_family import write_big_family

    from docmigrate import load_family
    from docmigrate.testing import documents

    family = load_family(write_big_family(tmp_path / "big"))

    @settings(max_examples=30, database=None, suppress_health_check=[], deadline=None)
    @given(documents(family, "3.0"))
    def check(document: Any) -> None:
        assert family.validator("3.0").is_valid(document)

    check()


def test_records_are_mostly_non_empty(tmp_path: Any) -> None:
    """Most drawn documents of a large family hold records, a few arrays are empty."""
    from big_family import write_big_family

    from docmigrate import load_family
    from docmigrate.testing import documents

    family = load_family(write_big_family(tmp_path / "big"))
    sizes: list[int] = []

    # A fixed seed: Hypothesis' draws are not independent (it mutates earlier ones), so the
    # share of empty arrays varies widely between seeds (about 11 to 42 in 100 were seen).
    @settings(max_examples=100, database=None, deadline=None, derandomize=True)
    @given(documents(family))
    def check(document: Any) -> None:
        sizes.append(len(document["ingredients"]))

    check()
    assert sum(1 for n in sizes if n > 0) >= 0.6 * len(sizes)
    assert 0 in sizes and max(sizes) >= 3


def test_strategies_are_built_once_per_family_and_version(tmp_path: Any) -> None:
    """documents() returns the very same strategy for the same family and version."""
    from big_family import write_big_family

    from docmigrate import load_family
    from docmigrate.testing import documents

    family = load_family(write_big_family(tmp_path / "big"))
    assert documents(family, "1.0") is documents(family, "1.0")
    assert documents(family) is documents(family, family.current)
