"""A real server in a child process: started, awaited and stopped by its PID.

Readiness is the server's own word: the child's stderr is read line by line
(by a thread that also copies it to a log file, so the pipe never fills) until
a line says it is serving, or says it failed, or the child exits. Nothing
waits blindly. The server is stopped by a signal to the PID we started, and
only that one.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from typing_extensions import Self

LOOPBACK = "127.0.0.1"

# AF_UNIX paths are limited to 108 bytes on Linux (sun_path), NUL included.
_UNIX_PATH_MAX = 107


class ServerStartError(RuntimeError):
    """The server did not come up; the message carries the end of its log."""


class PortInUse(ServerStartError):
    """The server could not bind a port we picked: someone took it meanwhile."""


def require_binary(name: str, install_hint: str) -> str:
    """The full path of a server binary, or a failure that says how to get it.

    A missing binary must not skip the tests silently: CI installs it, so a
    machine without it is a broken set-up, reported as such.

    Args:
        name: the executable's name, looked up on PATH and in the sbin folders.
        install_hint: what to run to install it.

    Returns:
        the path of the executable.

    Raises:
        ServerStartError: the binary is not installed.
    """
    search = os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/usr/local/sbin", "/sbin"])
    found = shutil.which(name, path=search)
    if found is None:
        raise ServerStartError(
            f"{name!r} is not installed, and these tests need the real server; "
            f"install it with: {install_hint} (.ci/run does this when run as root)"
        )
    return found


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago.

    Only for servers that cannot bind port 0 themselves and report the port
    (nginx): the port is released before the server binds it, so a start can
    still lose a race; callers retry on :class:`PortInUse`.
    """
    return free_ports(1)[0]


def free_ports(count: int) -> list[int]:
    """*count* distinct ports, as :func:`free_port` gives one.

    Every probe stays bound until all are chosen: ports probed one after
    another can come back equal, and one server given the same port for two
    listeners starts without a complaint (nginx merges them, a plain listener
    then answering as the TLS one beside it).
    """
    with contextlib.ExitStack() as probes:
        ports: list[int] = []
        for _ in range(count):
            probe = probes.enter_context(socket.socket(socket.AF_INET, socket.SOCK_STREAM))
            probe.bind((LOOPBACK, 0))
            ports.append(probe.getsockname()[1])
        return ports


def start_on_free_ports(make: Callable[[], ServerProcess], attempts: int) -> ServerProcess:
    """Start the server *make* sets up (fresh ports each time), retrying a lost port race.

    *make* picks its ports with :func:`free_port`, writes its config and
    returns the process, not started yet. A start whose failure line says a
    port was taken (another process bound it between the probe and the
    server) is tried again with new ports, up to *attempts* times.

    Raises:
        PortInUse: every attempt lost its ports.
        ServerStartError: the server failed for another reason.
    """
    for attempt in range(attempts):
        process = make()
        try:
            process.start()
        except ServerStartError as exc:
            if "in use" not in process.failure_line.lower():
                raise
            if attempt + 1 == attempts:
                raise PortInUse(str(exc)) from None
            continue
        return process
    raise PortInUse(f"no attempt to start {make!r} was made")


def wait_until_accepting(port: int, within: float = 10.0) -> None:
    """Return once 127.0.0.1:*port* accepts a TCP connection.

    For servers whose "ready" log line may come a moment before the
    listening socket takes connections (squid logs "Accepting HTTP Socket
    connections" from its startup sequence): the fixture then hands out a
    server that answers its first request. Connection attempts, refused at
    once while nothing listens, are the synchronisation; the brief pause
    between them only keeps the loop from spinning.

    Raises:
        ServerStartError: not accepting within *within* seconds.
    """
    deadline = time.monotonic() + within
    while True:
        try:
            with socket.create_connection((LOOPBACK, port), timeout=within):
                return
        except OSError as exc:
            if time.monotonic() > deadline:
                raise ServerStartError(
                    f"127.0.0.1:{port} accepts no connection {within} s after its start: {exc}"
                ) from None
            time.sleep(0.005)


def check_unix_path(path: Path) -> Path:
    """``path`` if it fits in a ``sockaddr_un``, else a clear error."""
    if len(os.fsencode(path)) > _UNIX_PATH_MAX:
        raise ServerStartError(f"unix socket path too long for AF_UNIX ({path})")
    return path


class Running:
    """``with server:`` starts it and stops it, whatever happens inside."""

    def start(self) -> Self:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


class ServerProcess(Running):
    """A child process whose stderr says when it is ready.

    Args:
        args: the command line.
        log_path: where the child's stderr is copied.
        ready: a regular expression; the first stderr line matching it means
            the server is serving. Its match is kept in ``ready_match``.
        failed: a regular expression for a line that means the start failed.
        cwd: the child's working directory.
    """

    def __init__(
        self,
        args: Sequence[str],
        *,
        log_path: Path,
        ready: str,
        failed: str | None = None,
        cwd: Path | None = None,
    ) -> None:
        self.args = list(args)
        self.log_path = log_path
        self._ready_re = re.compile(ready)
        self._failed_re = re.compile(failed) if failed else None
        self._cwd = cwd
        self._proc: subprocess.Popen[bytes] | None = None
        self._pump: threading.Thread | None = None
        self._state = threading.Condition()
        self._outcome: str | None = None  # "ready", "failed" or "exited"
        self.ready_match: re.Match[str] | None = None
        self.failure_line = ""

    @property
    def pid(self) -> int:
        if self._proc is None:
            raise RuntimeError("the server is not running")
        return self._proc.pid

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def start(self, timeout: float = 30.0) -> ServerProcess:
        """Start the child and wait until it says it serves.

        Raises:
            ServerStartError: it failed, exited or stayed silent for ``timeout``.
        """
        if self._proc is not None:
            raise RuntimeError("already started")
        self._outcome = None
        self.ready_match = None
        self.failure_line = ""
        self._proc = subprocess.Popen(
            self.args,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            # Same process group as pytest: a Ctrl-C that stops the run stops
            # the servers too, even if the fixture teardown never runs.
            cwd=self._cwd,
        )
        self._pump = threading.Thread(
            target=self._copy_stderr, name=f"stderr of {Path(self.args[0]).name}", daemon=True
        )
        self._pump.start()
        with self._state:
            settled = self._state.wait_for(lambda: self._outcome is not None, timeout)
            outcome = self._outcome
        if outcome == "ready":
            return self
        self.stop()
        if not settled:
            raise ServerStartError(
                f"{self.args[0]} did not start in {timeout:g} s{self.log_tail()}"
            )
        raise ServerStartError(f"{self.args[0]} did not start{self.log_tail()}")

    def _copy_stderr(self) -> None:
        assert self._proc is not None and self._proc.stderr is not None
        stderr = self._proc.stderr
        with open(self.log_path, "ab", buffering=0) as log:
            for raw in stderr:
                log.write(raw)
                line = raw.decode(errors="replace")
                if self._outcome is not None:
                    continue
                if self._failed_re is not None and self._failed_re.search(line):
                    self._settle("failed", failure_line=line)
                elif (match := self._ready_re.search(line)) is not None:
                    self.ready_match = match
                    self._settle("ready")
        # EOF: the child and every process that shared its stderr are gone.
        self._settle("exited")

    def _settle(self, outcome: str, failure_line: str = "") -> None:
        with self._state:
            if self._outcome is None:
                self._outcome = outcome
                self.failure_line = failure_line
            self._state.notify_all()

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 10.0) -> None:
        """Signal the PID we started, wait for it, and close our pipe.

        Killed (SIGKILL, same PID) if it has not exited after ``timeout``.
        """
        proc, self._proc = self._proc, None
        if proc is None:
            return
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(proc.pid, sig)
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(proc.pid, signal.SIGKILL)
                proc.wait()
        if self._pump is not None:
            # Ends at EOF, once every holder of the pipe's write end is gone.
            self._pump.join(timeout)
            self._pump = None
        assert proc.stderr is not None
        proc.stderr.close()

    def log_tail(self, size: int = 4000) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return f"; its log {self.log_path}:\n{text[-size:]}"
