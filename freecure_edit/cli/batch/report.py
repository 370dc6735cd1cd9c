"""What `batch` shows: notes on stderr, one progress bar with an ETA over the whole batch on stderr, and
on stdout the listing of a dry run or the summary table at the end."""

from __future__ import annotations

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from freecure_edit.batch.names import readable
from freecure_edit.cli.messages import error_line, note

FAILURES_LISTED = 10


def print_dry_run(settings) -> None:
    from freecure_edit.batch import dry_run

    if settings.resume:
        from freecure_edit.cli.quiet import quiet_libraries

        quiet_libraries(settings.debug)
    plan, listing = dry_run(settings)
    for text in plan.notes:
        note(text)
    for line in listing:
        click.echo(line)


def run_and_report(settings) -> int:
    """Run the batch in this process (one of several, or alone); its exit code."""
    from freecure_edit.cli.batch.signals import signal_stops
    from freecure_edit.cli.quiet import quiet_libraries

    quiet_libraries(settings.debug)
    from freecure_edit.batch import StopControl, run_batch

    display = BatchDisplay(settings.debug)
    try:
        with signal_stops(StopControl()) as stops:
            report = run_batch(settings, on_event=display, stop=stops)
    finally:
        display.close()
    if not report.main_process:
        return 0
    print_summary(report)
    if report.message:
        error_line(report.message)
    return report.exit_code


class BatchDisplay:
    """The listener of a run: notes, the quieting of the libraries as the models load, the bar."""

    def __init__(self, debug: bool, console: Console | None = None):
        self._debug = debug
        self._console = console
        self._progress: Progress | None = None

    def __call__(self, event) -> None:
        from freecure_edit.batch import events

        if event.kind == events.NOTE:
            note(event.data["text"])
        elif event.kind == events.LOADING:
            from freecure_edit.cli.quiet import quiet_loaded_libraries

            quiet_loaded_libraries(self._debug)
        elif event.kind == events.CURING and event.data["total"] > 0:
            self._progress = Progress(
                TextColumn("curing"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), TextColumn("ETA"),
                TimeRemainingColumn(), console=self._console or Console(stderr=True), transient=False,
            )
            self._task = self._progress.add_task("batch", total=event.data["total"])
            self._progress.start()
        elif event.kind == events.PROGRESS and self._progress is not None:
            self._progress.update(self._task, completed=event.data["done"])
        elif event.kind == events.CURED:
            self.close()

    def close(self) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None


def print_summary(report, console: Console | None = None) -> None:
    from freecure_edit.batch.manifest import STATUSES
    from freecure_edit.cure.estimate import format_duration

    counts, kept = report.counts, report.kept
    table = Table(title="batch summary", title_justify="left")
    table.add_column("status")
    table.add_column("inputs", justify="right")
    for status in STATUSES:
        table.add_row(status, str(counts[status]) + (f" ({kept} kept by --resume)" if status == "ok" and kept else ""))
    (console or Console()).print(table)
    done, seconds, per_process = sum(report.per_process), report.seconds, report.per_process
    rate = f" ({done / seconds:.2f} images/s)" if done and seconds > 0 else ""
    split = f" by {len(per_process)} processes ({' + '.join(map(str, per_process))})" if len(per_process) > 1 else ""
    click.echo(f"{done} input{'s' if done != 1 else ''} processed in {format_duration(seconds)}{rate}{split}; "
               f"manifest: {report.plan.folder.manifest}")
    failed = report.failures()
    for name, line in list(failed.items())[:FAILURES_LISTED]:
        click.echo(f"{line['status']}: {readable(name)}: {line['error']}")
    if len(failed) > FAILURES_LISTED:
        click.echo(f"... and {len(failed) - FAILURES_LISTED} more in the manifest")
