"""tinyproxy and squid (Debian packages) as child processes on a free port.

    with Tinyproxy(directory, basic_auth=("user", "pass")) as server:
        server.url      # http://127.0.0.1:PORT
    with Squid(directory) as server:
        server.url

Neither binds port 0 and says which port it got, so the port is picked
free just before the start; a start that loses the race for it is tried
again with another (as for nginx). Each runs in the foreground (``-d``,
``-N``), logs to stderr, and says when it accepts connections: that line is
the readiness signal. Stopped by SIGTERM to the PID we started.
"""

from __future__ import annotations

from pathlib import Path

from tests.real.process import (
    LOOPBACK,
    Running,
    ServerProcess,
    free_port,
    require_binary,
    start_on_free_ports,
    wait_until_accepting,
)

_ATTEMPTS = 5


class _ConfiguredProxy(Running):
    binary = ""
    package = ""
    ready = ""
    failed = ""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.port = 0
        self._process: ServerProcess | None = None

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    def config(self, port: int) -> str:
        raise NotImplementedError

    def command(self, binary: str, conf: Path) -> list[str]:
        raise NotImplementedError

    def start(self) -> _ConfiguredProxy:
        binary = require_binary(self.binary, f"apt-get install -y {self.package}")
        port = 0

        def make() -> ServerProcess:
            nonlocal port
            port = free_port()
            conf = self.directory / f"{self.binary}.conf"
            conf.write_text(self.config(port))
            return ServerProcess(
                self.command(binary, conf),
                log_path=self.directory / f"{self.binary}.log",
                ready=self.ready,
                failed=self.failed,
                cwd=self.directory,
            )

        self._process = start_on_free_ports(make, _ATTEMPTS)
        self.port = port
        try:
            wait_until_accepting(port)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is not None:
            process.stop()


class Tinyproxy(_ConfiguredProxy):
    """tinyproxy; with ``basic_auth`` it answers 407 to a forwarded request
    and 401 to a ``CONNECT`` that lacks the credentials."""

    binary = "tinyproxy"
    package = "tinyproxy"
    ready = r"Accepting connections"
    failed = r"ERROR|Could not"

    def __init__(self, directory: Path, *, basic_auth: tuple[str, str] | None = None) -> None:
        super().__init__(directory)
        self.basic_auth = basic_auth

    def config(self, port: int) -> str:
        lines = [f"Port {port}", f"Listen {LOOPBACK}", "Timeout 60", "LogLevel Info"]
        lines.append("MaxClients 20")
        # No ConnectPort line: CONNECT to every port (the origins use free ones).
        if self.basic_auth is not None:
            lines.append("BasicAuth {} {}".format(*self.basic_auth))
        return "\n".join(lines) + "\n"

    def command(self, binary: str, conf: Path) -> list[str]:
        # tinyproxy -d logs to stdout; exec keeps the PID ours to stop.
        return ["/bin/sh", "-c", 'exec "$0" -d -c "$1" 1>&2', binary, str(conf)]


class Squid(_ConfiguredProxy):
    """squid with no cache and no access rules: forwards and tunnels anything."""

    binary = "squid"
    package = "squid"
    ready = r"Accepting HTTP Socket connections"
    failed = r"FATAL|Cannot open HTTP Port|in use"

    def config(self, port: int) -> str:
        return "\n".join(
            [
                f"http_port {LOOPBACK}:{port}",
                "http_access allow all",
                "cache deny all",
                "cache_mem 8 MB",
                f"pid_filename {self.directory}/squid.pid",
                "access_log none",
                "cache_log /dev/null",
                "pinger_enable off",
                f"coredump_dir {self.directory}",
                "shutdown_lifetime 0 seconds",
                "",
            ]
        )

    def command(self, binary: str, conf: Path) -> list[str]:
        # -N: foreground, no daemon; -d 1: its log to stderr.
        return [binary, "-N", "-d", "1", "-f", str(conf)]
