"""End-to-end benchmark: asks against a private loopback server.

Every client peer runs the same four scenarios against the same server on
127.0.0.1, and its throughput is reported as a ratio to the *ceiling* measured
in the same run: a hand-written h11 loop on a curio socket, with no pool, no
redirects and no header handling, which is the fastest an HTTP/1.1 client
built on curio and h11 can go on this machine. A ratio says how much of that
speed a client keeps, which travels between machines far better than
requests per second do.

    python benchmarks/e2e.py                      # 3 rounds, every scenario and peer
    python benchmarks/e2e.py --quick              # 1 short round, a smoke test
    python benchmarks/e2e.py --peers ceiling,asks --scenarios seq,conc --rounds 5

The server is a private nginx (one worker, keep-alive, sendfile) started from
a temporary directory when nginx is installed; otherwise, or with
``--server python``, a small asyncio server, which is then likely the
bottleneck, so ratios say less. Scenarios:

    seq     N GETs of /small (100 bytes), one after another over one connection
    conc    N GETs of /small by C workers sharing C connections
    big     N streamed downloads of /big, bytes counted, never held whole (MB/s)
    upload  N POSTs of a 1 MiB body to /upload over one connection

Each (round, scenario, peer) runs in a fresh interpreter, so no run inherits
another's heap or caches, and the order of peers is rotated every round so
none always runs first. The timed window covers the request loop only, after
imports, client creation and an untimed warm-up; CPU is this process's user +
system time over that window, steadier than wall time on a shared machine.
"""

from __future__ import annotations

import argparse
import asyncio
import atexit
import contextlib
import http.client
import importlib.util
import json
import os
import platform
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import asdict, dataclass, field
from importlib import metadata
from typing import Any

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import curio
import h11
from bare_h11 import read_response

import asks

SCENARIOS = ("seq", "conc", "big", "upload")
PATHS = {"seq": "/small", "conc": "/small", "big": "/big", "upload": "/upload"}
DEFAULT_N = {"seq": 5000, "conc": 10000, "big": 3, "upload": 1000}
SMALL_BYTES = 100
UPLOAD_BYTES = 1 << 20
RECV_SIZE = 65536  # larger reads churn glibc malloc (mmap/trim) on every recv
QUICK_FACTOR = 0.2
QUICK_BIG_MIB = 64
ECHO_MODULE = "/usr/lib/nginx/modules/ngx_http_echo_module.so"
SERVER_START_TIMEOUT = 10.0

# Peers that need a package beyond asks' own dependencies, and which one.
OPTIONAL_PEERS = {"aiohttp": "aiohttp", "httpx": "httpx"}
KNOWN_PEERS = ("ceiling", "asks", *OPTIONAL_PEERS)


# --------------------------------------------------------------------------
# The child: one peer, one scenario, one JSON line.
# --------------------------------------------------------------------------


@dataclass
class Job:
    """What a child process measures; sent to it as JSON on the command line."""

    peer: str
    scenario: str
    host: str
    port: int
    n: int
    warmup: int
    conns: int
    expect_bytes: int  # body length every GET must return
    upload_bytes: int = UPLOAD_BYTES

    @property
    def path(self) -> str:
        return PATHS[self.scenario]

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}{self.path}"


class BadResponse(Exception):
    """A response that arrived but is not the one the scenario expects."""


@dataclass
class Tally:
    requests: int = 0  # successful ones only
    bytes: int = 0  # bodies received, or sent for upload
    errors: int = 0
    first_error: str | None = None


class Budget:
    """Hands out exactly n request slots to however many workers ask.

    Workers share one counter rather than n // C each, so a slow connection
    cannot leave the others idle at the end.
    """

    def __init__(self, n: int) -> None:
        self.left = n

    def take(self) -> bool:
        if self.left <= 0:
            return False
        self.left -= 1
        return True


# One request: returns the payload bytes it moved, raises on anything wrong.
OneRequest = Callable[[], Awaitable[int]]
Gather = Callable[[list[Coroutine[Any, Any, None]]], Awaitable[None]]


async def worker(budget: Budget, tally: Tally, one: OneRequest) -> None:
    while budget.take():
        try:
            nbytes = await one()
        except Exception as exc:  # a failed request is counted, never fatal
            tally.errors += 1
            if tally.first_error is None:
                tally.first_error = f"{type(exc).__name__}: {exc}"[:300]
            continue
        tally.requests += 1
        tally.bytes += nbytes


async def run_workers(n: int, ones: Sequence[OneRequest], gather: Gather) -> Tally:
    tally = Tally()
    budget = Budget(n)
    await gather([worker(budget, tally, one) for one in ones])
    return tally


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def measure(job: Job, ones: Sequence[OneRequest], gather: Gather) -> dict[str, Any]:
    warm = await run_workers(job.warmup, ones, gather)
    cpu0 = cpu_seconds()
    t0 = time.perf_counter()
    tally = await run_workers(job.n, ones, gather)
    wall = time.perf_counter() - t0
    cpu = cpu_seconds() - cpu0
    return {
        "requests": tally.requests,
        "bytes": tally.bytes,
        "wall_s": wall,
        "cpu_s": cpu,
        "errors": tally.errors,
        "warmup_errors": warm.errors,
        "first_error": tally.first_error or warm.first_error,
        # ru_maxrss is KiB on Linux; big downloads must not grow with the body.
        "max_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def check(status: int, got: int, expected: int) -> None:
    if status != 200:
        raise BadResponse(f"status {status}")
    if got != expected:
        raise BadResponse(f"{got} body bytes, expected {expected}")


async def curio_gather(coros: list[Coroutine[Any, Any, None]]) -> None:
    async with curio.TaskGroup() as group:
        for coro in coros:
            await group.spawn(coro)


async def asyncio_gather(coros: list[Coroutine[Any, Any, None]]) -> None:
    await asyncio.gather(*coros)


class H11Client:
    """One keep-alive connection driven by h11 directly: the ceiling."""

    def __init__(self, host: str, port: int) -> None:
        self.host = host
        self.port = port
        self.host_header = f"{host}:{port}"
        self.sock: Any = None
        self.conn = h11.Connection(h11.CLIENT)

    async def _connect(self) -> None:
        self.sock = await curio.open_connection(self.host, self.port)
        # curio leaves Nagle on; without this a body sent after its head waits
        # for the server's delayed ACK, and every other client here disables it.
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.conn = h11.Connection(h11.CLIENT)

    async def close(self) -> None:
        if self.sock is not None:
            sock, self.sock = self.sock, None
            await sock.close()

    async def request(
        self, method: str, target: str, body: bytes | None = None
    ) -> tuple[int, int]:
        """Send one request, read the whole response; (status, body bytes)."""
        if self.sock is None:
            await self._connect()
        sock, conn = self.sock, self.conn
        headers = [("Host", self.host_header)]
        if body is not None:
            headers.append(("Content-Length", str(len(body))))
        try:
            head = conn.send(h11.Request(method=method, target=target, headers=headers))
            if body is None:
                await sock.sendall(head + conn.send(h11.EndOfMessage()))
            else:
                # Passthrough hands back the body object itself: no 1 MiB copy.
                await sock.sendall(head)
                for piece in conn.send_with_data_passthrough(h11.Data(data=body)) or ():
                    await sock.sendall(piece)
                await sock.sendall(conn.send(h11.EndOfMessage()))
            status, received = await read_response(sock, conn, RECV_SIZE)
            conn.start_next_cycle()
            return status, received
        except Exception:
            # The connection's state is unknown now; the next request reconnects.
            await self.close()
            raise


async def peer_ceiling(job: Job) -> dict[str, Any]:
    workers = job.conns if job.scenario == "conc" else 1
    clients = [H11Client(job.host, job.port) for _ in range(workers)]
    payload = b"\0" * job.upload_bytes

    def bind(client: H11Client) -> OneRequest:
        if job.scenario == "upload":

            async def upload() -> int:
                status, got = await client.request("POST", job.path, payload)
                check(status, got, 2)  # "ok"
                return len(payload)

            return upload

        async def get() -> int:
            status, got = await client.request("GET", job.path)
            check(status, got, job.expect_bytes)
            return got

        return get

    try:
        return await measure(job, [bind(c) for c in clients], curio_gather)
    finally:
        for client in clients:
            await client.close()


async def peer_asks(job: Job) -> dict[str, Any]:
    workers = job.conns if job.scenario == "conc" else 1
    session = asks.Session(connections=workers)
    url = job.url
    payload = b"\0" * job.upload_bytes

    async def get() -> int:
        r = await session.get(url)
        body = r.content
        check(r.status_code, len(body), job.expect_bytes)
        return len(body)

    async def stream() -> int:
        r = await session.get(url, stream=True)
        received = 0
        async with r:
            async for chunk in r.body:
                received += len(chunk)
        check(r.status_code, received, job.expect_bytes)
        return received

    async def upload() -> int:
        r = await session.post(url, data=payload)
        check(r.status_code, len(r.content), 2)
        return len(payload)

    one = {"big": stream, "upload": upload}.get(job.scenario, get)
    try:
        return await measure(job, [one] * workers, curio_gather)
    finally:
        await session.close()


async def peer_aiohttp(job: Job) -> dict[str, Any]:
    import aiohttp  # type: ignore[import-not-found,unused-ignore]

    workers = job.conns if job.scenario == "conc" else 1
    url = job.url
    payload = b"\0" * job.upload_bytes
    connector = aiohttp.TCPConnector(limit=workers)
    # The parent's --timeout bounds the run; a per-request total would cut big.
    timeout = aiohttp.ClientTimeout(total=None)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:

        async def get() -> int:
            async with session.get(url) as r:
                body = await r.read()
            check(r.status, len(body), job.expect_bytes)
            return len(body)

        async def stream() -> int:
            received = 0
            async with session.get(url) as r:
                async for chunk in r.content.iter_any():
                    received += len(chunk)
            check(r.status, received, job.expect_bytes)
            return received

        async def upload() -> int:
            async with session.post(url, data=payload) as r:
                body = await r.read()
            check(r.status, len(body), 2)
            return len(payload)

        one = {"big": stream, "upload": upload}.get(job.scenario, get)
        return await measure(job, [one] * workers, asyncio_gather)


async def peer_httpx(job: Job) -> dict[str, Any]:
    import httpx  # type: ignore[import-not-found,unused-ignore]

    workers = job.conns if job.scenario == "conc" else 1
    url = job.url
    payload = b"\0" * job.upload_bytes
    limits = httpx.Limits(max_connections=workers, max_keepalive_connections=workers)
    async with httpx.AsyncClient(limits=limits, timeout=None) as client:

        async def get() -> int:
            r = await client.get(url)
            check(r.status_code, len(r.content), job.expect_bytes)
            return len(r.content)

        async def stream() -> int:
            received = 0
            async with client.stream("GET", url) as r:
                async for chunk in r.aiter_bytes():
                    received += len(chunk)
            check(r.status_code, received, job.expect_bytes)
            return received

        async def upload() -> int:
            r = await client.post(url, content=payload)
            check(r.status_code, len(r.content), 2)
            return len(payload)

        one = {"big": stream, "upload": upload}.get(job.scenario, get)
        return await measure(job, [one] * workers, asyncio_gather)


PeerFn = Callable[[Job], Coroutine[Any, Any, dict[str, Any]]]
PEERS: dict[str, tuple[str, PeerFn]] = {
    "ceiling": ("curio", peer_ceiling),
    "asks": ("curio", peer_asks),
    "aiohttp": ("asyncio", peer_aiohttp),
    "httpx": ("asyncio", peer_httpx),
}


def child_main(spec: str) -> None:
    job = Job(**json.loads(spec))
    runner, fn = PEERS[job.peer]
    result = curio.run(fn, job) if runner == "curio" else asyncio.run(fn(job))
    print(json.dumps(result), flush=True)


# --------------------------------------------------------------------------
# The servers.
# --------------------------------------------------------------------------


def free_port() -> int:
    # Racy in principle (the port could be taken before the server binds it),
    # but a failed bind shows up as a server that never accepts, reported below.
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until_serving(port: int, proc: subprocess.Popen[bytes], what: str) -> None:
    """Return once the server accepts connections and serves /small right."""
    deadline = time.monotonic() + SERVER_START_TIMEOUT
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with status {proc.returncode} before accepting")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1.0):
                break
        except OSError:
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"{what} did not accept on 127.0.0.1:{port} "
                    f"within {SERVER_START_TIMEOUT:.0f} s"
                ) from None
            time.sleep(0.05)
    # One real request: a doc root the worker cannot read (403), or someone
    # else's server on a port taken since free_port(), would otherwise only
    # show up as every request of every run failing.
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5.0)
    try:
        conn.request("GET", "/small")
        response = conn.getresponse()
        body = response.read()
    except (OSError, http.client.HTTPException) as exc:
        raise RuntimeError(
            f"{what} on 127.0.0.1:{port} did not answer GET /small: {exc}"
        ) from None
    finally:
        conn.close()
    if response.status != 200 or len(body) != SMALL_BYTES:
        raise RuntimeError(
            f"{what} answered GET /small with {response.status} and {len(body)} bytes"
        )


def stop_process(proc: subprocess.Popen[bytes] | None) -> None:
    """Terminate a server we started, then its process group if it lingers."""
    if proc is None or proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        # The group was created for this process alone (start_new_session), so
        # killing it reaches nginx's worker too and nothing of anyone else's.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=5)


@dataclass
class Server:
    kind: str
    version: str
    port: int
    proc: subprocess.Popen[bytes]
    notes: list[str] = field(default_factory=list)

    def stop(self) -> None:
        stop_process(self.proc)


NGINX_CONF = """\
{load_module}
worker_processes 1;
daemon off;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log warn;

events {{
    worker_connections 1024;
}}

http {{
    access_log off;
    server_tokens off;
    sendfile on;
    tcp_nodelay on;
    keepalive_requests 1000000;
    keepalive_timeout 60s;
    default_type application/octet-stream;

    client_body_temp_path {tmp}/client_body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;

    server {{
        listen 127.0.0.1:{port};
        root {www};

        location = /small {{ }}
        location = /big {{ }}

        # A 1 MiB body fits the 2 MiB buffer: read into memory, no temp file.
        location = /upload {{
            client_max_body_size 0;
            client_body_buffer_size 2m;
{upload}
        }}
        location @upload_ok {{
            return 200 "ok";
        }}
    }}
}}
"""

# A plain `return 200` discards the body and may answer before it has all
# arrived; the echo module makes nginx read the whole body first, as a real
# upload endpoint would.
UPLOAD_ECHO = "            echo_read_request_body;\n            echo_exec @upload_ok;"
UPLOAD_PLAIN = '            return 200 "ok";'


def nginx_binary() -> str | None:
    if os.access("/usr/sbin/nginx", os.X_OK):
        return "/usr/sbin/nginx"
    return shutil.which("nginx")


def start_nginx(binary: str, tmp: str, www: str) -> Server:
    version = subprocess.run(
        [binary, "-v"], capture_output=True, text=True, check=False
    ).stderr.strip()
    version = version.removeprefix("nginx version: ") or "nginx (unknown version)"
    notes = []
    echo = os.path.exists(ECHO_MODULE)
    if not echo:
        notes.append(
            f"warning: {ECHO_MODULE} not found; /upload is a plain `return 200`, so nginx "
            "may answer before it has read the body"
        )
    port = free_port()
    conf = os.path.join(tmp, "nginx.conf")
    with open(conf, "w") as f:
        f.write(
            NGINX_CONF.format(
                load_module=f"load_module {ECHO_MODULE};" if echo else "",
                tmp=tmp,
                www=www,
                port=port,
                upload=UPLOAD_ECHO if echo else UPLOAD_PLAIN,
            )
        )
    # -e sends even the messages logged before the config is read to our dir.
    cmd = [binary, "-p", tmp, "-e", os.path.join(tmp, "error.log"), "-c", conf]
    test = subprocess.run([*cmd, "-t", "-q"], capture_output=True, text=True, check=False)
    if test.returncode != 0:
        raise RuntimeError(f"nginx rejected its configuration:\n{test.stderr.strip()}")
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, start_new_session=True)
    server = Server("nginx", version + (" + echo module" if echo else ""), port, proc, notes)
    try:
        wait_until_serving(port, proc, "nginx")
    except RuntimeError as exc:
        server.stop()
        try:
            with open(os.path.join(tmp, "error.log")) as log:
                tail = log.read()[-2000:]
        except OSError:
            tail = "(no error log)"
        raise RuntimeError(f"{exc}\n{tail}") from None
    return server


def start_python_server(www: str) -> Server:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, os.path.abspath(__file__), "--_serve", str(port), www],
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )
    server = Server(
        "python",
        f"asyncio server, Python {platform.python_version()}",
        port,
        proc,
        [
            "note: Python server (no nginx, or --server python): it is likely the bottleneck, "
            "so ratios to the ceiling say less than with nginx"
        ],
    )
    try:
        wait_until_serving(port, proc, "the Python server")
    except RuntimeError:
        server.stop()
        raise
    return server


async def serve_connection(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, www: str, sizes: dict[str, int]
) -> None:
    """HTTP/1.1 keep-alive, just the three routes and Content-Length bodies."""
    loop = asyncio.get_running_loop()
    try:
        while True:
            try:
                head = await reader.readuntil(b"\r\n\r\n")
            except (asyncio.IncompleteReadError, asyncio.LimitOverrunError):
                return
            lines = head.split(b"\r\n")
            method, target, _ = lines[0].split(b" ", 2)
            length = 0
            for line in lines[1:]:
                name, _, value = line.partition(b":")
                name = name.strip().lower()
                if name == b"content-length":
                    length = int(value)
                elif name == b"transfer-encoding":
                    writer.write(b"HTTP/1.1 411 Length Required\r\nConnection: close\r\n\r\n")
                    await writer.drain()
                    return
            while length:  # read, not buffer: the body is only a load to carry
                chunk = await reader.read(min(length, RECV_SIZE))
                if not chunk:
                    return
                length -= len(chunk)
            path = target.decode("ascii", "replace").split("?")[0]
            if method == b"POST" and path == "/upload":
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
            elif method == b"GET" and path in sizes:
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % sizes[path])
                await writer.drain()
                # Local files in our temp dir: opening one does not stall the loop.
                with open(os.path.join(www, path[1:]), "rb") as f:  # noqa: ASYNC230
                    await loop.sendfile(writer.transport, f)
            else:
                writer.write(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")
            await writer.drain()
    except ConnectionError:
        pass
    finally:
        writer.close()


def serve_main(port: int, www: str) -> None:
    sizes = {f"/{name}": os.path.getsize(os.path.join(www, name)) for name in os.listdir(www)}

    async def main() -> None:
        server = await asyncio.start_server(
            lambda r, w: serve_connection(r, w, www, sizes), "127.0.0.1", port, backlog=1024
        )
        async with server:
            await server.serve_forever()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main())


def write_docroot(www: str, big_bytes: int | None) -> None:
    os.makedirs(www)
    small = os.path.join(www, "small")
    with open(small, "wb") as f:
        f.write((b"0123456789" * 10)[:99] + b"\n")
    files = [small]
    if big_bytes is not None:
        big = os.path.join(www, "big")
        # Random, so no layer anywhere can win by compressing it.
        with open(big, "wb") as f:
            left = big_bytes
            while left:
                piece = min(left, 1 << 20)
                f.write(os.urandom(piece))
                left -= piece
        files.append(big)
    # Whatever the umask: nginx started as root serves from an unprivileged
    # worker (user nobody), which must be able to read the files.
    for path in (www, *files):
        os.chmod(path, 0o755 if path == www else 0o644)


# --------------------------------------------------------------------------
# The parent: rounds, children, tables.
# --------------------------------------------------------------------------


def peer_versions(peers: Sequence[str]) -> str:
    parts = [
        f"python {platform.python_version()}",
        f"curio {curio.__version__}",
        f"h11 {getattr(h11, '__version__', '?')}",
        f"asks {asks.__version__} ({os.path.dirname(os.path.abspath(asks.__file__))})",
    ]
    for peer in peers:
        if peer in OPTIONAL_PEERS:
            with contextlib.suppress(metadata.PackageNotFoundError):
                parts.append(f"{peer} {metadata.version(OPTIONAL_PEERS[peer])}")
    return ", ".join(parts)


def choose_peers(requested: str | None) -> tuple[list[str], list[str]]:
    """The peers to run, and a line for each one skipped and why."""
    if requested is None:
        names = ["ceiling", "asks"]
        names += [p for p, mod in OPTIONAL_PEERS.items() if importlib.util.find_spec(mod)]
        return names, []
    names, skipped = [], []
    for name in (p.strip() for p in requested.split(",")):
        if not name or name in names:
            continue
        if name not in PEERS:
            skipped.append(f"skipped peer {name!r}: unknown (known: {', '.join(KNOWN_PEERS)})")
        elif name in OPTIONAL_PEERS and not importlib.util.find_spec(OPTIONAL_PEERS[name]):
            skipped.append(
                f"skipped peer {name!r}: not importable by {sys.executable} "
                f"(pip install {OPTIONAL_PEERS[name]})"
            )
        else:
            names.append(name)
    return names, skipped


def run_child(job: Job, timeout: float) -> dict[str, Any]:
    cmd = [sys.executable, os.path.abspath(__file__), "--_child", json.dumps(asdict(job))]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        return {"failed": f"timed out after {timeout:g} s"}
    lines = proc.stdout.strip().splitlines()
    if proc.returncode != 0 or not lines:
        tail = proc.stderr.strip().splitlines()[-5:]
        return {"failed": f"exit status {proc.returncode}: " + " | ".join(tail)}
    try:
        return dict(json.loads(lines[-1]))
    except ValueError:
        return {"failed": f"unreadable result: {lines[-1][:200]!r}"}


def throughput(record: dict[str, Any], scenario: str) -> float:
    if scenario == "big":
        return float(record["bytes"] / 1e6 / record["wall_s"])  # MB/s, decimal
    return float(record["requests"] / record["wall_s"])


def cpu_cost(record: dict[str, Any], scenario: str) -> float | None:
    if scenario == "big":
        return record["cpu_s"] / (record["bytes"] / 1e9) if record["bytes"] else None
    return record["cpu_s"] / record["requests"] * 1e6 if record["requests"] else None


def summarize(
    records: list[dict[str, Any]], peers: Sequence[str], scenario: str
) -> list[dict[str, Any]]:
    rows = []
    for peer in peers:
        mine = [r for r in records if r["peer"] == peer and r["scenario"] == scenario]
        ok = [r for r in mine if "failed" not in r and r["requests"] and r["wall_s"] > 0]
        speeds = [throughput(r, scenario) for r in ok]
        costs = [c for c in (cpu_cost(r, scenario) for r in ok) if c is not None]
        median = statistics.median(speeds) if speeds else None
        rows.append(
            {
                "peer": peer,
                "runs": len(mine),
                "failed_runs": sum("failed" in r for r in mine),
                "throughput": median,
                "cpu": statistics.median(costs) if costs else None,
                "errors": sum(r.get("errors", 0) + r.get("warmup_errors", 0) for r in mine),
                "spread": (max(speeds) - min(speeds)) / median if median else None,
                "first_error": next(
                    (r["first_error"] for r in mine if r.get("first_error")), None
                ),
                "failures": [r["failed"] for r in mine if "failed" in r],
            }
        )
    ceiling = next((r for r in rows if r["peer"] == "ceiling"), None)
    for row in rows:
        for key in ("throughput", "cpu"):
            base = ceiling[key] if ceiling else None
            row[f"{key}_ratio"] = row[key] / base if base and row[key] is not None else None
    return rows


def fmt(value: float | None, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def table(scenario: str, rows: list[dict[str, Any]], job: Job) -> str:
    if scenario == "big":
        unit, cpu_unit = "MB/s", "CPU s/GB"
        plural = "s" if job.n != 1 else ""
        what = f"{job.n} streamed download{plural} of /big ({job.expect_bytes:,} B)"
    else:
        unit, cpu_unit = "req/s", "CPU µs/req"
        what = {
            "seq": f"{job.n} GETs of /small over 1 connection",
            "conc": f"{job.n} GETs of /small, {job.conns} workers on {job.conns} connections",
            "upload": f"{job.n} POSTs of {job.upload_bytes:,} B over 1 connection",
        }[scenario]
    out = [
        f"### {scenario}: {what}",
        "",
        f"| peer | {unit} | x ceiling | {cpu_unit} | CPU x ceiling | errors | failed runs "
        "| spread |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        spread = "-" if r["spread"] is None else f"{r['spread'] * 100:.0f}%"
        out.append(
            f"| {r['peer']} | {fmt(r['throughput'], ',.0f')} | {fmt(r['throughput_ratio'], '.2f')}"
            f" | {fmt(r['cpu'], '.1f' if scenario != 'big' else '.2f')}"
            f" | {fmt(r['cpu_ratio'], '.2f')} | {r['errors']} | {r['failed_runs']}/{r['runs']}"
            f" | {spread} |"
        )
    for r in rows:
        if r["first_error"]:
            out.append(f"\n{r['peer']}: first error: {r['first_error']}")
        for failure in r["failures"]:
            out.append(f"\n{r['peer']}: run failed: {failure}")
    return "\n".join(out)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=(__doc__ or "").splitlines()[0],
        epilog="Ratios are to the ceiling measured in the same run; see benchmarks/README.md.",
    )
    parser.add_argument(
        "--scenarios",
        default=",".join(SCENARIOS),
        help=f"comma-separated, from {','.join(SCENARIOS)} (default: all)",
    )
    parser.add_argument(
        "--peers",
        help="comma-separated, from "
        f"{','.join(KNOWN_PEERS)} (default: ceiling,asks plus aiohttp/httpx if importable)",
    )
    parser.add_argument("--rounds", type=int, help="rounds; medians are reported (default 3)")
    parser.add_argument(
        "--quick", action="store_true", help="1 round, default N x 0.2, big file 64 MiB"
    )
    for scenario in SCENARIOS:
        parser.add_argument(
            f"--n-{scenario}",
            type=int,
            metavar="N",
            help=f"{scenario} requests per run (default {DEFAULT_N[scenario]}; "
            "--quick scales only defaults)",
        )
    parser.add_argument("--conns", type=int, default=20, help="connections for conc (default 20)")
    parser.add_argument("--big-mib", type=int, help="size of /big in MiB (default 256)")
    parser.add_argument(
        "--server",
        choices=("auto", "nginx", "python"),
        default="auto",
        help="nginx if installed, else a Python server (default auto)",
    )
    parser.add_argument(
        "--timeout", type=float, default=300.0, help="seconds one run may take (default 300)"
    )
    parser.add_argument("--json", metavar="PATH", help="write every record and the summary here")
    # Internal: the same file is the child that measures and the fallback server.
    parser.add_argument("--_child", help=argparse.SUPPRESS)
    parser.add_argument("--_serve", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args._child or args._serve:
        return args

    args.scenario_list = [s.strip() for s in args.scenarios.split(",") if s.strip()]
    unknown = [s for s in args.scenario_list if s not in SCENARIOS]
    if unknown or not args.scenario_list:
        parser.error(f"unknown scenario(s) {unknown}; choose from {','.join(SCENARIOS)}")
    if args.rounds is None:
        args.rounds = 1 if args.quick else 3
    if args.big_mib is None:
        args.big_mib = QUICK_BIG_MIB if args.quick else 256
    for scenario in SCENARIOS:
        key = f"n_{scenario}"
        if getattr(args, key) is None:
            n = DEFAULT_N[scenario]
            setattr(args, key, max(1, int(n * QUICK_FACTOR)) if args.quick else n)
    if args.rounds < 1 or args.conns < 1 or args.big_mib < 1:
        parser.error("--rounds, --conns and --big-mib must be at least 1")
    if any(getattr(args, f"n_{s}") < 1 for s in SCENARIOS):
        parser.error("every --n-* must be at least 1")
    return args


def main(args: argparse.Namespace) -> int:
    peers, skipped = choose_peers(args.peers)
    for line in skipped:
        print(line)
    if not peers:
        print("no peer to run")
        return 2
    big_bytes = args.big_mib << 20
    binary = nginx_binary() if args.server != "python" else None
    if args.server == "nginx" and binary is None:
        print("--server nginx: no nginx found (/usr/sbin/nginx or on PATH)")
        return 2

    tmp = tempfile.mkdtemp(prefix="asks-e2e-")
    server: Server | None = None

    def cleanup() -> None:
        if server is not None:
            server.stop()
        shutil.rmtree(tmp, ignore_errors=True)

    # atexit covers an exit from anywhere; the finally below covers the rest.
    atexit.register(cleanup)
    try:
        # mkdtemp makes the directory 0700; nginx's worker may run as nobody.
        os.chmod(tmp, 0o755)
        www = os.path.join(tmp, "www")
        if "big" in args.scenario_list:
            print(f"writing {args.big_mib} MiB of random data for /big", file=sys.stderr)
        write_docroot(www, big_bytes if "big" in args.scenario_list else None)
        try:
            server = start_nginx(binary, tmp, www) if binary else start_python_server(www)
        except RuntimeError as exc:
            print(f"could not start the server: {exc}")
            return 2

        print(f"{peer_versions(peers)}; server: {server.version}; {os.cpu_count()} CPUs")
        for note in server.notes:
            print(note)
        print()

        records: list[dict[str, Any]] = []
        jobs: dict[str, Job] = {}
        for scenario in args.scenario_list:
            n = getattr(args, f"n_{scenario}")
            jobs[scenario] = Job(
                peer="",
                scenario=scenario,
                host="127.0.0.1",
                port=server.port,
                n=n,
                warmup=min(200, n // 10),
                conns=args.conns if scenario == "conc" else 1,
                expect_bytes=big_bytes if scenario == "big" else SMALL_BYTES,
            )
        for rnd in range(args.rounds):
            order = peers[rnd % len(peers) :] + peers[: rnd % len(peers)]
            for scenario in args.scenario_list:
                for peer in order:
                    job = Job(**{**asdict(jobs[scenario]), "peer": peer})
                    result = run_child(job, args.timeout)
                    record = {"round": rnd + 1, "peer": peer, "scenario": scenario, **result}
                    records.append(record)
                    print(progress(record), file=sys.stderr, flush=True)

        summary = {}
        for scenario in args.scenario_list:
            rows = summarize(records, peers, scenario)
            summary[scenario] = rows
            print(table(scenario, rows, jobs[scenario]))
            print()
        if args.json:
            with open(args.json, "w") as f:
                json.dump(
                    {
                        "versions": peer_versions(peers),
                        "server": server.version,
                        "cpus": os.cpu_count(),
                        "args": {k: v for k, v in vars(args).items() if not k.startswith("_")},
                        "records": records,
                        "summary": summary,
                    },
                    f,
                    indent=2,
                )
        bad = any(row["errors"] or row["failed_runs"] for rows in summary.values() for row in rows)
        return 1 if bad else 0
    finally:
        cleanup()
        atexit.unregister(cleanup)


def progress(record: dict[str, Any]) -> str:
    where = f"round {record['round']} {record['scenario']:6} {record['peer']:8}"
    if "failed" in record:
        return f"{where} FAILED: {record['failed']}"
    speed = throughput(record, record["scenario"]) if record["wall_s"] > 0 else 0.0
    unit = "MB/s" if record["scenario"] == "big" else "req/s"
    return f"{where} {speed:12,.0f} {unit}  errors {record['errors']}"


if __name__ == "__main__":
    cli = parse_args()
    if cli._child:
        child_main(cli._child)
    elif cli._serve:
        serve_main(int(cli._serve[0]), cli._serve[1])
    else:
        # SIGTERM would otherwise end the parent without its finally: nginx and
        # the temporary directory would outlive it.
        signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
        sys.exit(main(cli))
