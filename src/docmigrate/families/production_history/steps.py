"""Steps of the production-history family.

The defaults a 1.0 run gains come from the 1.1 schema (``"default"``), so the schema stays
the single source of truth: change a default there and the upgrade follows.
"""

from typing import Any

from docmigrate import StepContext, downgrade, upgrade

LOSS_TRACKING = ("production_status", "loss_quantity", "losses")


@upgrade("1.0", "1.1", each="/production_runs")
def add_loss_tracking(run: dict[str, Any], context: StepContext) -> dict[str, Any]:
    """Give a run the loss-tracking fields of 1.1, with the 1.1 schema's defaults."""
    for key, value in context.defaults().items():
        run.setdefault(key, value)
    return run


@downgrade("1.1", "1.0", each="/production_runs", drops=[f"/{key}" for key in LOSS_TRACKING])
def drop_loss_tracking(run: dict[str, Any]) -> dict[str, Any]:
    """Remove the loss-tracking fields; refused by the migrator if a run has real losses."""
    for key in LOSS_TRACKING:
        run.pop(key, None)
    return run
