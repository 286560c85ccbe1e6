"""h2o and nghttpd, the two Debian HTTP/2 servers, serving a directory of files.

    with H2o(directory, certificate, files) as server:
        server.url("/big")            # https://127.0.0.1:PORT/big (h2 by ALPN)
        server.url("/big", tls=False) # http://127.0.0.1:PORT2/big (h2c prior knowledge)
    with Nghttpd(directory, certificate, files) as server: ...

Both pick no port themselves, so ports come from :func:`free_port` and a start
that loses the race for one is tried again. h2o says when it serves ("ready to
serve requests" on stderr); nghttpd says nothing unless it logs every frame,
so its readiness is its port accepting a connection.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.real.nginx import Certificate
from tests.real.process import (
    LOOPBACK,
    Running,
    ServerProcess,
    ServerStartError,
    free_port,
    free_ports,
    require_binary,
    start_on_free_ports,
    wait_until_accepting,
)


class H2o(Running):
    """h2o with a TLS listener (ALPN h2, http/1.1) and a plain one (h2c and HTTP/1.1).

    Args:
        directory: a private directory for the config, pid and logs.
        certificate: the TLS listener's certificate.
        files: the directory served at ``/``.
    """

    def __init__(self, directory: Path, certificate: Certificate, files: Path) -> None:
        self.directory = directory
        self.certificate = certificate
        self.files = files
        self.ports: dict[str, int] = {}
        self._process: ServerProcess | None = None

    def url(self, path: str = "/", *, tls: bool = True) -> str:
        if tls:
            return f"https://{LOOPBACK}:{self.ports['tls']}{path}"
        return f"http://{LOOPBACK}:{self.ports['plain']}{path}"

    @property
    def pid(self) -> int:
        if self._process is None:
            raise RuntimeError("h2o is not running")
        return self._process.pid

    def _config(self) -> str:
        # h2o reads several ``listen`` keys at one level as several listeners.
        return "\n".join(
            [
                "listen:",
                f"  host: {LOOPBACK}",
                f"  port: {self.ports['tls']}",
                "  ssl:",
                f"    certificate-file: {self.certificate.chain}",
                f"    key-file: {self.certificate.key}",
                "listen:",
                f"  host: {LOOPBACK}",
                f"  port: {self.ports['plain']}",
                # Run as root in CI: h2o would switch to nobody, who cannot
                # read the key.
                "user: root",
                f"pid-file: {self.directory / 'h2o.pid'}",
                "error-log: /dev/stderr",
                "hosts:",
                "  default:",
                "    paths:",
                "      /:",
                f"        file.dir: {self.files}",
                "",
            ]
        )

    def start(self) -> H2o:
        binary = require_binary("h2o", "apt-get install -y --no-install-recommends h2o")
        self.directory.mkdir(parents=True, exist_ok=True)

        def make() -> ServerProcess:
            self.ports = dict(zip(("tls", "plain"), free_ports(2), strict=True))
            conf = self.directory / "h2o.conf"
            conf.write_text(self._config())
            return ServerProcess(
                [binary, "-c", str(conf)],
                log_path=self.directory / "error.log",
                ready=r"ready to serve requests",
                failed=r"failed to listen|bind\(2\)|in use|configuration error",
                cwd=self.directory,
            )

        self._process = start_on_free_ports(make, attempts=5)
        return self

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is not None:
            process.stop()


class Nghttpd(Running):
    """nghttpd (nghttp2's server) on TLS (ALPN h2 only) or plain h2c.

    Args:
        directory: a private directory for its log.
        certificate: serve TLS with it; None for h2c (prior knowledge only).
        files: the directory served at ``/``.
    """

    def __init__(self, directory: Path, certificate: Certificate | None, files: Path) -> None:
        self.directory = directory
        self.certificate = certificate
        self.files = files
        self.port = 0
        self._proc: subprocess.Popen[bytes] | None = None

    def url(self, path: str = "/") -> str:
        scheme = "https" if self.certificate is not None else "http"
        return f"{scheme}://{LOOPBACK}:{self.port}{path}"

    @property
    def pid(self) -> int:
        if self._proc is None:
            raise RuntimeError("nghttpd is not running")
        return self._proc.pid

    def start(self) -> Nghttpd:
        binary = require_binary(
            "nghttpd", "apt-get install -y --no-install-recommends nghttp2-server"
        )
        self.directory.mkdir(parents=True, exist_ok=True)
        for _attempt in range(5):
            self.port = free_port()
            args = [binary, "-a", LOOPBACK, "-d", str(self.files), str(self.port)]
            if self.certificate is None:
                args.insert(1, "--no-tls")
            else:
                args += [str(self.certificate.key), str(self.certificate.chain)]
            with open(self.directory / "nghttpd.log", "ab") as log:
                self._proc = subprocess.Popen(
                    args, stdin=subprocess.DEVNULL, stdout=log, stderr=log
                )
            try:
                wait_until_accepting(self.port)
            except ServerStartError:
                self.stop()
                continue
            if self._proc.poll() is None:
                return self
            self.stop()
        raise ServerStartError(f"nghttpd did not start; see {self.directory / 'nghttpd.log'}")

    def stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
