"""What a running batch tells its caller, through `on_event(BatchEvent)`, on the batch's own thread
(progress on a thread of its own, which follows the shards):

- note {text}: something to show the user (a preset applied, inputs left out, inputs kept by resume);
- loading {}: the models are about to load (before the first image that needs one);
- curing {total}: the main process starts curing `total` inputs, all processes together;
- progress {done, total}: how many of them have their manifest line (main process, twice a second);
- item {line}: this process has recorded an input (its manifest line);
- cured {}: the main process has stopped curing (the end of the progress display), however it ended.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

NOTE = "note"
LOADING = "loading"
CURING = "curing"
PROGRESS = "progress"
ITEM = "item"
CURED = "cured"


@dataclass(frozen=True)
class BatchEvent:
    kind: str
    data: dict[str, Any] = field(default_factory=dict)


BatchListener = Callable[[BatchEvent], None]
