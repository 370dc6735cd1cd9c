"""A dry run: what a run would do (each file, what it becomes, what will be cured) after the same checks
a run makes, without loading a model or writing anything. Torch is imported only with resume, to know
the precision the parameters' hash includes."""

from __future__ import annotations

from freecure_edit.batch.outcome import dry_run_listing
from freecure_edit.batch.plan import BatchPlan, plan_batch, with_face_pack
from freecure_edit.batch.settings import BatchSettings


def dry_run(settings: BatchSettings) -> tuple[BatchPlan, list[str]]:
    """The plan (its notes to show first) and the listing: a line per input, then the total."""
    device_type = settings.device.split(":")[0] if settings.device else None
    done = None
    if settings.resume:
        from freecure_edit.batch.resume import entries, to_do
        from freecure_edit.models.devices import pick_device

        device = pick_device(settings.device)
        # The face pack is part of each item's parameters hash, as in a run.
        plan = with_face_pack(plan_batch(settings, device.type))
        todo, _ = to_do(plan, entries(plan, device), resume=True)
        left = {item.input for item, _, _ in todo}
        done = {item.input for item in plan.items if item.input not in left}
    else:
        plan = plan_batch(settings, device_type)
    return plan, dry_run_listing(plan, done)
