"""A real `freecure-edit worker` subprocess on the tiny models, and what the tests need to talk to it.

Every line the worker writes to stdout goes through `_read_lines`, which records it; `messages()`
parses them and fails on anything that is not a JSON object with a "type", so any test that talks to
the worker also checks that stdout carries the protocol alone. A reader thread and a queue give every
read a timeout: a worker that hangs fails the test instead of hanging the suite.
"""

from __future__ import annotations

import base64
import json
import os
import queue
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path

import pytest

STARTUP_SECONDS = 120  # imports and model loading, on a busy 2-core CI machine
REQUEST_SECONDS = 120


def parse_line(line: bytes) -> dict:
    """A stdout line as the protocol's object; an AssertionError names any line that is not one."""
    try:
        message = json.loads(line)
    except ValueError:
        raise AssertionError(f"a line on the worker's stdout is not JSON: {line!r}") from None
    assert isinstance(message, dict) and isinstance(message.get("type"), str), f"not a protocol message: {line!r}"
    return message


def worker_command(args: list[str]) -> list[str]:
    return [sys.executable, "-m", "freecure_edit.cli", "worker", *[str(arg) for arg in args]]


def single_thread_environment() -> dict[str, str]:
    """For a subprocess on the tiny models: one compute thread. Their operations are too small to split,
    and on a 2-core machine shared with the other test process, spinning OpenMP threads starve each
    other (measured: 0.3 s a request with one thread, 1 to 20 s with the default two)."""
    return {**os.environ, "OMP_NUM_THREADS": "1"}


@dataclass
class Exchange:
    events: list[dict]  # everything sent before the reply, in order
    reply: dict

    def of_type(self, kind: str) -> list[dict]:
        return [event for event in self.events if event["type"] == kind]


@dataclass
class WorkerProcess:
    process: subprocess.Popen
    stderr_path: Path
    lines: list[bytes] = field(default_factory=list)  # every stdout line so far, raw
    hello: dict = field(default_factory=dict)
    _queue: queue.Queue = field(default_factory=queue.Queue)

    @classmethod
    def start(cls, args: list[str], folder: Path) -> "WorkerProcess":
        stderr_path = folder / f"worker-{len(list(folder.glob('worker-*.stderr')))}.stderr"
        with open(stderr_path, "wb") as stderr:
            process = subprocess.Popen(worker_command(args), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                       stderr=stderr, cwd=folder, env=single_thread_environment())
        worker = cls(process, stderr_path)
        threading.Thread(target=worker._read_lines, daemon=True).start()
        return worker

    def _read_lines(self) -> None:
        for line in iter(self.process.stdout.readline, b""):
            self.lines.append(line)
            self._queue.put(line)
        self._queue.put(None)  # end of output

    @property
    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace")

    def next_message(self, timeout: float = REQUEST_SECONDS) -> dict:
        try:
            line = self._queue.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"the worker said nothing for {timeout} s; its stderr:\n{self.stderr}") from None
        if line is None:
            self._queue.put(None)
            raise AssertionError(f"the worker's stdout ended (exit code {self.process.poll()}); its stderr:\n"
                                 f"{self.stderr}")
        return parse_line(line)

    def send(self, message: dict | str | bytes) -> None:
        if isinstance(message, dict):
            message = json.dumps(message)
        data = message if isinstance(message, bytes) else message.encode()
        self.process.stdin.write(data.rstrip(b"\n") + b"\n")
        self.process.stdin.flush()

    def answer(self, message: dict | str | bytes) -> Exchange:
        """Send one request and read up to its reply: the one message that is not an event."""
        self.send(message)
        events = []
        while True:
            received = self.next_message()
            if received["type"] in ("progress", "preview"):
                events.append(received)
            else:
                return Exchange(events, received)

    def rss_bytes(self) -> int:
        """The worker's resident memory, from the kernel (Linux)."""
        status = Path(f"/proc/{self.process.pid}/status")
        if not status.exists():
            pytest.skip("reading a process's memory needs Linux's /proc")
        for line in status.read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
        raise AssertionError(f"no VmRSS in {status}")

    def close(self, timeout: float = 60) -> int:
        """End of input, the way an editor that quits ends it; the exit code."""
        if not self.process.stdin.closed:
            self.process.stdin.close()
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise AssertionError(f"the worker did not end within {timeout} s of its input ending") from None


class WorkerPool:
    """One worker per test module, started on first use and again only if a test ended it (the shutdown
    test), so that the tests do not depend on the order they run in."""

    def __init__(self, args: list[str], folder: Path):
        self.args = args
        self.folder = folder
        self._current: WorkerProcess | None = None

    def live(self) -> WorkerProcess:
        if self._current is None or self._current.process.poll() is not None:
            self._current = WorkerProcess.start(self.args, self.folder)
            hello = self._current.next_message(timeout=STARTUP_SECONDS)
            assert hello["type"] == "hello" and hello["status"] == "ok", (hello, self._current.stderr)
            self._current.hello = hello
        return self._current

    def close(self) -> None:
        if self._current is not None and self._current.process.poll() is None:
            self._current.close()


def encoded(path: Path) -> str:
    return base64.b64encode(path.read_bytes()).decode("ascii")


def decoded_image(text: str):
    import io

    import PIL.Image

    with PIL.Image.open(io.BytesIO(base64.b64decode(text))) as image:
        image.load()
        return image.copy()


def files_in(folder: Path) -> set[str]:
    return {entry.name for entry in os.scandir(folder)}
