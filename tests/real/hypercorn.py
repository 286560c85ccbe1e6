"""hypercorn run from its own command line, as a child process.

    with Hypercorn("httpbin:app", directory, unix=True) as server:
        server.unix_path, server.url("/get")
    with Hypercorn(EARLY_APP, directory, certificate=cert) as server:
        server.port, server.url("/early/413")   # https://127.0.0.1:PORT/...

A TCP server binds port 0 itself and its "Running on" line tells the port, so
there is no race for a port. That same line, printed once the listener is
serving, is the readiness signal. One process (``-w 0``): the PID we started is
the server, and SIGTERM to it is a graceful stop.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from tests.real.nginx import Certificate
from tests.real.process import LOOPBACK, Running, ServerProcess, check_unix_path

EARLY_APP = f"{Path(__file__).with_name('_early_app.py')}:app"
H2_APP = f"{Path(__file__).with_name('_h2_app.py')}:app"

# "Running on http://127.0.0.1:PORT (CTRL + C to quit)", or "unix:PATH".
_READY = r"Running on (?:https?://)?(?P<where>\S+) \(CTRL"


class Hypercorn(Running):
    """hypercorn serving ``app`` on TCP 127.0.0.1 or on a Unix socket.

    Args:
        app: hypercorn's application spec (``module:name`` or ``path.py:name``).
        directory: a private directory for the socket, config and logs.
        unix: bind ``unix:DIRECTORY/hypercorn.sock`` instead of TCP.
        certificate: serve TLS with it.
        alpn: the protocols TLS offers by ALPN (``("h2", "http/1.1")`` for the
            HTTP/2 tests). Over plain TCP hypercorn speaks h2c to a client
            that opens with the HTTP/2 preface whatever this says.
    """

    def __init__(
        self,
        app: str,
        directory: Path,
        *,
        unix: bool = False,
        certificate: Certificate | None = None,
        alpn: tuple[str, ...] = ("http/1.1",),
    ) -> None:
        self.app = app
        self.alpn = alpn
        self.directory = directory
        self.unix = unix
        self.certificate = certificate
        self.port = 0
        self._process: ServerProcess | None = None

    @property
    def unix_path(self) -> Path:
        return self.directory / "hypercorn.sock"

    @property
    def pid(self) -> int:
        if self._process is None:
            raise RuntimeError("hypercorn is not running")
        return self._process.pid

    def url(self, path: str = "/", host: str = LOOPBACK) -> str:
        """The URL of ``path``; on a Unix socket, ``host`` is only the ``Host``."""
        scheme = "https" if self.certificate is not None else "http"
        if self.unix:
            return f"{scheme}://{host}{path}"
        return f"{scheme}://{host}:{self.port}{path}"

    def start(self, timeout: float = 60.0) -> Hypercorn:
        """Start hypercorn and wait for its "Running on" line.

        Raises:
            ServerStartError: it exited or said nothing within ``timeout``.
        """
        self.directory.mkdir(parents=True, exist_ok=True)
        config = self.directory / "hypercorn.toml"
        protocols = ", ".join(f'"{name}"' for name in self.alpn)
        config.write_text(f"alpn_protocols = [{protocols}]\n")
        bind = f"unix:{check_unix_path(self.unix_path)}" if self.unix else f"{LOOPBACK}:0"
        args = [
            sys.executable,
            "-m",
            "hypercorn",
            "--config",
            str(config),
            "--workers",
            "0",
            "--bind",
            bind,
            "--error-logfile",
            "-",
            "--log-level",
            "info",
            "--access-logfile",
            str(self.directory / "access.log"),
            "--graceful-timeout",
            "1",
        ]
        if self.certificate is not None:
            args += ["--certfile", str(self.certificate.chain)]
            args += ["--keyfile", str(self.certificate.key)]
        args.append(self.app)
        process = ServerProcess(
            args,
            log_path=self.directory / "error.log",
            ready=_READY,
            failed=r"^Traceback|\[ERROR\]",
            cwd=self.directory,
        )
        process.start(timeout)
        self._process = process
        assert process.ready_match is not None
        where = process.ready_match["where"]
        if not self.unix:
            match = re.fullmatch(r"[\d.]+:(\d+)", where)
            if match is None:
                process.stop()
                raise RuntimeError(f"unexpected hypercorn bind {where!r}")
            self.port = int(match[1])
        return self

    def stop(self) -> None:
        """SIGTERM to the PID we started; it exits after ``--graceful-timeout``."""
        process, self._process = self._process, None
        if process is not None:
            process.stop()
