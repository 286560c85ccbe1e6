"""proxy.py (PyPI ``proxy.py``) run from its own command line, as a child process.

    with ProxyPy(directory, basic_auth="user:pass") as server:
        server.url                 # http://127.0.0.1:PORT
    with ProxyPy(directory, certificate=cert) as server:
        server.url                 # https://127.0.0.1:PORT (an https:// proxy)

It binds port 0 itself and logs "Listening on 127.0.0.1:PORT" at debug level,
then "Started 1 acceptors" once it serves: that line is the readiness signal
and the first tells the port, so there is no race for a port. The PID we
start is the server; SIGTERM to it stops it and its one acceptor.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from tests.real.nginx import Certificate
from tests.real.process import LOOPBACK, Running, ServerProcess

_READY = r"Started \d+ acceptors"
_LISTENING = re.compile(r"Listening on 127\.0\.0\.1:(\d+)")


class ProxyPy(Running):
    """proxy.py on 127.0.0.1, one worker.

    Args:
        directory: a private directory for its log.
        basic_auth: ``"user:pass"``: it then answers 407 without them.
        certificate: serve the proxy itself over TLS (an https:// proxy).
    """

    def __init__(
        self,
        directory: Path,
        *,
        basic_auth: str | None = None,
        certificate: Certificate | None = None,
    ) -> None:
        self.directory = directory
        self.basic_auth = basic_auth
        self.certificate = certificate
        self.port = 0
        self._process: ServerProcess | None = None

    @property
    def url(self) -> str:
        scheme = "https" if self.certificate is not None else "http"
        return f"{scheme}://{LOOPBACK}:{self.port}"

    def start(self, timeout: float = 30.0) -> ProxyPy:
        executable = Path(sys.executable).with_name("proxy")
        args = [str(executable), "--hostname", LOOPBACK, "--port", "0"]
        args += ["--num-workers", "1", "--log-level", "d"]
        if self.basic_auth is not None:
            args += ["--basic-auth", self.basic_auth]
        if self.certificate is not None:
            args += ["--cert-file", str(self.certificate.chain)]
            args += ["--key-file", str(self.certificate.key)]
        log = self.directory / "proxy.log"
        process = ServerProcess(args, log_path=log, ready=_READY, failed=r"^Traceback")
        process.start(timeout)
        self._process = process
        # The "Listening on" line comes before the ready one, so it is in
        # the log by now (the log is written before each line is matched).
        found = _LISTENING.search(log.read_text(errors="replace"))
        if found is None:
            self.stop()
            raise RuntimeError(f"proxy.py did not say its port{process.log_tail()}")
        self.port = int(found[1])
        return self

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is not None:
            process.stop()
