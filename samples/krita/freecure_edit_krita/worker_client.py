"""Talk to `freecure-edit worker` from a photo editor's plug-in: start it, send a request, and read the
replies up to the one with the request's id, handing the progress events to a callback on the way.

The standard library only, and no import of Krita or of freecure_edit: the editor runs its own Python,
and freecure-edit lives in another environment, reached through the worker's command line.

    with WorkerClient(worker_command()) as worker:        # loads the models once
        reply = worker.cure({"prompt": "a woman with red hair", "input": "/tmp/photo.png",
                             "output": "/tmp/cured.png"}, on_event=print)
"""

import itertools
import json
import os
import shlex
import subprocess

PROTOCOL_VERSION = 1
CANCELLED = 130  # the exit code of a reply to a cancelled request
EVENT_TYPES = ("progress", "preview")
DEFAULT_COMMAND = "freecure-edit worker"


class WorkerError(Exception):
    """The worker refused a request, could not start, or went away. `exit_code` follows freecure-edit's
    exit codes (2 a bad request, 3 a bad image, 4 a missing model...); None when the worker vanished."""

    def __init__(self, message, exit_code=None, reply=None):
        super().__init__(message)
        self.exit_code = exit_code
        self.reply = reply


def worker_command(command_line=None):
    """The command that starts the worker: `command_line`, else $FREECURE_EDIT_WORKER, else
    `freecure-edit worker`; e.g. FREECURE_EDIT_WORKER="/opt/fc/bin/freecure-edit worker --no-detect"."""
    text = command_line or os.environ.get("FREECURE_EDIT_WORKER") or DEFAULT_COMMAND
    return shlex.split(text, posix=os.name != "nt")


class WorkerClient:
    """One worker process and the requests sent to it, one at a time.

    The worker's log (stderr) goes to `log_path` when given: a pipe nobody reads would fill up and
    stall the worker. `hello` is the worker's start-up line: the protocol version and the models.
    """

    def __init__(self, command, env=None, log_path=None):
        self.command = list(command)
        self.env = env
        self.log_path = log_path
        self.hello = None
        self.exit_code = None
        self._process = None
        self._ids = itertools.count(1)

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc_info):
        self.close()

    @property
    def running(self):
        return self._process is not None and self._process.poll() is None

    def start(self):
        """Start the worker and wait for its hello (the models load meanwhile: seconds to minutes)."""
        log = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL
        try:
            self._process = subprocess.Popen(
                self.command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log, env=self.env,
                # Without it, Windows opens a console window for the worker over the editor.
                creationflags=getattr(subprocess, "CREATE_NO_WINDOW", 0),
            )
        except OSError as error:
            raise WorkerError(f"cannot start the worker {' '.join(self.command)!r}: {error}") from None
        finally:
            if log is not subprocess.DEVNULL:
                log.close()
        hello = self._read()
        if hello.get("type") != "hello":
            raise WorkerError(f"the worker began with {hello!r} instead of its hello")
        if hello.get("status") != "ok":
            self._process.stdin.close()
            self._wait(timeout=30)
            raise WorkerError(hello.get("error", "the worker could not start"), hello.get("exit_code"), hello)
        if hello.get("protocol") != PROTOCOL_VERSION:
            self.close()
            raise WorkerError(f"the worker speaks protocol {hello.get('protocol')} and this plug-in "
                              f"{PROTOCOL_VERSION}; update one of them")
        self.hello = hello
        return hello

    def cure(self, request, on_event=None, should_cancel=None):
        """Send `request` (an "id" is added if it has none) and return its reply; events about it go to
        `on_event(event)` meanwhile. Once `should_cancel()` (asked after each event, e.g. a progress
        dialog's wasCanceled) is true, the worker is asked to stop the cure before its next step; the
        reply then raises WorkerError with exit code 130. A reply with status "error" raises WorkerError."""
        request = dict(request)
        request.setdefault("id", f"plugin-{next(self._ids)}")
        self._send(request)
        cancel_sent = False
        while True:
            message = self._read()
            if message.get("id") != request["id"]:
                continue  # about an earlier request whose reply nobody waited for, or our cancel's answer
            if message.get("type") in EVENT_TYPES:
                if on_event is not None:
                    on_event(message)
                if should_cancel is not None and not cancel_sent and should_cancel():
                    self._send({"type": "cancel", "id": f"{request['id']}-cancel", "target": request["id"]})
                    cancel_sent = True
            elif message.get("type") == "result":
                if message.get("status") != "ok":
                    raise WorkerError(message.get("error", "the request failed"), message.get("exit_code"), message)
                return message

    def close(self, timeout=60):
        """Ask the worker to stop and wait for it (killing it after `timeout` seconds); its exit code."""
        if self.running:
            try:
                self._send({"type": "shutdown", "id": "shutdown"})
                self._process.stdin.close()
            except OSError:
                pass  # it ended on its own meanwhile
        if self._process is not None:
            self._wait(timeout)
        return self.exit_code

    def _send(self, message):
        if not self.running:
            raise WorkerError("the worker is not running" + self._log_hint())
        try:
            self._process.stdin.write(json.dumps(message).encode("utf-8") + b"\n")
            self._process.stdin.flush()
        except OSError:
            raise WorkerError("the worker stopped reading requests" + self._log_hint()) from None

    def _read(self):
        line = self._process.stdout.readline()
        if not line:
            self._wait(timeout=30)
            raise WorkerError(f"the worker ended (exit code {self.exit_code})" + self._log_hint())
        try:
            return json.loads(line)
        except ValueError:
            raise WorkerError(f"the worker wrote a line that is not JSON: {line[:200]!r}") from None

    def _wait(self, timeout):
        try:
            self.exit_code = self._process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self.exit_code = self._process.wait()

    def _log_hint(self):
        return f"; its log is {self.log_path}" if self.log_path else ""
