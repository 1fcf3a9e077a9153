"""Start-up: what `docmigrate validate` imports, and the cheap entry-point look-up.

Start-up is most of the time of validating a few small files, so `validate` must not import
what it does not use. These tests look at ``sys.modules`` of a real process (behaviour, not
timing).
"""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from importlib.machinery import PathFinder
from pathlib import Path
from typing import Any

import pytest

import docmigrate
from docmigrate import jsonio, registry, resources, schema_walk
from docmigrate.commands import STREAMING_MIN_SIZE

HISTORY_VALID = Path(__file__).parent / "data" / "production_history" / "1.1" / "valid"

HEAVY = (
    "sqlalchemy", "hypothesis", "rich", "distributed", "dask", "importlib.metadata",
    "multiprocessing", "concurrent.futures.process", "xml.etree.ElementTree", "difflib",
    "logging", "ctypes", "docmigrate.store", "docmigrate.evolution.diff", "docmigrate.textdiff",
    "docmigrate.transfer", "docmigrate.testing", "traceback", "textwrap",
)  # fmt: skip
"""Modules `validate` never needs (stores, property testing, workers, other reports, tracebacks)."""

LAZY = ("docmigrate.api", "importlib.resources", "tempfile", "shutil")
"""Made lazy for start-up: the package's public names, shipped data files, writing's helpers."""

WRITING = (
    "orjson", "docmigrate.jsonio.writing", "docmigrate.migrator", "docmigrate.style",
    "docmigrate.streaming", "docmigrate.jsonio.streaming", "docmigrate.deadline",
)  # fmt: skip
"""What only upgrades and streamed files need: a small file's validation imports none."""

# Runs the command line in a fresh interpreter, then prints the modules it ended up with.
_SCRIPT = """
import atexit, json, sys
atexit.register(lambda: sys.stderr.write("MODULES " + json.dumps(sorted(sys.modules)) + "\\n"))
from docmigrate.cli import main
main()
"""


def _modules_after(*arguments: str) -> tuple[int, str, set[str]]:
    """Run ``docmigrate ARGUMENTS`` in a subprocess: exit code, stdout, modules imported."""
    done = subprocess.run(
        [sys.executable, "-c", _SCRIPT, *arguments], capture_output=True, text=True, check=False
    )
    lines = done.stderr.splitlines()
    found = [line.removeprefix("MODULES ") for line in lines if line.startswith("MODULES ")]
    assert len(found) == 1, done.stderr
    return done.returncode, done.stdout, set(json.loads(found[0]))


def _big_history(path: Path) -> Path:
    """A valid production-history file past the streaming threshold."""
    runs = [
        {
            "uuid": f"00000000-0000-4000-8000-{i:012d}", "recipe_name": "Bread",
            "finished_unit_slug": "loaf", "num_batches": 1, "expected_yield": 24,
            "actual_yield": 24, "produced_at": "2025-01-01T09:30:00", "notes": None,
            "total_ingredient_cost": "1.2000", "per_unit_cost": "0.0500", "consumptions": [],
            "production_status": "complete", "loss_quantity": 0, "losses": [],
        }
        for i in range(STREAMING_MIN_SIZE // 300)
    ]  # fmt: skip
    document = {"version": "1.1", "exported_at": "2025-12-21T12:00:00", "production_runs": runs}
    path.write_bytes(jsonio.dump_bytes(document, indent=2))
    assert path.stat().st_size > STREAMING_MIN_SIZE
    return path


@pytest.mark.parametrize("pipeline", ["in memory", "streaming"])
def test_validate_imports_nothing_heavy(pipeline: str, tmp_path: Path) -> None:
    """`validate` of a valid file imports none of HEAVY (nor WRITING when read whole)."""
    if pipeline == "streaming":
        target = _big_history(tmp_path / "big.json")
    else:
        target = HISTORY_VALID / "with-losses.json"
    code, out, modules = _modules_after("validate", "--verbose", str(target))
    assert code == 0 and out.startswith("1 file, 0 invalid"), out
    # The file really was read, detected and validated by this process.
    assert {"docmigrate.validation", "docmigrate.jsonio.reading", "jsonschema_rs"} <= modules
    assert pipeline != "streaming" or "docmigrate.streaming" in modules
    unused = HEAVY + LAZY if pipeline == "streaming" else HEAVY + LAZY + WRITING
    if pipeline == "streaming":  # msgspec reads the records in batches, and imports textwrap
        assert "msgspec" in modules
        unused = tuple(name for name in unused if name != "textwrap")
    loaded = sorted(m for m in modules if any(m == h or m.startswith(h + ".") for h in unused))
    assert loaded == []


def test_import_docmigrate_alone_is_light() -> None:
    """``import docmigrate`` loads none of its submodules (they load on first use)."""
    script = "import json, sys, docmigrate; print(json.dumps(sorted(sys.modules)))"
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    modules = set(json.loads(done.stdout))
    assert "docmigrate" in modules
    assert sorted(m for m in modules if m.startswith("docmigrate.")) == []
    assert not {"click", "jsonschema_rs", "dataclasses", "tomllib", "typing"} & modules


def test_every_public_name_is_importable() -> None:
    """Each name of ``docmigrate.__all__`` imports, as the object its home module defines."""
    script = (
        "import json, docmigrate\n"
        "from docmigrate import *\n"
        "names = [n for n in docmigrate.__all__ if n in globals()]\n"
        "homes = {n: getattr(getattr(docmigrate, n), '__module__', None) for n in names}\n"
        "print(json.dumps({'all': docmigrate.__all__, 'star': names, 'homes': homes}))"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    found = json.loads(done.stdout)
    assert len(found["all"]) == 36 and found["star"] == found["all"]
    module_names = {name: home for name, home in found["homes"].items() if home is not None}
    assert len(module_names) == 35  # all but __version__, a string
    assert all(home.startswith("docmigrate.") for home in module_names.values())
    assert docmigrate.__version__ and set(docmigrate.__all__) <= set(dir(docmigrate))


def test_an_unknown_name_is_an_attribute_error() -> None:
    """A name docmigrate does not define raises AttributeError (``hasattr`` is False)."""
    with pytest.raises(AttributeError, match="no attribute 'nonexistent'"):
        docmigrate.nonexistent  # noqa: B018
    assert not hasattr(docmigrate, "api_")


@pytest.fixture(autouse=True)
def standard_finders(monkeypatch: pytest.MonkeyPatch) -> None:
    """Only the standard path finder lists distributions (importing Dask adds another)."""
    standard = [f for f in sys.meta_path if f is PathFinder or not _lists_distributions(f)]
    monkeypatch.setattr(sys, "meta_path", standard)


def _lists_distributions(finder: object) -> bool:
    return hasattr(finder, "find_distributions")


def _site(tmp_path: Path, groups: dict[str, str]) -> Path:
    """A folder of ``*.dist-info`` distributions, one per name, declaring ``groups[name]``."""
    site = tmp_path / "site"
    for name, text in groups.items():
        info = site / f"{name}-1.0.dist-info"
        info.mkdir(parents=True)
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n")
        (info / "entry_points.txt").write_text(text)
    (site / "plain-2.0.dist-info").mkdir(parents=True)  # a distribution without entry points
    return site


def test_no_declaring_distribution_means_no_metadata_scan(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Distributions declaring only other groups are seen as declaring no families."""
    site = _site(tmp_path, {"tool": "[console_scripts]\ntool = tool:main\n"})
    monkeypatch.setattr(sys, "path", [str(site), str(tmp_path / "missing")])
    assert registry._may_declare_families() is False
    assert registry._entry_point_paths() == []


@pytest.mark.parametrize("header", ["[docmigrate.families]", "[ docmigrate.families ]"])
def test_a_declaring_distribution_is_seen(
    header: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A dist-info naming the families group, however spaced, sends the look-up on."""
    site = _site(tmp_path, {"tool": "[console_scripts]\nt = t:main\n", "fam": f"{header}\n"})
    monkeypatch.setattr(sys, "path", [str(site)])
    assert registry._may_declare_families() is True


def test_a_zip_on_sys_path_is_left_to_importlib_metadata(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A sys.path entry the cheap look cannot list (a zip) makes it defer to importlib."""
    archive = tmp_path / "packages.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("fam-1.0.dist-info/entry_points.txt", "[docmigrate.families]\n")
    monkeypatch.setattr(sys, "path", [str(_site(tmp_path, {})), str(archive)])
    assert registry._may_declare_families() is True


def test_a_bug_still_prints_its_traceback(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A bug still prints its traceback (the module is imported only then)."""
    from docmigrate import cli

    def broken(*_args: object, **_kwargs: object) -> str:
        raise RuntimeError("injected bug")

    monkeypatch.setattr(cli, "render", broken)
    with pytest.raises(SystemExit) as done:
        cli.main(["validate", str(HISTORY_VALID / "with-losses.json")])
    err = capsys.readouterr().err
    assert done.value.code == 2
    assert "docmigrate: internal error (please report it):" in err
    assert "Traceback (most recent call last)" in err and "RuntimeError: injected bug" in err


def test_an_unpacked_egg_declaring_families_is_seen(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An unpacked egg on sys.path (its EGG-INFO folder) is looked at as importlib does."""
    egg = tmp_path / "fam-1.0-py3.11.egg"
    (egg / "EGG-INFO").mkdir(parents=True)
    (egg / "EGG-INFO" / "entry_points.txt").write_text("[docmigrate.families]\nfam = fam\n")
    monkeypatch.setattr(sys, "path", [str(egg)])
    assert registry._may_declare_families() is True
    (egg / "EGG-INFO" / "entry_points.txt").write_text("[console_scripts]\nfam = fam:main\n")
    assert registry._may_declare_families() is False


def test_another_distribution_finder_is_left_to_importlib_metadata(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A meta-path finder that lists distributions of its own makes the cheap look defer."""

    class Finder:
        """Lists distributions the folders on sys.path do not show."""

        def find_spec(self, *_args: object) -> None:
            return None

        def find_distributions(self, *_args: object) -> list[object]:
            return []

    monkeypatch.setattr(sys, "path", [str(_site(tmp_path, {}))])
    assert registry._may_declare_families() is False
    monkeypatch.setattr(sys, "meta_path", [*sys.meta_path, Finder()])
    assert registry._may_declare_families() is True


def test_shipped_data_reads_from_a_folder_or_a_zip(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """package_data reads a package's file wherever its loader finds it, as importlib would."""
    archive = tmp_path / "zipped.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("zipped_data/__init__.py", "")
        zipped.writestr("zipped_data/table.json", '{"a": 1}')
    monkeypatch.syspath_prepend(str(archive))
    assert resources.package_data("zipped_data", "table.json") == b'{"a": 1}'
    shipped = resources.package_data("docmigrate.metaschemas", "metaschemas.json")
    assert (
        shipped == (Path(resources.__file__).parent / "metaschemas/metaschemas.json").read_bytes()
    )
    assert len(resources.metaschemas()) == len(json.loads(shipped)) > 10
    with pytest.raises(OSError):  # what the zip's loader raises for a missing file
        resources.package_data("zipped_data", "missing.json")


def test_non_local_references_walk_the_schema_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """Finding a schema's outgoing references walks its subschemas once, not twice."""
    walks: list[str] = []
    walk = schema_walk.iter_subschemas

    def counted(root: Any, base: str = "", *, draft_4: bool = False) -> Any:
        walks.append(base)
        return walk(root, base, draft_4=draft_4)

    monkeypatch.setattr(schema_walk, "iter_subschemas", counted)
    schema = {"$id": "https://e/s", "items": [{"$ref": "other.json"}, {"$ref": "#/items/0"}]}
    found = schema_walk.non_local_references(schema, "https://e/s")
    assert [r.value for r in found] == ["other.json"]
    assert walks == ["https://e/s"]


def test_validate_skips_the_one_time_costs_it_does_not_need() -> None:
    """A small validate reads no shipped metaschema and compiles no tokenizer pattern.

    The built-in family reaches no remote schema, and its lock's step sources are read off
    the syntax tree; both are one-time costs that would be most of its family's loading.
    """
    script = (
        "import sys, tokenize\n"
        "from docmigrate import resources\n"
        "from docmigrate.cli import main\n"
        "try:\n"
        "    main(['validate', sys.argv[1]])\n"
        "except SystemExit as done:\n"
        "    lock_checked = 'docmigrate.evolution.lock' in sys.modules\n"
        "    print(done.code, resources.metaschemas.cache_info().misses,\n"
        "          tokenize._compile.cache_info().misses, lock_checked)"
    )
    target = HISTORY_VALID / "with-losses.json"
    done = subprocess.run(
        [sys.executable, "-c", script, str(target)], capture_output=True, text=True, check=True
    )
    assert done.stdout.splitlines()[-1].split() == ["0", "0", "0", "True"], done.stdout
