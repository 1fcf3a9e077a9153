"""The README's "Write your own family" example is real: its files load and behave."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from docmigrate import DataLossError, Registry, migrate

ROOT = Path(__file__).parent.parent
FAMILY = ROOT / "examples" / "families" / "recipe_book"


def _readme_blocks() -> dict[str, str]:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("## Write your own family") :]
    section = section[: section.index("**Where docmigrate finds families**")]
    blocks: dict[str, str] = {}
    for kind, body in re.findall(r"```(\w+)\n(.*?)```", section, re.S):
        blocks.setdefault(kind, body)  # the first of each kind; later ones are fragments
    return blocks


def test_readme_blocks_are_the_example_family_files() -> None:
    """The family.toml, 2.schema.json and steps.py shown in the README are the shipped ones."""
    blocks = _readme_blocks()
    assert blocks["toml"] == (FAMILY / "family.toml").read_text(encoding="utf-8")
    assert blocks["json"] == (FAMILY / "2.schema.json").read_text(encoding="utf-8")
    assert blocks["python"] == (FAMILY / "steps.py").read_text(encoding="utf-8")


def test_readme_family_detects_upgrades_and_guards_downgrades(tmp_path: Path) -> None:
    """An unlabelled recipe book is version 1, gains servings 4, and loses it only if allowed."""
    registry = Registry.discover([FAMILY], cwd=tmp_path, entry_points=False)
    old = {"recipes": [{"id": "r1", "name": "Scones"}]}
    family = registry.detect(old)
    assert family.name == "recipe-book"
    upgraded = migrate(old, family).document
    assert upgraded == {"format": "2", "recipes": [{"id": "r1", "name": "Scones", "servings": 4}]}
    assert migrate(upgraded, family, to="1").document == {"format": "1", **old}
    upgraded["recipes"][0]["servings"] = 8
    with pytest.raises(DataLossError, match=r"\$\.recipes\[0\]\.servings"):
        migrate(upgraded, family, to="1")
