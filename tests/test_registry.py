"""Finding families (built in, folders, pyproject, entry points) and detecting documents."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from conftest import DATA, FamilyMaker, simple_schema

from docmigrate import ConfigurationError, Registry, UnknownFamilyError, UnknownVersionError, jsonio


def _discover(*paths: Path, cwd: Path) -> Registry:
    return Registry.discover(paths, cwd=cwd, entry_points=False)


def test_builtin_family_is_found(registry: Registry) -> None:
    """production-history ships inside the package."""
    assert "production-history" in registry.families


def test_family_path_may_be_a_family_folder(make_family: FamilyMaker, tmp_path: Path) -> None:
    """--family-path DIR with a family.toml in DIR loads that family."""
    folder = make_family({"1": simple_schema("1")})
    assert "demo" in _discover(folder, cwd=tmp_path).families


def test_family_path_may_be_a_folder_of_families(make_family: FamilyMaker, tmp_path: Path) -> None:
    """--family-path DIR loads each subfolder of DIR that is a family."""
    make_family({"1": simple_schema("1")}, name="one", folder=tmp_path / "fams" / "one")
    make_family({"1": simple_schema("1")}, name="two", folder=tmp_path / "fams" / "two")
    names = set(_discover(tmp_path / "fams", cwd=tmp_path).families)
    assert {"one", "two"} <= names


def test_family_path_without_families_is_a_configuration_error(tmp_path: Path) -> None:
    """A folder that holds no family says so instead of being ignored."""
    with pytest.raises(ConfigurationError, match=r"no family\.toml"):
        _discover(tmp_path, cwd=tmp_path)


def test_pyproject_family_paths_are_read(make_family: FamilyMaker, tmp_path: Path) -> None:
    """[tool.docmigrate] family-paths in the working directory's pyproject.toml adds families."""
    make_family({"1": simple_schema("1")}, name="mine", folder=tmp_path / "families" / "mine")
    (tmp_path / "pyproject.toml").write_text('[tool.docmigrate]\nfamily-paths = ["families"]\n')
    assert "mine" in _discover(cwd=tmp_path).families


def test_pyproject_unknown_key_is_a_configuration_error(tmp_path: Path) -> None:
    """A misspelt setting is reported, not ignored."""
    (tmp_path / "pyproject.toml").write_text('[tool.docmigrate]\nfamily-path = ["x"]\n')
    with pytest.raises(ConfigurationError, match=r"unknown key.*family-path"):
        _discover(cwd=tmp_path)


def test_entry_point_package_provides_families(
    make_family: FamilyMaker, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An installed package declaring docmigrate.families contributes its family folders."""
    site = tmp_path / "site"
    package = site / "acme_families"
    make_family({"1": simple_schema("1")}, name="acme", folder=package / "acme")
    (package / "__init__.py").write_text("")
    info = site / "acme_families-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: acme-families\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[docmigrate.families]\nacme = acme_families\n")
    monkeypatch.syspath_prepend(str(site))
    registry = Registry.discover(cwd=tmp_path, entry_points=True)
    assert registry.get("acme").location.endswith("acme")


def test_same_name_twice_is_a_configuration_error(make_family: FamilyMaker, tmp_path: Path) -> None:
    """Two different folders may not define the same family name."""
    a = make_family({"1": simple_schema("1")}, name="dup", folder=tmp_path / "a" / "dup")
    b = make_family({"1": simple_schema("1")}, name="dup", folder=tmp_path / "b" / "dup")
    with pytest.raises(ConfigurationError, match="two families are named 'dup'"):
        _discover(a, b, cwd=tmp_path)


def _doc(text: str) -> object:
    return jsonio.loads(text)


def test_detects_labelled_and_unlabelled_history(registry: Registry) -> None:
    """A document without a version label is production-history 1.0 (the default version)."""
    family = registry.detect(_doc('{"exported_at": "2025-12-21T12:00:00", "production_runs": []}'))
    assert family.name == "production-history"
    assert family.version_of(_doc('{"production_runs": []}')) == "1.0"
    assert family.version_of(_doc('{"version": "1.1", "production_runs": []}')) == "1.1"


def test_document_matching_no_family_names_the_known_ones(registry: Registry) -> None:
    """No candidate: the error lists the families that exist."""
    with pytest.raises(
        UnknownFamilyError, match=r"matches no known family \(known: production-history"
    ):
        registry.detect(_doc('{"recipes": []}'))


def test_unknown_label_lists_known_versions(registry: Registry, history: object) -> None:
    """A label the family does not know is refused, listing the known versions."""
    document = _doc('{"version": "1.2", "production_runs": []}')
    with pytest.raises(
        UnknownFamilyError, match=r"'1\.2' is not a known version \(known: 1\.0, 1\.1\)"
    ):
        registry.detect(document)
    from docmigrate import Family

    assert isinstance(history, Family)
    with pytest.raises(UnknownVersionError) as caught:
        history.version_of(document)
    assert caught.value.known == ("1.0", "1.1")
    assert caught.value.label == "1.2"


def test_non_string_label_is_not_relabelled(history: object) -> None:
    """A numeric label such as 1.1 (a number) is not silently taken for "1.1"."""
    from docmigrate import Family

    assert isinstance(history, Family)
    with pytest.raises(UnknownVersionError, match=r"Decimal\('1\.1'\) \(Decimal\)"):
        history.version_of({"version": Decimal("1.1"), "production_runs": []})


def test_absent_label_without_default_version_is_an_error(
    make_family: FamilyMaker, tmp_path: Path
) -> None:
    """A family without default_version requires the label."""
    registry = _discover(make_family({"1": simple_schema("1")}), cwd=tmp_path)
    with pytest.raises(UnknownFamilyError, match=r"no version label at '/v'"):
        registry.detect({"items": []})


def test_document_matching_several_families_names_them(
    make_family: FamilyMaker, tmp_path: Path
) -> None:
    """Two families whose rules both hold: the error names both and suggests --family."""
    one = make_family({"1": simple_schema("1")}, name="one", folder=tmp_path / "one")
    two = make_family({"1": simple_schema("1")}, name="two", folder=tmp_path / "two")
    registry = _discover(one, two, cwd=tmp_path)
    with pytest.raises(UnknownFamilyError, match="several families: one, two") as caught:
        registry.detect({"v": "1", "items": []})
    assert caught.value.candidates == ("one", "two")


def test_detect_equals_rule_pins_a_value(make_family: FamilyMaker, tmp_path: Path) -> None:
    """[detect] equals tells families apart by a field's value."""
    toml = 'version_pointer = "/v"\n[detect]\nrequired = ["/items"]\nequals = { "/app" = "x" }\n'
    folder = make_family({"1": simple_schema("1")}, name="xapp", toml=toml)
    registry = _discover(folder, cwd=tmp_path)
    assert registry.detect({"app": "x", "v": "1", "items": []}).name == "xapp"
    with pytest.raises(UnknownFamilyError):
        registry.detect({"app": "y", "v": "1", "items": []})


@pytest.mark.parametrize(
    "path", sorted((DATA / "bake-tracker-backups").rglob("*.json")), ids=lambda p: p.name
)
def test_full_backups_are_never_taken_for_production_history(
    registry: Registry, path: Path
) -> None:
    """Real full backups (versions 3.2-3.6, some with production_runs) are not detected."""
    document = jsonio.load_path(path).value
    with pytest.raises(UnknownFamilyError):
        registry.detect(document)


def _entry_point_package(site: Path, init_source: str) -> None:
    """Install (on sys.path) a package declaring a docmigrate.families entry point."""
    package = site / "stopping_families"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text(init_source)
    info = site / "stopping_families-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: stopping-families\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[docmigrate.families]\nstopping = stopping_families\n")


def test_entry_point_calling_sys_exit_is_a_configuration_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A package whose import calls sys.exit(0) cannot end the run: a ConfigurationError."""
    _entry_point_package(tmp_path / "site", "import sys\nsys.exit(0)\n")
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    with pytest.raises(
        ConfigurationError, match=r"'stopping' .* failed to load: called sys\.exit\(0\)"
    ):
        Registry.discover(cwd=tmp_path, entry_points=True)


def test_ctrl_c_while_loading_an_entry_point_propagates(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A KeyboardInterrupt while an entry point loads is taken for Ctrl-C and propagates."""
    _entry_point_package(tmp_path / "site", "raise KeyboardInterrupt\n")
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    with pytest.raises(KeyboardInterrupt):
        Registry.discover(cwd=tmp_path, entry_points=True)


def test_pyproject_family_path_error_names_the_pyproject(tmp_path: Path) -> None:
    """A family-paths entry that is not a folder is reported with the pyproject.toml it is in."""
    (tmp_path / "pyproject.toml").write_text('[tool.docmigrate]\nfamily-paths = ["nowhere"]\n')
    with pytest.raises(ConfigurationError) as caught:
        _discover(cwd=tmp_path)
    assert str(caught.value).startswith(f"{tmp_path / 'pyproject.toml'}: family-paths: ")
    assert "nowhere is not a folder" in str(caught.value)


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ("tool = 1\n", "[tool] must be a table, not 1"),
        ("[tool]\ndocmigrate = 5\n", "[tool.docmigrate] must be a table, not 5"),
        ('[tool.docmigrate]\nfamily-paths = "x"\n', "family-paths must be a list of strings"),
    ],
)
def test_pyproject_of_the_wrong_shape_is_a_configuration_error(
    tmp_path: Path, text: str, said: str
) -> None:
    """A [tool] or [tool.docmigrate] of the wrong shape is a ConfigurationError naming the file."""
    (tmp_path / "pyproject.toml").write_text(text)
    with pytest.raises(ConfigurationError) as caught:
        _discover(cwd=tmp_path)
    assert str(caught.value).startswith(f"{tmp_path / 'pyproject.toml'}: {said}")


def test_absent_rule_keeps_a_full_backup_out_of_the_recipe_book(tmp_path: Path) -> None:
    """[detect] absent: a 3.4 full backup (it has /recipes and /version) is not a recipe book."""
    examples = Path(__file__).parent.parent / "examples" / "families"
    registry = Registry.discover([examples], builtin=True, entry_points=False, cwd=tmp_path)
    old = DATA / "bake-tracker-backups" / "3.4" / "bake-tracker-backup-2025-12-20.json"
    document = jsonio.load_path(old).value
    assert "recipes" in document  # the recipe book's own required pointer is there

    with pytest.raises(UnknownFamilyError) as raised:
        registry.detect(document)

    assert "recipe-book: [detect] forbids /version, which the document has" in str(raised.value)
    assert registry.detect({"recipes": []}).name == "recipe-book"
