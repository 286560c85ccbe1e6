"""The crawl benchmark: a URL list over 1,000 origins, fetched to JSON lines.

A private nginx listens on one port of many loopback addresses (Linux routes
all of 127.0.0.0/8 to ``lo`` with no set-up: 127.0.1.1, 127.0.1.2, ...), so
each address is a distinct origin, as a crawl sees many sites. Every URL is
distinct (``/u/<n>``) and answers a small body. The runner times whole runs
of each client on the same list, interleaved (asks, aiohttp, asks, ...), and
reports medians over rounds:

- URLs/s: URLs in the list / wall time of the run, start of the process to
  its exit (imports and start-up included: that is what a user waits for);
- CPU s: user + system of the whole process tree (``getrusage`` of the
  reaped children), and nginx's own CPU over the run, from ``/proc``;
- peak RSS: the largest sum of RSS over the client's process tree, sampled
  from ``/proc`` every 50 ms (for ``--processes 2``, the parent and both
  workers together), and the largest single process; the CPU of the root
  process alone (for ``--processes 2``, the parent's share);
- connections: what nginx accepted during the run (reuse shows as fewer);
- requests: what nginx counted (its ``stub_status``) during the run, so a
  client that skipped or repeated URLs shows.

Every run must report every URL once with status 200, or the script says so
and exits 1.

    python benchmarks/crawl_nginx.py --urls 100000 --rounds 3
    python benchmarks/crawl_nginx.py --urls 1000000 --rounds 1 --clients asks-p1
    python benchmarks/crawl_nginx.py --quick            # 2,000 URLs, one round
    python benchmarks/crawl_nginx.py --resume-test      # kill at 50%, then --resume
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import random
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
AIOHTTP_SCRIPT = Path(__file__).resolve().parent / "aiohttp_crawl.py"
H11_CURIO_SCRIPT = Path(__file__).resolve().parent / "h11_curio_crawl.py"
PAGE = os.sysconf("SC_PAGE_SIZE")
CLOCK = os.sysconf("SC_CLK_TCK")
BODY = "x" * 99 + "\n"  # 100 bytes, as the shared harness's /small


def origin(index: int) -> str:
    """The loopback address of origin *index*: 127.0.1.1, 127.0.1.2, ... (250 per /24)."""
    return f"127.0.{1 + index // 250}.{1 + index % 250}"


# --------------------------------------------------------------------------
# The server


NGINX_CONF = """\
worker_processes {workers};
daemon off;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log warn;
events {{ worker_connections 16384; }}
http {{
    access_log off;
    server_tokens off;
    keepalive_requests 1000000;
    keepalive_timeout 60s;
    default_type text/plain;
    client_body_temp_path {tmp}/client_body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    server {{
        listen 127.0.0.1:{status_port};
        location = /status {{ stub_status; }}
    }}
    server {{
{listens}
        location /u/ {{ return 200 "{body}"; }}
    }}
}}
"""


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as probe:
        probe.bind((host, 0))
        port: int = probe.getsockname()[1]
        return port


def port_free_everywhere(port: int, origins: int) -> bool:
    """Whether *port* can be bound on every origin address (a quick probe)."""
    for index in range(origins):
        with socket.socket() as probe:
            try:
                probe.bind((origin(index), port))
            except OSError:
                return False
    return True


@dataclass
class CrawlServer:
    """A private nginx on *origins* loopback addresses and one port."""

    origins: int
    workers: int
    tmp: str
    port: int = 0
    status_port: int = 0
    proc: subprocess.Popen[bytes] | None = None

    def start(self) -> CrawlServer:
        binary = "/usr/sbin/nginx" if os.access("/usr/sbin/nginx", os.X_OK) else "nginx"
        if shutil.which(binary) is None:
            raise SystemExit("this benchmark needs nginx (apt-get install nginx-light)")
        for _ in range(10):
            self.port = free_port()
            if port_free_everywhere(self.port, self.origins):
                break
        self.status_port = free_port()
        listens = "\n".join(
            f"        listen {origin(i)}:{self.port};" for i in range(self.origins)
        )
        conf = os.path.join(self.tmp, "nginx.conf")
        with open(conf, "w") as out:
            out.write(
                NGINX_CONF.format(
                    workers=self.workers,
                    tmp=self.tmp,
                    status_port=self.status_port,
                    listens=listens,
                    body=BODY.replace("\n", "\\n"),
                )
            )
        cmd = [binary, "-p", self.tmp, "-e", os.path.join(self.tmp, "error.log"), "-c", conf]
        test = subprocess.run([*cmd, "-t", "-q"], capture_output=True, text=True, check=False)
        if test.returncode != 0:
            raise SystemExit(f"nginx rejected its configuration:\n{test.stderr.strip()}")
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + 10
        while True:
            try:
                self.requests()
                break
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit("nginx did not start; see its error.log") from None
                time.sleep(0.02)
        return self

    def counters(self) -> tuple[int, int]:
        """Connections accepted and requests handled so far (this status request included)."""
        conn = http.client.HTTPConnection("127.0.0.1", self.status_port, timeout=5)
        try:
            conn.request("GET", "/status")
            text = conn.getresponse().read().decode()
        finally:
            conn.close()
        # "Active connections: 1\nserver accepts handled requests\n 5 5 7\n..."
        accepts, _handled, requests = text.splitlines()[2].split()
        return int(accepts), int(requests)

    def requests(self) -> int:
        """Requests nginx has handled so far (this status request included)."""
        return self.counters()[1]

    def cpu_seconds(self) -> float:
        """User + system CPU of nginx's master and workers so far."""
        assert self.proc is not None
        return sum(process_cpu(pid) for pid in tree(self.proc.pid))

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            # Its own session: the group is nginx's master and workers only.
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=5)


# --------------------------------------------------------------------------
# /proc


def children_map() -> dict[int, list[int]]:
    kids: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        kids.setdefault(int(fields[1]), []).append(int(entry))
    return kids


def tree(pid: int) -> list[int]:
    """*pid* and its descendants, now."""
    kids = children_map()
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo.extend(kids.get(current, ()))
    return found


def process_rss(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/statm") as statm:
            return int(statm.read().split()[1]) * PAGE
    except OSError:
        return 0


def process_cpu(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLOCK


class TreeRss:
    """Samples a process tree until stopped: the peak of its summed RSS, the peak
    of its largest process, and the CPU of the root process (the last sample)."""

    def __init__(self, pid: int, interval: float = 0.05) -> None:
        self.pid = pid
        self.peak = 0
        self.largest = 0
        self.root_cpu = 0.0
        self._interval = interval
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._done.wait(self._interval):
            sizes = [process_rss(pid) for pid in tree(self.pid)]
            self.peak = max(self.peak, sum(sizes))
            self.largest = max(self.largest, *sizes, 0)
            self.root_cpu = process_cpu(self.pid) or self.root_cpu

    def stop(self) -> int:
        self._done.set()
        self._thread.join()
        return self.peak


# --------------------------------------------------------------------------
# URL lists and clients


def write_urls(path: Path, count: int, origins: int, port: int, seed: int = 25) -> None:
    """*count* distinct URLs, each on a random one of the origins (a crawl's mix)."""
    pick = random.Random(seed).randrange
    with open(path, "w") as out:
        for start in range(0, count, 10_000):
            out.write(
                "".join(
                    f"http://{origin(pick(origins))}:{port}/u/{n}\n"
                    for n in range(start, min(count, start + 10_000))
                )
            )


def asks_supports(option: str) -> bool:
    help_text = subprocess.run(
        [sys.executable, "-m", "asks", "fetch", "--help"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    ).stdout
    return option in help_text


@dataclass
class Client:
    name: str
    processes: int | None = None  # asks fetch --processes (a peer's script has none)
    script: Path | None = None  # a peer's script, run instead of asks fetch

    def command(self, urls: Path, out: Path, concurrency: int, extra: list[str]) -> list[str]:
        if self.script is not None:
            return [
                sys.executable,
                str(self.script),
                str(urls),
                "--jsonl",
                str(out),
                "--concurrency",
                str(concurrency),
            ]
        cmd = [
            sys.executable,
            "-m",
            "asks",
            "fetch",
            str(urls),
            "--jsonl",
            str(out),
            "--connections",
            str(concurrency),
            "--quiet",
            *extra,
        ]
        if asks_supports("--processes"):
            cmd += ["--processes", str(self.processes)]
        elif self.processes != 1:
            raise SystemExit("this asks has no --processes")
        return cmd


CLIENTS = {
    "asks-p1": Client("asks-p1", 1),
    "asks-p2": Client("asks-p2", 2),
    "aiohttp": Client("aiohttp", script=AIOHTTP_SCRIPT),
    # The bare stack (h11 over curio, no asks): how far any curio client goes.
    "h11-curio": Client("h11-curio", script=H11_CURIO_SCRIPT),
}


@dataclass
class Run:
    client: str
    urls: int
    connections: int
    wall: float
    cpu: float
    nginx_cpu: float
    tree_rss: int
    max_rss: int
    parent_cpu: float
    requests: int
    lines: int
    ok: int
    returncode: int
    problems: list[str] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return self.urls / self.wall


def check_output(out: Path, expected: int) -> tuple[int, int, list[str]]:
    """Lines, lines with status 200, and what is wrong with the output."""
    lines = ok = 0
    seen: set[str] = set()
    problems: list[str] = []
    with open(out) as results:
        for line in results:
            lines += 1
            record = json.loads(line)
            ok += record["status"] == 200 and record["error"] is None
            if record["url"] in seen:
                problems.append(f"{record['url']} reported twice")
            seen.add(record["url"])
            if record["error"] and len(problems) < 3:
                problems.append(f"{record['url']}: {record['error']}")
    if lines != expected:
        problems.append(f"{lines} lines for {expected} URLs")
    return lines, ok, problems[:5]


def measure(
    client: Client,
    server: CrawlServer,
    urls: Path,
    count: int,
    args: argparse.Namespace,
    tmp: Path,
) -> Run:
    out = tmp / f"{client.name}.jsonl"
    with contextlib.suppress(FileNotFoundError):
        out.unlink()
    cmd = client.command(urls, out, args.concurrency, args.asks_option)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    accepts_before, requests_before = server.counters()
    nginx_before = server.cpu_seconds()
    started = time.monotonic()
    stderr = tmp / f"{client.name}.stderr"
    with open(stderr, "wb") as err:
        proc = subprocess.Popen(cmd, cwd=ROOT, stdin=subprocess.DEVNULL, stdout=err, stderr=err)
        sampler = TreeRss(proc.pid)
        try:
            returncode = proc.wait(timeout=args.timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            returncode = proc.wait()
        finally:
            peak = sampler.stop()
    wall = time.monotonic() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    nginx_cpu = server.cpu_seconds() - nginx_before
    # One status request before, one now: neither is the client's.
    accepts, requests = server.counters()
    accepts -= accepts_before + 1
    requests -= requests_before + 1
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    lines, ok, problems = check_output(out, count) if out.exists() else (0, 0, ["no output"])
    if returncode != 0:
        problems.insert(0, f"exit {returncode}: {stderr.read_text()[-300:].strip()}")
    if requests != count:
        problems.append(f"nginx counted {requests} requests for {count} URLs")
    return Run(
        client.name,
        count,
        accepts,
        wall,
        cpu,
        nginx_cpu,
        peak,
        sampler.largest,
        sampler.root_cpu,
        requests,
        lines,
        ok,
        returncode,
        problems,
    )


def mib(value: float) -> str:
    return f"{value / 2**20:.1f}"


def table(runs: list[Run]) -> str:
    rows = [
        "| client | URLs | rounds | URLs/s | CPU s | CPU ms/1k URLs | nginx CPU s "
        "| peak RSS tree MiB | largest process MiB | parent CPU s | connections | spread |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    by_client: dict[tuple[str, int], list[Run]] = {}
    for run in runs:
        by_client.setdefault((run.client, run.urls), []).append(run)
    for (name, count), group in by_client.items():
        rates = [r.rate for r in group]
        rate = statistics.median(rates)
        cpu = statistics.median(r.cpu for r in group)
        spread = (max(rates) - min(rates)) / rate if rate else 0.0
        rows.append(
            f"| {name} | {count:,} | {len(group)} | {rate:,.0f} | {cpu:.1f} "
            f"| {1e6 * cpu / count:.0f} | {statistics.median(r.nginx_cpu for r in group):.1f} "
            f"| {mib(statistics.median(r.tree_rss for r in group))} "
            f"| {mib(statistics.median(r.max_rss for r in group))} "
            f"| {statistics.median(r.parent_cpu for r in group):.1f} "
            f"| {statistics.median(r.connections for r in group):,.0f} | {spread:.0%} |"
        )
    return "\n".join(rows)


def ratios(runs: list[Run]) -> list[str]:
    rate = {}
    for name in {r.client for r in runs}:
        rate[name] = statistics.median(r.rate for r in runs if r.client == name)
    lines = []
    if "asks-p1" in rate and "asks-p2" in rate:
        lines.append(
            f"asks --processes 2 / --processes 1: {rate['asks-p2'] / rate['asks-p1']:.2f}x"
        )
    if "asks-p1" in rate and "aiohttp" in rate:
        lines.append(f"asks --processes 1 / aiohttp: {rate['asks-p1'] / rate['aiohttp']:.2f}x")
    if "h11-curio" in rate:
        for name in ("asks-p1", "aiohttp"):
            if name in rate:
                lines.append(f"{name} / h11-curio: {rate[name] / rate['h11-curio']:.2f}x")
    return lines


# --------------------------------------------------------------------------
# --resume after a kill


def resume_test(
    server: CrawlServer, urls: Path, count: int, args: argparse.Namespace, tmp: Path
) -> int:
    """Kill ``asks fetch`` (SIGKILL) once nginx has counted half the URLs, then
    ``--resume``: the second run must fetch only what the first did not write."""
    if not asks_supports("--resume"):
        print("resume test: this asks fetch has no --resume")
        return 1
    out = tmp / "resume.jsonl"
    with contextlib.suppress(FileNotFoundError):
        out.unlink()
    base = [
        sys.executable,
        "-m",
        "asks",
        "fetch",
        str(urls),
        "--jsonl",
        str(out),
        "--connections",
        str(args.concurrency),
        "--quiet",
        *args.asks_option,
    ]
    first_before = server.requests()
    proc = subprocess.Popen(base, cwd=ROOT, stdin=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    # Polling the server's counter: the kill point is the server's word, not a
    # timer. Every poll is a request nginx counts too: they are subtracted.
    polls = 0
    while (server.requests() - first_before - polls) < count // 2 and proc.poll() is None:
        polls += 1
        time.sleep(0.01)
    proc.kill()  # SIGKILL: no clean-up at all, as a crash or an OOM kill
    proc.wait()
    first = server.requests() - first_before - polls - 2
    # A torn last line is possible after SIGKILL; --resume must drop it.
    with open(out, "rb") as written:
        kept = sum(1 for line in written if line.endswith(b"\n"))
    second_before = server.requests()
    started = time.monotonic()
    done = subprocess.run(
        [*base, "--resume"],
        cwd=ROOT,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        check=False,
    )
    wall = time.monotonic() - started
    second = server.requests() - second_before - 1
    lines, ok, problems = check_output(out, count)
    print(f"first run: killed after nginx counted {first:,} requests; {kept:,} whole lines kept")
    print(
        f"second run (--resume): {second:,} requests in {wall:.1f} s; expected "
        f"{count - kept:,} (the URLs without a line); exit {done.returncode}"
    )
    print(f"output: {lines:,} lines, {ok:,} with status 200, for {count:,} URLs")
    for problem in problems:
        print(f"problem: {problem}")
    return 0 if second == count - kept and not problems and done.returncode == 0 else 1


# --------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--urls", type=int, default=100_000, help="URLs in the list")
    parser.add_argument("--origins", type=int, default=1000, help="loopback origins")
    parser.add_argument(
        "--concurrency",
        type=int,
        default=20,
        help="connections (asks) / semaphore and connector limit (aiohttp)",
    )
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--clients",
        default="asks-p1,asks-p2,aiohttp",
        help=f"comma-separated, of {', '.join(CLIENTS)}",
    )
    parser.add_argument("--nginx-workers", type=int, default=1)
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds per run")
    parser.add_argument(
        "--asks-option",
        action="append",
        default=[],
        metavar="ARG",
        help="an extra argument for asks fetch (repeatable)",
    )
    parser.add_argument("--quick", action="store_true", help="2,000 URLs, 50 origins, 1 round")
    parser.add_argument(
        "--resume-test",
        action="store_true",
        help="kill asks fetch at 50%% (SIGKILL), then --resume; count requests",
    )
    parser.add_argument("--json", metavar="FILE", help="also write every run as JSON")
    parser.add_argument(
        "--serve", action="store_true", help="only start nginx and write the list, then wait"
    )
    args = parser.parse_args()
    if args.quick:
        args.urls, args.origins, args.rounds = 2000, 50, 1
    clients = [CLIENTS[name] for name in args.clients.split(",")]
    with tempfile.TemporaryDirectory(prefix="asks-crawl-") as name:
        tmp = Path(name)
        os.chmod(tmp, 0o755)  # nginx's workers may run as nobody
        server = CrawlServer(args.origins, args.nginx_workers, name).start()
        try:
            urls = tmp / "urls.txt"
            write_urls(urls, args.urls, args.origins, server.port)
            print(
                f"{args.urls:,} URLs over {args.origins:,} origins (port {server.port}), "
                f"concurrency {args.concurrency}, {os.cpu_count()} CPUs, "
                f"usable {len(os.sched_getaffinity(0))}"
            )
            if args.resume_test:
                return resume_test(server, urls, args.urls, args, tmp)
            if args.serve:
                # For trying a client by hand: the list and the server stay
                # until stdin closes (or Ctrl-C).
                print(f"serving; the list is {urls}; close stdin to stop", flush=True)
                with contextlib.suppress(KeyboardInterrupt):
                    sys.stdin.read()
                return 0
            runs: list[Run] = []
            for round_ in range(args.rounds):
                # Rotate the order each round: no client always runs first.
                order = clients[round_ % len(clients) :] + clients[: round_ % len(clients)]
                for client in order:
                    run = measure(client, server, urls, args.urls, args, tmp)
                    runs.append(run)
                    flag = "" if not run.problems else "  PROBLEM: " + "; ".join(run.problems)
                    print(
                        f"round {round_ + 1} {run.client}: {run.rate:,.0f} URLs/s, "
                        f"{run.cpu:.1f} CPU s, tree RSS {mib(run.tree_rss)} MiB, "
                        f"{run.connections:,} connections{flag}",
                        flush=True,
                    )
        finally:
            server.stop()
    print()
    print(table(runs))
    for line in ratios(runs):
        print(line)
    if args.json:
        with open(args.json, "w") as out:
            json.dump([run.__dict__ | {"rate": run.rate} for run in runs], out, indent=1)
    return 1 if any(run.problems for run in runs) else 0


if __name__ == "__main__":
    sys.exit(main())
