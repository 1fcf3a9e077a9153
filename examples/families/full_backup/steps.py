"""Upgrades of the bake-tracker full backup.

Numbers arrive as ``int`` or exact ``decimal.Decimal`` (``25.0`` stays ``Decimal("25.0")``),
never as ``float``.
"""

from __future__ import annotations

from typing import Any

from docmigrate import upgrade

LEAF = 2
"""hierarchy_level of an ingredient proper (0 and 1 are the taxonomy's categories and groups)."""


@upgrade("3.5", "3.6")
def ingredients_become_leaves(doc: dict[str, Any]) -> dict[str, Any]:
    """3.6 files ingredients into a taxonomy: a flat 3.5 ingredient becomes a leaf (level 2).

    A whole-document step: it also gives a 3.5 backup without ``suppliers`` (the app wrote such
    files before F028) the empty list 3.6 requires. ``category`` is kept: the 3.6 exporter
    still writes it, and the parent a leaf belongs to is for the app to assign.
    """
    for ingredient in doc["ingredients"]:
        rest = dict(ingredient)
        ingredient.clear()
        for name, value in rest.items():
            ingredient[name] = value
            if name == "category":
                ingredient["hierarchy_level"] = LEAF
        ingredient.setdefault("hierarchy_level", LEAF)
    doc.setdefault("suppliers", [])
    return doc
