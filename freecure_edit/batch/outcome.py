"""What a batch comes to: the listing of a dry run, the outcome of a run (each input's manifest line,
counted by status) and the exit code the outcomes add up to."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from freecure_edit.batch.manifest import STATUSES
from freecure_edit.batch.names import readable
from freecure_edit.batch.plan import BatchItem, BatchPlan
from freecure_edit.errors import IdentityBelowThresholdError

EXIT_SOME_FAILED = 1


@dataclass(frozen=True)
class BatchReport:
    """What run_batch returns. In a process other than the main one of several, only `exit_code` and
    `per_process` mean anything (the main process merges and reports)."""

    plan: BatchPlan
    lines: dict[str, dict[str, Any]]  # input -> its manifest line, every process's
    kept: int  # inputs done already and kept by resume
    per_process: list[int]  # how many inputs each process cured (or failed) in this run
    seconds: float
    exit_code: int  # 0 when every input is ok; see batch_exit_code
    message: str | None  # why the exit code is not 0
    main_process: bool = True

    @property
    def counts(self) -> dict[str, int]:
        return outcome_counts(self.plan.items, self.lines)

    def failures(self) -> dict[str, dict[str, Any]]:
        """input -> line of the inputs that failed or stayed below min_identity, in the plan's order."""
        return {item.input: self.lines[item.input] for item in self.plan.items
                if self.lines.get(item.input, {}).get("status") in ("failed", "low_identity")}


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
