"""What `batch` prints on stdout: the listing of a dry run, or the summary table at the end, and the
exit code the outcomes add up to."""

from __future__ import annotations

from typing import Any

import click
from rich.console import Console
from rich.table import Table

from freecure_edit.batch.manifest import STATUSES
from freecure_edit.batch.names import readable
from freecure_edit.cli.batch_plan import BatchItem, BatchPlan
from freecure_edit.cli.fix_report import format_duration
from freecure_edit.errors import IdentityBelowThresholdError

FAILURES_LISTED = 10
EXIT_SOME_FAILED = 1


def dry_run_listing(plan: BatchPlan, done: set[str] | None) -> list[str]:
    """One line per input (what it becomes, what will be cured, what its row changes), then a total."""
    lines = [_listing_line(item, done is not None and item.input in done) for item in plan.items]
    total = f"{len(plan.items)} input{'s' if len(plan.items) != 1 else ''}"
    if done is not None:
        total += f", {len(done)} done already and kept by --resume"
    return [*lines, f"{total}; dry run: no model loaded, nothing written"]


def _listing_line(item: BatchItem, done: bool) -> str:
    cured = ", ".join(attribute.text for attribute in item.parsed.attributes) or "no attribute: copied unchanged"
    if item.refusal:
        cured = "refused: JPEG cannot store its transparency"
    line = f"{readable(item.input)} -> {readable(item.output)}: {cured}"
    if item.overrides:
        line += f"; its row sets {', '.join(item.overrides)}"
    if item.renamed_from:
        line += f"; renamed: several inputs would make {item.renamed_from}"
    return f"{line} (done)" if done else line


def outcome_counts(items: list[BatchItem], lines: dict[str, dict[str, Any]]) -> dict[str, int]:
    counts = dict.fromkeys(STATUSES, 0)
    for item in items:
        line = lines.get(item.input)
        counts[line["status"] if line else "skipped"] += 1
    return counts


def print_summary(plan: BatchPlan, lines: dict[str, dict[str, Any]], kept: int, per_process: list[int],
                  seconds: float, console: Console | None = None) -> None:
    counts = outcome_counts(plan.items, lines)
    table = Table(title="batch summary", title_justify="left")
    table.add_column("status")
    table.add_column("inputs", justify="right")
    for status in STATUSES:
        table.add_row(status, str(counts[status]) + (f" ({kept} kept by --resume)" if status == "ok" and kept else ""))
    (console or Console()).print(table)
    done = sum(per_process)
    rate = f" ({done / seconds:.2f} images/s)" if done and seconds > 0 else ""
    split = f" by {len(per_process)} processes ({' + '.join(map(str, per_process))})" if len(per_process) > 1 else ""
    click.echo(f"{done} input{'s' if done != 1 else ''} processed in {format_duration(seconds)}{rate}{split}; "
               f"manifest: {plan.folder.manifest}")
    failed = [item for item in plan.items if lines.get(item.input, {}).get("status") in ("failed", "low_identity")]
    for item in failed[:FAILURES_LISTED]:
        line = lines[item.input]
        click.echo(f"{line['status']}: {readable(item.input)}: {line['error']}")
    if len(failed) > FAILURES_LISTED:
        click.echo(f"... and {len(failed) - FAILURES_LISTED} more in the manifest")


def batch_exit_code(items: list[BatchItem], lines: dict[str, dict[str, Any]]) -> tuple[int, str | None]:
    """0 when every input is ok; when some failed, their exit code if they all share one (3: bad
    images), else 1; 6 when the only trouble is identities below --min-identity. With the message."""
    failed = [lines[item.input] for item in items if lines.get(item.input, {}).get("status") == "failed"]
    low = [item for item in items if lines.get(item.input, {}).get("status") == "low_identity"]
    if failed:
        codes = {line.get("exit_code") for line in failed}
        code = codes.pop() if len(codes) == 1 and None not in codes else EXIT_SOME_FAILED
        return code, f"{len(failed)} of {len(items)} inputs failed (see the manifest)"
    if low:
        return IdentityBelowThresholdError.exit_code, (
            f"{len(low)} of {len(items)} inputs stayed below --min-identity (see the manifest)"
        )
    return 0, None
