"""A rich progress bar per phase of the cure, on stderr.

`FreeCure.cure` reports (phase, done, total) for the phases that loop over steps. The phases run one
after another, so a report from one phase also means that every phase before it has finished: that
is how the masks and paste phases, which report nothing themselves, are shown as done. A report from
an earlier phase than the last one seen starts a new pass (the next face, or an identity retry): the
bars start again, labelled with the pass number.
"""

from __future__ import annotations

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from freecure_edit.cure.phases import PHASE_LABELS


class PhaseProgress:
    """A context manager, and the `progress` callable handed to `FreeCure.cure`."""

    def __init__(self, plan: list[tuple[str, int]], console: Console | None = None):
        self._order = [phase for phase, _ in plan]
        self._totals = dict(plan)
        self._progress = Progress(
            TextColumn("{task.description:<22}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console or Console(stderr=True),
            transient=False,
        )
        self._tasks: dict[str, int] = {}
        self._latest = -1  # the position in the order of the latest phase reported
        self._pass = 1

    def __enter__(self) -> "PhaseProgress":
        for phase in self._order:
            self._tasks[phase] = self._progress.add_task(PHASE_LABELS.get(phase, phase), total=self._totals[phase],
                                                          start=False)
        self._progress.start()
        return self

    def __call__(self, phase: str, done: int, total: int) -> None:
        if phase not in self._tasks:
            self._order.append(phase)
            self._tasks[phase] = self._progress.add_task(PHASE_LABELS.get(phase, phase), total=total, start=False)
        position = self._order.index(phase)
        if position < self._latest:
            self._start_pass()
        self._latest = position
        for earlier in self._order[:position]:
            self._complete(earlier)
        self._totals[phase] = total
        task = self._tasks[phase]
        self._progress.start_task(task)
        self._progress.update(task, total=total, completed=done)

    def _start_pass(self) -> None:
        self._pass += 1
        for phase, task in self._tasks.items():
            label = f"{PHASE_LABELS.get(phase, phase)} ({self._pass})"
            self._progress.reset(task, start=False, description=label)

    def finish(self) -> None:
        """The cure returned: every phase is done."""
        for phase in self._order:
            self._complete(phase)

    def _complete(self, phase: str) -> None:
        task = self._tasks[phase]
        self._progress.start_task(task)
        self._progress.update(task, completed=self._totals[phase])

    def __exit__(self, *exc_info) -> None:
        self._progress.stop()
