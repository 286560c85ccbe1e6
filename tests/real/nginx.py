"""nginx, configured by a small builder and run as a child process.

    config = NginxConfig.default(cert)        # http, unix, tls, tls12, tls_b
    config.add_listener(Listener("h2", tls=True, listen_params=("http2",)))
    config.add_location("/slow", "return 200 'x';")
    with Nginx(config, directory) as server:
        server.url("tls", "/echo")            # https://127.0.0.1:PORT/echo
        server.unix_path                      # the unix: listener's socket
        server.access_log.entries()           # what nginx logged, parsed

Every listener is a ``server {}`` of its own (so each can have its own TLS
protocols and session settings) serving the same locations. Ports are picked
free by binding port 0 and handed to nginx; a start that loses the race for a
port is retried with new ports.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from tests.real.process import (
    LOOPBACK,
    Running,
    ServerProcess,
    check_unix_path,
    free_ports,
    require_binary,
    start_on_free_ports,
)

INSTALL_HINT = "apt-get install -y --no-install-recommends nginx-light"

# One line per request; fields split on single spaces, "-" for an empty value.
# $connection is nginx's serial number of the connection, $connection_requests
# the number of requests on it so far: together they show keep-alive reuse as
# the server saw it. $ssl_session_reused is "r" for a resumed TLS session.
LOG_FIELDS = (
    "connection",
    "connection_requests",
    "method",
    "uri",
    "status",
    "host",
    "server_port",
    "ssl_protocol",
    "ssl_session_reused",
    "request_length",
)
LOG_FORMAT = (
    "$connection $connection_requests $request_method $request_uri $status $host "
    "$server_port $ssl_protocol $ssl_session_reused $request_length"
)

# The same facts as response headers: a test can read them from the response
# itself, with no race against the log.
_FACT_HEADERS = (
    "add_header X-Connection $connection always;",
    "add_header X-Connection-Requests $connection_requests always;",
    "add_header X-TLS-Protocol $ssl_protocol always;",
    "add_header X-TLS-Resumed $ssl_session_reused always;",
)

FENCE_PATH = "/_fence"


@dataclass
class Listener:
    """One ``listen`` socket and its ``server {}`` block.

    Args:
        name: the key tests use (``server.port("tls")``).
        tls: serve TLS with the configuration's certificate.
        unix: listen on a Unix socket in the server's directory instead of TCP.
        protocols: ``ssl_protocols`` for a TLS listener.
        listen_params: extra ``listen`` parameters (``http2``, ``proxy_protocol``...).
        directives: extra directives for this ``server {}`` block.
    """

    name: str
    tls: bool = False
    unix: bool = False
    protocols: str = "TLSv1.2 TLSv1.3"
    listen_params: tuple[str, ...] = ()
    directives: tuple[str, ...] = ()


@dataclass
class Certificate:
    """PEM files for the TLS listeners."""

    chain: Path
    key: Path


@dataclass
class NginxConfig:
    """What to render into nginx.conf; change it before the server starts.

    ``locations`` maps a location (as written after ``location``) to its body;
    every listener serves all of them. ``http_directives`` go in ``http {}``.
    """

    certificate: Certificate | None = None
    listeners: list[Listener] = field(default_factory=list)
    locations: dict[str, str] = field(default_factory=dict)
    http_directives: list[str] = field(default_factory=list)
    worker_processes: int = 1
    worker_connections: int = 256

    @classmethod
    def default(cls, certificate: Certificate | None) -> NginxConfig:
        """Listeners ``http``, ``unix`` and, with a certificate, ``tls`` (1.2 and 1.3),
        ``tls12`` (1.2 only) and ``tls_b`` (a second origin sharing ``tls``'s ticket
        keys, so a ticket offered across ports would be accepted); the standard
        locations (see :meth:`add_standard_locations`)."""
        config = cls(certificate=certificate)
        config.add_listener(Listener("http"))
        config.add_listener(Listener("unix", unix=True))
        if certificate is not None:
            config.add_listener(Listener("tls", tls=True))
            config.add_listener(Listener("tls12", tls=True, protocols="TLSv1.2"))
            config.add_listener(Listener("tls_b", tls=True))
        config.add_standard_locations()
        return config

    def add_listener(self, listener: Listener) -> NginxConfig:
        if any(existing.name == listener.name for existing in self.listeners):
            raise ValueError(f"listener {listener.name!r} already configured")
        if listener.tls and self.certificate is None:
            raise ValueError(f"TLS listener {listener.name!r} needs a certificate")
        self.listeners.append(listener)
        return self

    def add_location(self, location: str, body: str) -> NginxConfig:
        self.locations[location] = body
        return self

    def add_standard_locations(self) -> NginxConfig:
        """``/`` a small body; ``/echo`` what nginx saw (method, Host, target);
        ``/close`` the same, then closes the connection (so the next request
        opens a new one); ``/small-uploads`` refuses a body over 1 KiB with 413
        before reading it (then nginx's lingering close); ``/_fence`` unlogged."""
        facts = " ".join(_FACT_HEADERS)
        echo = 'return 200 "$request_method $http_host $request_uri\\n";'
        self.add_location("= /", f'{facts} return 200 "ok\\n";')
        self.add_location("/echo", f"{facts} {echo}")
        # keepalive_timeout 0 answers with Connection: close and closes.
        self.add_location("/close", f"keepalive_timeout 0; {facts} {echo}")
        self.add_location("/small-uploads", f"client_max_body_size 1k; {facts} {echo}")
        self.add_location(f"= {FENCE_PATH}", "access_log off; return 204;")
        return self

    def render(self, directory: Path, ports: dict[str, int]) -> str:
        """nginx.conf for a server living in ``directory`` with these ports."""
        lines = [
            "daemon off;",
            "master_process on;",
            f"worker_processes {self.worker_processes};",
            f"pid {directory / 'nginx.pid'};",
            # notice: "start worker process" is how we learn it is serving.
            "error_log stderr notice;",
            f"events {{ worker_connections {self.worker_connections}; }}",
        ]
        if os.geteuid() == 0:
            # Workers would run as nobody and could not read the key file.
            lines.insert(0, "user root;")
        http = [
            "default_type text/plain;",
            f"log_format asks '{LOG_FORMAT}';",
            f"access_log {directory / 'access.log'} asks;",
            *(
                f"{kind}_temp_path {directory / ('tmp-' + kind)};"
                for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
            ),
            "keepalive_requests 1000;",
        ]
        if self.certificate is not None:
            http += [
                f"ssl_certificate {self.certificate.chain};",
                f"ssl_certificate_key {self.certificate.key};",
                "ssl_session_cache shared:SSL:1m;",
                "ssl_session_tickets on;",
                # One key for every TLS listener: a ticket from one port would
                # resume on another, so a client that offered it would be seen.
                f"ssl_session_ticket_key {directory / 'ticket.key'};",
            ]
        http += self.http_directives
        for listener in self.listeners:
            http.append(self._render_server(listener, directory, ports))
        lines.append("http {\n" + _indent(http) + "\n}")
        return "\n".join(lines) + "\n"

    def _render_server(self, listener: Listener, directory: Path, ports: dict[str, int]) -> str:
        if listener.unix:
            address = f"unix:{check_unix_path(directory / (listener.name + '.sock'))}"
        else:
            address = f"{LOOPBACK}:{ports[listener.name]}"
        params = (" ssl" if listener.tls else "") + "".join(
            " " + param for param in listener.listen_params
        )
        body = [f"listen {address}{params};", "server_name _;"]
        if listener.tls:
            body.append(f"ssl_protocols {listener.protocols};")
        body += listener.directives
        for location, location_body in self.locations.items():
            body.append(f"location {location} {{ {location_body} }}")
        return "server {\n" + _indent(body) + "\n}"


def _indent(lines: Iterable[str]) -> str:
    return "\n".join("    " + line for line in "\n".join(lines).splitlines())


@dataclass(frozen=True)
class LogEntry:
    """One access-log line; fields as in :data:`LOG_FIELDS` (``""`` for ``-``)."""

    connection: int
    connection_requests: int
    method: str
    uri: str
    status: int
    host: str
    server_port: str
    ssl_protocol: str
    ssl_session_reused: str
    request_length: int

    @property
    def resumed(self) -> bool:
        """The TLS session was resumed (nginx logs ``r``; ``.`` for a full handshake)."""
        return self.ssl_session_reused == "r"


class AccessLog:
    """The server's access log, read only after a fence request.

    nginx writes a request's log line after it has sent the response, so a
    client can see an answer before its line exists. ``entries()`` first makes
    one unlogged request on a new connection and reads its answer: with one
    worker, which handles events one at a time, every request answered before
    it has been logged by then.
    """

    def __init__(self, server: Nginx) -> None:
        self._server = server
        self._offset = 0

    @property
    def path(self) -> Path:
        return self._server.directory / "access.log"

    def fence(self) -> None:
        self._server.fence()

    def mark(self) -> None:
        """Forget every entry logged so far: ``entries()`` returns later ones only."""
        self.fence()
        self._offset = self._size()

    def _size(self) -> int:
        try:
            return self.path.stat().st_size
        except FileNotFoundError:
            return 0

    def entries(self, uri_prefix: str = "") -> list[LogEntry]:
        """Entries since the last ``mark()``, optionally only for one URI prefix."""
        self.fence()
        try:
            with open(self.path, "rb") as log:
                log.seek(self._offset)
                text = log.read().decode()
        except FileNotFoundError:
            return []
        entries = [parse_log_line(line) for line in text.splitlines() if line]
        return [entry for entry in entries if entry.uri.startswith(uri_prefix)]


def parse_log_line(line: str) -> LogEntry:
    values = ["" if value == "-" else value for value in line.split(" ")]
    if len(values) != len(LOG_FIELDS):
        raise ValueError(f"unexpected access log line: {line!r}")
    fields = dict(zip(LOG_FIELDS, values, strict=True))
    return LogEntry(
        connection=int(fields["connection"]),
        connection_requests=int(fields["connection_requests"]),
        method=fields["method"],
        uri=fields["uri"],
        status=int(fields["status"]),
        host=fields["host"],
        server_port=fields["server_port"],
        ssl_protocol=fields["ssl_protocol"],
        ssl_session_reused=fields["ssl_session_reused"],
        request_length=int(fields["request_length"]),
    )


class Nginx(Running):
    """A running nginx for one :class:`NginxConfig`, in ``directory``.

    Args:
        config: what to serve; ports are chosen at start.
        directory: a private directory for the config, logs, pid and sockets.
        start_attempts: starts tried with fresh ports when a port is taken.
    """

    def __init__(self, config: NginxConfig, directory: Path, *, start_attempts: int = 5) -> None:
        self.config = config
        self.directory = directory
        self.ports: dict[str, int] = {}
        self.access_log = AccessLog(self)
        self._attempts = start_attempts
        self._process: ServerProcess | None = None

    # ------------------------------------------------------------------
    # Addresses

    def port(self, listener: str) -> int:
        return self.ports[listener]

    def _listener(self, name: str) -> Listener:
        for listener in self.config.listeners:
            if listener.name == name:
                return listener
        raise KeyError(name)

    def url(self, listener: str = "http", path: str = "/", host: str = LOOPBACK) -> str:
        """``http(s)://HOST:PORT/path`` for a TCP listener; for the unix listener a
        URL with ``host`` and no port (its ``Host``)."""
        config = self._listener(listener)
        if config.unix:
            return f"http://{host}{path}"
        scheme = "https" if config.tls else "http"
        return f"{scheme}://{host}:{self.ports[listener]}{path}"

    def unix_path_of(self, listener: str) -> Path:
        if not self._listener(listener).unix:
            raise ValueError(f"listener {listener!r} is not a unix socket")
        return self.directory / f"{listener}.sock"

    @property
    def unix_path(self) -> Path:
        """The ``unix`` listener's socket path."""
        return self.unix_path_of("unix")

    @property
    def pid(self) -> int:
        if self._process is None:
            raise RuntimeError("nginx is not running")
        return self._process.pid

    # ------------------------------------------------------------------
    # Life cycle

    def start(self, *, keep_ports: bool = False) -> Nginx:
        """Write the config and start nginx; wait until its workers run.

        Args:
            keep_ports: reuse the ports of the previous run (a restart).

        Raises:
            ServerStartError: nginx is missing, the config is wrong, or every
                attempt lost its ports.
        """
        binary = require_binary("nginx", INSTALL_HINT)
        self.directory.mkdir(parents=True, exist_ok=True)
        key = self.directory / "ticket.key"
        if not key.exists():
            # 80 bytes: an AES-256 ticket key (nginx >= 1.12).
            key.write_bytes(os.urandom(80))
        attempts = 1 if keep_ports else self._attempts

        def make() -> ServerProcess:
            if not keep_ports or not self.ports:
                names = [listener.name for listener in self.config.listeners if not listener.unix]
                self.ports = dict(zip(names, free_ports(len(names)), strict=True))
            self._remove_stale_unix_sockets()
            conf = self.directory / "nginx.conf"
            conf.write_text(self.config.render(self.directory, self.ports))
            return ServerProcess(
                [binary, "-e", "stderr", "-p", str(self.directory), "-c", str(conf)],
                log_path=self.directory / "error.log",
                ready=r"start worker process \d+",
                failed=r"\[emerg\]",
                cwd=self.directory,
            )

        self._process = start_on_free_ports(make, attempts)
        return self

    def _remove_stale_unix_sockets(self) -> None:
        # A start that failed half-way (a TCP port taken after the unix socket
        # was bound) leaves the socket file; nginx would not bind over it.
        for listener in self.config.listeners:
            if listener.unix:
                path = self.unix_path_of(listener.name)
                if path.is_socket():
                    path.unlink()

    def stop(self) -> None:
        """Stop the nginx we started (SIGTERM to its master's PID)."""
        process, self._process = self._process, None
        if process is not None:
            process.stop()

    def restart(self, *, new_ticket_key: bool = True) -> None:
        """Stop and start again on the same ports: a fresh session cache and,
        with ``new_ticket_key``, new ticket keys, so every TLS session handed out
        before is unknown to the new server."""
        self.stop()
        if new_ticket_key:
            (self.directory / "ticket.key").write_bytes(os.urandom(80))
        self.start(keep_ports=True)

    # ------------------------------------------------------------------
    # Synchronisation

    def fence(self, timeout: float = 10.0) -> None:
        """One unlogged request on a new plain connection, its answer read whole."""
        with self._fence_socket(timeout) as sock:
            sock.sendall(
                f"GET {FENCE_PATH} HTTP/1.1\r\nHost: fence\r\nConnection: close\r\n\r\n".encode()
            )
            answer = b""
            # Connection: close, so the answer ends at EOF; settimeout bounds each read.
            while chunk := sock.recv(4096):
                answer += chunk
        if not answer.startswith(b"HTTP/1.1 204"):
            raise RuntimeError(f"nginx fence request failed: {answer[:200]!r}")

    def _fence_socket(self, timeout: float) -> socket.socket:
        for listener in self.config.listeners:
            if listener.unix:
                sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                address: str | tuple[str, int] = str(self.unix_path_of(listener.name))
            elif not listener.tls:
                sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                address = (LOOPBACK, self.ports[listener.name])
            else:
                continue
            sock.settimeout(timeout)
            try:
                sock.connect(address)
            except BaseException:
                sock.close()
                raise
            return sock
        raise RuntimeError("a fence needs a plain TCP or unix listener")

    def log_tail(self) -> str:
        try:
            return (self.directory / "error.log").read_text(errors="replace")[-4000:]
        except OSError:
            return ""
