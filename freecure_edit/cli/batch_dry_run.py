"""`batch --dry-run`: list what a run would do (each file, what it becomes, what will be cured) after
the same checks a run makes, without loading a model or writing anything. Torch is imported only
for --resume, to know the precision the parameters' hash includes."""

from __future__ import annotations

from typing import Any

import click

from freecure_edit.cli.batch_plan import build_plan
from freecure_edit.cli.batch_report import dry_run_listing
from freecure_edit.cli.messages import note


def dry_run(params: dict[str, Any], given: set[str]) -> None:
    device_type = params["device"].split(":")[0] if params["device"] else None
    done = None
    if params["resume"]:
        from freecure_edit.cli.batch_resume import entries, to_do
        from freecure_edit.cli.quiet import quiet_libraries
        from freecure_edit.devices import pick_device

        quiet_libraries(params["debug"])
        device = pick_device(params["device"])
        plan = build_plan(params, given, device.type)
        todo, _ = to_do(plan, entries(plan, device), resume=True)
        left = {item.input for item, _, _ in todo}
        done = {item.input for item in plan.items if item.input not in left}
    else:
        plan = build_plan(params, given, device_type)
    for text in plan.notes:
        note(text)
    for line in dry_run_listing(plan, done):
        click.echo(line)
