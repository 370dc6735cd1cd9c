"""Which inputs a run still has to do: --resume keeps an input whose manifest line is ok, made with
the same parameters (the same hash) from the same input content into the output this run would write,
which still opens. Every other input (failed, below the identity threshold, stopped, changed, replaced,
never started, or whose output was damaged) is done again."""

from __future__ import annotations

from typing import Any

from freecure_edit.batch.manifest import collect
from freecure_edit.batch.parameters import is_done
from freecure_edit.batch.item_parameters import item_hash, resolved_dtype
from freecure_edit.batch.plan import BatchItem, BatchPlan

Entry = tuple[BatchItem, dict[str, Any], str]  # the item, its parameters and their hash


def entries(plan: BatchPlan, device) -> list[Entry]:
    dtype = resolved_dtype(device, plan.choice.dtype)
    return [(item, *item_hash(item, plan.choice, dtype)) for item in plan.items]


def to_do(plan: BatchPlan, all_entries: list[Entry], *, resume: bool) -> tuple[list[Entry], int]:
    """The entries still to do, and how many are kept. Reads the manifest and the shards a killed run
    left without writing anything (the same lines a merge would keep)."""
    if not resume:
        return all_entries, 0
    previous = collect(plan.folder).lines
    todo = [
        (item, parameters, digest) for item, parameters, digest in all_entries
        if not is_done(previous.get(item.input), item.output, digest, plan.input_dir / item.input,
                       plan.folder.root / item.output)
    ]
    return todo, len(all_entries) - len(todo)
