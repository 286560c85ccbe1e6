"""The command line (``asks/_cli.py``), driven in a subprocess as a user would.

``asks._cli.main`` runs its own curio kernel, so every test starts
``python -m asks`` as a child process: sync tests against the session-scoped
httpbin, async tests against a ``raw_server`` in the test's kernel (the child
is then waited for in a thread, so the server keeps serving meanwhile).
"""

from __future__ import annotations

import fcntl
import functools
import gzip
import json
import os
import pty
import re
import shutil
import signal
import struct
import subprocess
import sys
import termios
import threading
from pathlib import Path
from typing import Any

import curio
import curio.io
import pytest
from hypothesis import given
from hypothesis import strategies as st

from asks._cli import safe_filename
from tests.cli_children import (
    ASKS,
    CHILD_DEADLINE,
    CHILD_TIMEOUT,
    asks_child,
    interrupt_over_a_full_pipe,
)
from tests.pipes import full_pipe
from tests.real.process import free_port
from tests.servers import canned, read_request

pytestmark = CHILD_DEADLINE

BINARY = bytes(range(256)) * 64  # 16 KiB, every byte value
OK_BINARY = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(BINARY) + BINARY
OK_HELLO = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"


def run_asks(
    *args: str, input: bytes | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[bytes]:
    """Run ``python -m asks ARGS`` to completion and capture its output."""
    return subprocess.run(
        [*ASKS, *args],
        input=input,
        stdin=None if input is not None else subprocess.DEVNULL,
        capture_output=True,
        timeout=CHILD_TIMEOUT,
        env=env,
    )


async def arun_asks(*args: str, input: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    """``run_asks`` from an async test: the child runs while the kernel serves."""
    return await curio.run_in_thread(functools.partial(run_asks, *args, input=input))


async def signal_once_ready(
    args: list[str], ready: threading.Event, signum: int
) -> tuple[int | None, bytes]:
    """Run ``python -m asks ARGS``, send it *signum* once *ready* is set; its code and stderr."""

    def drive() -> tuple[int | None, bytes]:
        with asks_child(args) as proc:
            if ready.wait(CHILD_TIMEOUT):
                proc.send_signal(signum)
            _out, err = proc.communicate()
        return proc.returncode, err

    return await curio.run_in_thread(drive)


def error_lines(result: subprocess.CompletedProcess[bytes]) -> list[str]:
    return result.stderr.decode().splitlines()


def assert_one_error_line(result: subprocess.CompletedProcess[bytes], *fragments: str) -> None:
    lines = error_lines(result)
    assert len(lines) == 1, lines
    assert lines[0].startswith("asks: error: "), lines
    for fragment in fragments:
        assert fragment in lines[0]


def json_lines(data: bytes) -> list[dict[str, Any]]:
    return [json.loads(line) for line in data.decode().splitlines()]


def response(status: str, body: bytes = b"", extra: bytes = b"") -> bytes:
    head = b"HTTP/1.1 %s\r\nContent-Length: %d\r\n%s\r\n" % (status.encode(), len(body), extra)
    return head + body


SUMMARY = re.compile(
    r"asks fetch: (?P<interrupted>interrupted: )?(?P<total>\d+) URLs, (?P<ok>\d+) ok, "
    r"(?P<failed>\d+) failed, (?P<bytes>\d+) bytes \([^)]*\) in [\d.]+ s, [\d.]+ req/s"
)


def summary(result_stderr: bytes) -> dict[str, str | None]:
    match = SUMMARY.search(result_stderr.decode())
    assert match is not None, result_stderr
    return match.groupdict()


# --------------------------------------------------------------------------
# The program itself


def test_version() -> None:
    from asks import __version__

    result = run_asks("--version")
    assert result.returncode == 0
    assert result.stdout.decode().strip() == f"asks {__version__}"


def test_console_script_entry_returns_the_exit_code() -> None:
    code = "import sys, asks.__main__ as m; sys.exit(m.main(['--version']) + 7)"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, timeout=CHILD_TIMEOUT
    )
    assert result.returncode == 7
    assert result.stdout.startswith(b"asks ")


def test_import_asks_does_not_import_rich() -> None:
    code = (
        "import sys, asks, asks.__main__, asks._cli\n"
        "assert 'rich' not in sys.modules, sorted(m for m in sys.modules if 'rich' in m)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, timeout=CHILD_TIMEOUT
    )
    assert result.returncode == 0, result.stderr


def test_without_rich_a_clear_message() -> None:
    code = (
        "import sys\n"
        "sys.modules['rich'] = None  # import rich now raises ImportError\n"
        "from asks._cli import main\n"
        "sys.exit(main(['get', 'http://127.0.0.1:9/']))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, timeout=CHILD_TIMEOUT
    )
    assert result.returncode == 1
    assert_one_error_line(result, "rich", "pip install 'asks[cli]'")


def test_help_lists_the_commands() -> None:
    result = run_asks("--help")
    assert result.returncode == 0
    for command in ("get", "post", "request", "fetch", "exit codes"):
        assert command in result.stdout.decode()


@pytest.mark.parametrize(
    "args",
    [
        [],
        ["get"],
        ["frobnicate", "http://x/"],
        ["get", "http://x/", "--retries", "-1"],
        ["get", "http://x/", "--timeout", "0"],
        ["get", "http://x/", "--timeout", "soon"],
        ["get", "http://x/", "-H", "no colon"],
        ["get", "http://x/", "-q", "novalue"],
        ["post", "http://x/", "--json", "{not json"],
        ["post", "http://x/", "--json", "{}", "-d", "a=1"],
        ["post", "http://x/", "-j", "a:=nope"],
        ["get", "http://x/", "--auth", "nocolon"],
        ["get", "http://x/", "--digest"],
        ["get", "http://x/", "--netrc-file", "/nonexistent/netrc"],
        ["get", "http://x/", "--netrc-file", "/dev/null", "--auth", "u:p"],
        ["get", "http://x/", "--netrc-file", "/dev/null", "--digest"],
        ["get", "http://x/", "--data-file", "/nonexistent/file"],
        ["get", "http://x/", "--cacert", "/nonexistent/ca.pem"],
        ["get", "not a url"],
        ["get", "ftp://example.com/"],
        ["fetch", "/nonexistent/urls.txt"],
        ["fetch", "--connections", "0"],
        ["fetch", "-", "--method", "BAD METHOD"],
        ["fetch", "-", "--keep-header", ""],
        ["fetch", "-", "--keep-header", "Content Type"],
    ],
    ids=lambda args: " ".join(args) or "(nothing)",
)
def test_bad_arguments_exit_2(args: list[str]) -> None:
    result = run_asks(*args)
    assert result.returncode == 2, result.stderr
    assert b"Traceback" not in result.stderr
    assert b"error:" in result.stderr
    assert result.stdout == b""


# --------------------------------------------------------------------------
# One request, against httpbin


def test_get_writes_the_body_to_stdout(httpbin: Any) -> None:
    result = run_asks("get", f"{httpbin.url}/get?x=1")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["args"] == {"x": "1"}
    assert result.stderr == b""


def test_headers_and_query_reach_the_server(httpbin: Any) -> None:
    result = run_asks(
        "get",
        f"{httpbin.url}/anything?keep=1",
        "-H",
        "X-Test: one two",
        "-H",
        "User-Agent: asks-cli-test",
        "-q",
        "a=1",
        "-q",
        "a=2",
        "--query",
        "b=x y&z",
    )
    assert result.returncode == 0, result.stderr
    echoed = json.loads(result.stdout)
    assert echoed["headers"]["X-Test"] == "one two"
    assert echoed["headers"]["User-Agent"] == "asks-cli-test"
    assert echoed["args"] == {"keep": "1", "a": ["1", "2"], "b": "x y&z"}


@pytest.mark.parametrize(
    ("body_args", "field", "expected"),
    [
        (["--json", '{"a": 1, "b": [true, null]}'], "json", {"a": 1, "b": [True, None]}),
        (["--json", "[]"], "json", []),
        (
            ["-j", "a=1", "-j", "b:=2", "--json-item", "c:=[1]"],
            "json",
            {"a": "1", "b": 2, "c": [1]},
        ),
        (["-d", "k=v", "-d", "k=w", "--data", "e=a&b"], "form", {"k": ["v", "w"], "e": "a&b"}),
        (["--data-raw", "plain text é"], "data", "plain text é"),
    ],
    ids=["json", "json-empty-list", "json-items", "form", "raw"],
)
def test_bodies_reach_the_server(
    httpbin: Any, body_args: list[str], field: str, expected: object
) -> None:
    result = run_asks("post", f"{httpbin.url}/anything", *body_args)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)[field] == expected


def test_data_file_is_sent(httpbin: Any, tmp_path: Path) -> None:
    payload = b"line of text\n" * 5000
    path = tmp_path / "payload.txt"
    path.write_bytes(payload)
    result = run_asks("put", f"{httpbin.url}/anything", "--data-file", str(path))
    assert result.returncode == 0, result.stderr
    echoed = json.loads(result.stdout)
    assert echoed["method"] == "PUT"
    assert echoed["data"] == payload.decode()
    assert echoed["headers"]["Content-Length"] == str(len(payload))


@pytest.mark.parametrize(
    ("args", "method"),
    [
        (["put"], "PUT"),
        (["patch"], "PATCH"),
        (["delete"], "DELETE"),
        (["request", "delete"], "DELETE"),
        (["request", "PATCH"], "PATCH"),
    ],
)
def test_methods(httpbin: Any, args: list[str], method: str) -> None:
    result = run_asks(*args, f"{httpbin.url}/anything")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["method"] == method


async def test_head_prints_no_body(raw_server: Any) -> None:
    handler = canned(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n")  # HEAD: no body
    server = await raw_server(handler)
    result = await arun_asks("head", server.url, "-i")
    assert result.returncode == 0, result.stderr
    assert result.stdout == b""
    assert result.stderr == b"HTTP/1.1 200 OK\nContent-Length: 5\n\n"
    assert handler.requests[0][0].method == b"HEAD"


async def test_a_header_without_a_value_is_not_sent_and_one_with_a_semicolon_is_sent_empty(
    raw_server: Any,
) -> None:
    # As curl reads -H: 'Name:' removes the header (asks' own User-Agent
    # too), 'Name;' sends it with an empty value.
    handler = canned(OK_HELLO)
    server = await raw_server(handler)
    result = await arun_asks("get", server.url, "-H", "User-Agent:", "-H", "X-Empty;")
    assert result.returncode == 0, result.stderr
    headers = dict(handler.requests[0][0].headers)
    assert b"user-agent" not in headers
    assert headers[b"x-empty"] == b""


async def test_head_without_include_writes_the_head_to_stdout(raw_server: Any) -> None:
    # A HEAD has no body: its answer is the head, which is the output, as curl
    # -I writes it (and -o FILE gets it too).
    handler = canned(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-Thing: a b\r\n\r\n")
    server = await raw_server(handler)
    result = await arun_asks("head", server.url)
    assert result.returncode == 0, result.stderr
    assert result.stdout == b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-Thing: a b\r\n\r\n"
    assert result.stderr == b""


def test_basic_auth(httpbin: Any) -> None:
    ok = run_asks("get", f"{httpbin.url}/basic-auth/user/pa:ss", "--auth", "user:pa:ss")
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout) == {"authenticated": True, "user": "user"}


async def test_basic_auth_header_and_a_401(raw_server: Any) -> None:
    handler = canned(response("401 Unauthorized", b"no", b"WWW-Authenticate: Basic\r\n"))
    server = await raw_server(handler)
    result = await arun_asks("get", server.url, "--auth", "user:pa:ss")
    assert result.returncode == 4
    assert (result.stdout, result.stderr) == (b"no", b"")
    [(request, _)] = handler.requests
    assert (b"authorization", b"Basic dXNlcjpwYTpzcw==") in request.headers


def test_netrc_credentials_are_sent_to_their_host(httpbin: Any, tmp_path: Path) -> None:
    netrc = tmp_path / "netrc"
    netrc.write_text("machine 127.0.0.1 login user password pass\n")
    netrc.chmod(0o600)
    url = f"{httpbin.url}/basic-auth/user/pass"
    ok = run_asks("get", url, "--netrc-file", str(netrc))
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout) == {"authenticated": True, "user": "user"}
    env = {**os.environ, "NETRC": str(netrc)}
    assert run_asks("get", url, "--netrc", env=env).returncode == 0
    netrc.write_text("machine elsewhere.example login user password pass\n")
    other = run_asks("get", f"{httpbin.url}/headers", "--netrc-file", str(netrc))
    assert other.returncode == 0, other.stderr
    assert "Authorization" not in json.loads(other.stdout)["headers"]


def test_a_bad_netrc_file_is_named_without_quoting_its_tokens(tmp_path: Path) -> None:
    netrc = tmp_path / "netrc"
    netrc.write_text("machine a.example login u password hush\nstray-secret\n")
    result = run_asks("get", "http://x/", "--netrc-file", str(netrc))
    assert result.returncode == 2
    assert_one_error_line(result, "bad netrc file", f"{netrc}, line ")
    assert b"stray-secret" not in result.stderr and b"hush" not in result.stderr


def test_digest_auth(httpbin: Any) -> None:
    url = f"{httpbin.url}/digest-auth/auth/user/pass"
    ok = run_asks("get", url, "--auth", "user:pass", "--digest", "-i")
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout) == {"authenticated": True, "user": "user"}
    # -i shows the challenge too: the 401, then the 200.
    statuses = re.findall(rb"^HTTP/1\.1 (\d+)", ok.stderr, re.M)
    assert statuses == [b"401", b"200"]
    basic_only = run_asks("get", url, "--auth", "user:pass")
    assert basic_only.returncode == 4


def test_include_prints_every_head_to_stderr(httpbin: Any) -> None:
    result = run_asks("get", f"{httpbin.url}/redirect/2", "-i")
    assert result.returncode == 0, result.stderr
    heads = result.stderr.decode().split("\n\n")
    assert [h.splitlines()[0] for h in heads if h.strip()] == [
        "HTTP/1.1 302",
        "HTTP/1.1 302",
        "HTTP/1.1 200",
    ]
    assert "content-type: application/json" in heads[2].lower()
    assert json.loads(result.stdout)["url"].endswith("/get")


def test_redirect_limits(httpbin: Any) -> None:
    not_followed = run_asks("get", f"{httpbin.url}/redirect/3", "--no-follow", "-i")
    assert not_followed.returncode == 0
    assert not_followed.stderr.startswith(b"HTTP/1.1 302")
    too_many = run_asks("get", f"{httpbin.url}/redirect/3", "--max-redirects", "2")
    assert too_many.returncode == 1
    assert_one_error_line(too_many, "more than 2 redirects")


def test_gzip_is_decoded_unless_asked_not_to(httpbin: Any) -> None:
    decoded = run_asks("get", f"{httpbin.url}/gzip")
    assert json.loads(decoded.stdout)["gzipped"] is True
    raw = run_asks("get", f"{httpbin.url}/gzip", "--no-decompress")
    assert json.loads(gzip.decompress(raw.stdout))["gzipped"] is True


def test_cacert_trusts_that_ca_and_tls_always_verifies(
    httpbin_secure: Any, ca: Any, tmp_path: Path
) -> None:
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    trusted = run_asks("get", f"{httpbin_secure.url}/get", "--cacert", str(ca_file))
    assert trusted.returncode == 0, trusted.stderr
    assert json.loads(trusted.stdout)["url"].startswith("https://")
    untrusted = run_asks("get", f"{httpbin_secure.url}/get")
    assert untrusted.returncode == 1
    assert_one_error_line(untrusted, "certificate")
    # An ssl errno is OpenSSL's, not the system's: no "(Operation not permitted)".
    assert "not permitted" not in error_lines(untrusted)[0]
    assert f"GET {httpbin_secure.url}/get: " in error_lines(untrusted)[0]  # names the request
    assert untrusted.stdout == b""
    assert b"insecure" not in run_asks("get", "--help").stdout


def test_refused_connection_is_one_clear_line() -> None:
    port = free_port()  # nobody listens there
    result = run_asks("get", f"http://127.0.0.1:{port}/", "--retries", "0")
    assert result.returncode == 1
    assert_one_error_line(result, f"127.0.0.1:{port}", "Connection refused")
    assert result.stdout == b""


def test_unresolvable_host_is_one_clear_line() -> None:
    result = run_asks("get", "http://name.invalid/", "--retries", "0")
    assert result.returncode == 1
    assert_one_error_line(result, "name.invalid")


# --------------------------------------------------------------------------
# One request, against scripted servers


@pytest.mark.parametrize(
    ("status", "code"),
    [
        ("200 OK", 0),
        ("201 Created", 0),
        ("204 No Content", 0),
        ("301 Moved Permanently", 0),  # no Location: returned as is
        ("304 Not Modified", 0),
        ("400 Bad Request", 4),
        ("404 Not Found", 4),
        ("418 I'm a teapot", 4),
        ("499 Whatever", 4),
        ("500 Internal Server Error", 5),
        ("503 Service Unavailable", 5),
    ],
)
async def test_exit_code_follows_the_status(raw_server: Any, status: str, code: int) -> None:
    body = b"" if status.startswith(("204", "304")) else b"body of " + status.encode()
    server = await raw_server(canned(response(status, body)))
    result = await arun_asks("get", server.url)
    assert result.returncode == code, result.stderr
    assert result.stdout == body
    assert result.stderr == b""


async def test_binary_body_to_stdout_is_exact(raw_server: Any) -> None:
    server = await raw_server(canned(OK_BINARY))
    result = await arun_asks("get", server.url)
    assert result.returncode == 0
    assert result.stdout == BINARY


async def test_output_file_gets_the_exact_bytes(raw_server: Any, tmp_path: Path) -> None:
    chunked = b"".join(
        b"%x\r\n%s\r\n" % (len(BINARY[i : i + 1000]), BINARY[i : i + 1000])
        for i in range(0, len(BINARY), 1000)
    )
    bodies = [
        OK_BINARY,
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + chunked + b"0\r\n\r\n",
    ]
    for index, raw in enumerate(bodies):
        server = await raw_server(canned(raw))
        target = tmp_path / f"out{index}.bin"
        result = await arun_asks("get", server.url, "-o", str(target))
        assert result.returncode == 0, result.stderr
        assert result.stdout == b""
        assert result.stderr == b""  # no progress bar without a terminal
        assert target.read_bytes() == BINARY
    assert sorted(os.listdir(tmp_path)) == ["out0.bin", "out1.bin"]


async def test_output_dash_is_stdout(raw_server: Any) -> None:
    server = await raw_server(canned(OK_BINARY))
    result = await arun_asks("get", server.url, "-o", "-", "-i")
    assert result.returncode == 0
    assert result.stdout == BINARY
    assert result.stderr.startswith(b"HTTP/1.1 200 OK\n")
    assert b"content-length: 16384" in result.stderr.lower()


async def test_output_ending_in_a_slash_is_not_made_a_file(
    raw_server: Any, tmp_path: Path
) -> None:
    server = await raw_server(canned(OK_HELLO))
    result = await arun_asks("get", server.url, "-o", f"{tmp_path / 'newdir'}/")
    assert result.returncode == 1
    assert_one_error_line(result, "newdir/", "not a directory")
    assert os.listdir(tmp_path) == []


async def test_an_output_that_cannot_be_written_fails_before_the_request_is_sent(
    raw_server: Any, tmp_path: Path
) -> None:
    # A POST must not go out for its answer to be lost; and the error names
    # the file asked for, not the hidden temporary one beside it.
    handler = canned(OK_HELLO)
    server = await raw_server(handler)
    missing = tmp_path / "no-such-dir" / "out.txt"
    result = await arun_asks("post", server.url, "-d", "a=1", "-o", str(missing))
    assert result.returncode == 1
    assert_one_error_line(result, str(missing), "No such file or directory")
    assert ".part" not in result.stderr.decode()
    assert handler.requests == []


async def test_output_file_is_not_replaced_by_a_cut_body(raw_server: Any, tmp_path: Path) -> None:
    cut = b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n" + b"x" * 50
    server = await raw_server(canned(cut, keep_alive=False))
    target = tmp_path / "keep.txt"
    target.write_bytes(b"old content")
    result = await arun_asks("get", server.url, "-o", str(target), "--retries", "0")
    assert result.returncode == 1
    assert_one_error_line(result, "closed")
    assert target.read_bytes() == b"old content"
    assert os.listdir(tmp_path) == ["keep.txt"]  # no partial file left


async def test_json_null_is_sent_as_a_document(raw_server: Any) -> None:
    # `null` is a whole JSON document; the library's json=None means "no body".
    handler = canned(OK_HELLO)
    server = await raw_server(handler)
    result = await arun_asks("post", server.url, "--json", "null")
    assert result.returncode == 0, result.stderr
    [(request, body)] = handler.requests
    assert body == b"null"
    assert (b"content-type", b"application/json") in request.headers


async def test_data_file_from_stdin_is_streamed(raw_server: Any) -> None:
    handler = canned(OK_HELLO)
    server = await raw_server(handler)
    payload = os.urandom(200_000)
    result = await arun_asks("post", server.url, "--data-file", "-", input=payload)
    assert result.returncode == 0, result.stderr
    [(request, body)] = handler.requests
    assert body == payload
    assert request.method == b"POST"


@pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="needs procfs")
async def test_data_file_without_a_size_is_sent_chunked(raw_server: Any) -> None:
    # procfs files are regular files that report size 0: sending them with
    # "Content-Length: 0" would be wrong, so the CLI streams them chunked.
    handler = canned(OK_HELLO)
    server = await raw_server(handler)
    result = await arun_asks("post", server.url, "--data-file", "/proc/self/status")
    assert result.returncode == 0, result.stderr
    [(request, body)] = handler.requests
    assert (b"transfer-encoding", b"chunked") in request.headers
    assert body.startswith(b"Name:")


async def test_any_method_with_request(raw_server: Any) -> None:
    handler = canned(OK_HELLO)
    server = await raw_server(handler)
    result = await arun_asks("request", "propfind", server.url + "/dav?x=1", "-q", "y=2")
    assert result.returncode == 0, result.stderr
    [(request, _)] = handler.requests
    assert (request.method, request.target) == (b"PROPFIND", b"/dav?x=1&y=2")


async def test_timeout_bounds_the_whole_transfer(raw_server: Any) -> None:
    async def trickle(sock: curio.io.Socket) -> None:
        # The head at once, then the body never finishes.
        await read_request(sock)
        await sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc")
        await curio.Event().wait()

    server = await raw_server(trickle)
    result = await arun_asks("get", server.url, "--timeout", "0.5")
    assert result.returncode == 1
    assert_one_error_line(result, "within 0.5 s")


async def test_ctrl_c_stops_a_single_request(raw_server: Any) -> None:
    arrived = threading.Event()

    async def stall(sock: curio.io.Socket) -> None:
        await read_request(sock)
        arrived.set()
        await curio.Event().wait()

    server = await raw_server(stall)

    code, err = await signal_once_ready(["get", server.url], arrived, signal.SIGINT)
    assert code == 130, err
    assert b"Traceback" not in err


async def test_sigterm_stops_a_download_and_removes_its_temporary_file(
    raw_server: Any, tmp_path: Path
) -> None:
    arrived = threading.Event()

    async def drip(sock: curio.io.Socket) -> None:
        await read_request(sock)
        await sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc")
        arrived.set()  # the -o temporary file was made before the request went out
        await curio.Event().wait()

    server = await raw_server(drip)
    target = tmp_path / "out.bin"

    # (SIGTERM: what kill, timeout(1) and job runners send.)
    code, err = await signal_once_ready([server.url, "-o", str(target)], arrived, signal.SIGTERM)
    assert code == 130, err
    assert b"Traceback" not in err
    assert os.listdir(tmp_path) == []  # no target, no .out.bin.*.part left behind


async def test_a_body_write_to_a_stalled_pipe_leaves_the_kernel_free() -> None:
    # A reader that stopped reading: its pipe is full, the next write waits.
    from asks._cli.output import BodyTarget
    from asks._cli.single import _body_writer

    read_end, write_end, _filled = full_pipe()
    drained = threading.Event()

    def drain() -> None:  # only if the kernel is stuck: so that a failure fails, not hangs
        drained.set()
        os.read(read_end, 1 << 20)  # room for the waiting write

    valve = threading.Timer(10, drain)
    valve.start()
    out = os.fdopen(write_end, "wb")
    try:
        write = _body_writer(out, BodyTarget(None))
        task = await curio.spawn(write, b"body")
        await curio.sleep(0)  # the task starts its write
        # The kernel still runs this task: Ctrl-C's stop would too.
        await task.cancel()
        assert not drained.is_set(), "the write held the kernel's thread"
    finally:
        valve.cancel()
        out.close()
        os.close(read_end)


@pytest.mark.skipif(not hasattr(fcntl, "F_SETPIPE_SZ"), reason="needs F_SETPIPE_SZ (Linux)")
async def test_a_stop_never_tears_a_long_json_line_half_written_to_a_pipe() -> None:
    from asks._cli.fetch_io import PIPE_BUF, PipeWriter

    read_end, write_end = os.pipe()
    fcntl.fcntl(write_end, fcntl.F_SETPIPE_SZ, PIPE_BUF)  # room for one piece
    line = b'{"url": "http://example.org/' + b"a" * (2 * PIPE_BUF) + b'"}\n'
    try:
        task = await curio.spawn(PipeWriter(write_end).write_line, line)
        while _unread(read_end) < PIPE_BUF:  # the first piece is out; the pipe is full
            await curio.sleep(0)
        # Ctrl-C's cancellation, with a piece out: the line is finished first.
        cancel = await curio.spawn(task.cancel)
        got = b""
        while len(got) < len(line):
            got += await curio.run_in_thread(os.read, read_end, 65536)
        await cancel.join()
        assert got == line
    finally:
        os.close(read_end)
        os.close(write_end)


def _unread(fd: int) -> int:
    """Bytes waiting in the pipe *fd* (``FIONREAD``)."""
    return int(struct.unpack("i", fcntl.ioctl(fd, termios.FIONREAD, b"\0" * 4))[0])


SECOND_SIGNAL_IN_A_TASK = """
import os, signal, curio
from asks._cli.stopping import supervise

async def work():
    # Both taken while this task holds the kernel's thread, as when it is
    # stuck writing to a stdout nobody reads: the watch never got to run.
    os.kill(os.getpid(), signal.SIGNUM)
    os.kill(os.getpid(), signal.SIGNUM)
    return 0

curio.run(supervise, work)
"""


@pytest.mark.parametrize("signum", ["SIGINT", "SIGTERM"])
def test_a_second_signal_while_a_task_runs_ends_the_process_quietly(signum: str) -> None:
    code = SECOND_SIGNAL_IN_A_TASK.replace("SIGNUM", signum)
    result = subprocess.run(
        [sys.executable, "-c", code],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        timeout=CHILD_TIMEOUT,
    )
    # It raised KeyboardInterrupt in the task: "Task Crash" and its
    # traceback, then curio's kernel and task errors at exit.
    assert (result.returncode, result.stderr) == (130, b"")


@pytest.mark.skipif(not hasattr(signal, "pthread_kill"), reason="needs pthread_kill")
async def test_a_sigint_the_main_thread_missed_still_wakes_an_idle_kernel() -> None:
    # A SIGINT whose C-level handler ran where the main thread did not notice
    # it: here on another thread; in a fetch worker, between the kernel's last
    # check for signals and its select. The kernel sits idle in select (nothing
    # else to wake it): only the watch's wakeup fd gets it out.
    from asks._cli.stopping import SigintWatch

    async with SigintWatch() as watch:
        helper = threading.Timer(
            0.2, lambda: signal.pthread_kill(threading.get_ident(), signal.SIGINT)
        )
        helper.start()
        try:
            async with curio.ignore_after(5) as waiting:
                await watch.wait()
        finally:
            helper.join()
    assert not waiting.expired, "the SIGINT did not wake the kernel within 5 s"
    assert watch.fired


# --------------------------------------------------------------------------
# Bulk fetch


@pytest.mark.slow
@pytest.mark.curio_timeout(90)
async def test_fetch_1000_urls_through_20_connections(raw_server: Any, tmp_path: Path) -> None:
    handler = canned(OK_HELLO)
    server = await raw_server(handler)
    urls = [f"{server.url}/item/{i}" for i in range(1000)]
    listing = tmp_path / "urls.txt"
    listing.write_text("# a thousand URLs\n\n" + "\n".join(urls) + "\n")
    result = await arun_asks(
        "fetch", str(listing), "--connections", "20", "--retries", "1", "--timeout", "30"
    )
    assert result.returncode == 0, result.stderr
    records = json_lines(result.stdout)
    assert len(records) == 1000
    assert sorted(r["url"] for r in records) == sorted(urls)
    for record in records:
        assert set(record) == {"url", "status", "bytes", "elapsed", "error"}
        assert (record["status"], record["bytes"], record["error"]) == (200, 5, None)
        assert record["elapsed"] >= 0
    assert summary(result.stderr) == {
        "interrupted": None,
        "total": "1000",
        "ok": "1000",
        "failed": "0",
        "bytes": "5000",
    }
    # Every request arrived, over at most 20 connections.
    assert sorted(r.target for r, _ in handler.requests) == sorted(
        f"/item/{i}".encode() for i in range(1000)
    )
    assert server.accepted <= 20


async def test_fetch_reports_failures_and_reads_stdin(raw_server: Any) -> None:
    import socket

    server = await raw_server(canned(response("404 Not Found", b"nope")))
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{probe.getsockname()[1]}/"
    listing = "\n".join(
        [
            "\ufeff# comments and blank lines are skipped",
            "",
            f"   {server.url}/a   ",
            "  # indented comment",
            "not a url",
            dead,
            f"{server.url}/b",
            "",
        ]
    )
    result = await arun_asks(
        "fetch", "-", "--connections", "3", "--retries", "0", input=listing.encode()
    )
    assert result.returncode == 1
    records = {r["url"]: r for r in json_lines(result.stdout)}
    assert set(records) == {f"{server.url}/a", f"{server.url}/b", "not a url", dead}
    for url in (f"{server.url}/a", f"{server.url}/b"):
        # Any HTTP status counts as fetched.
        assert (records[url]["status"], records[url]["bytes"], records[url]["error"]) == (
            404,
            4,
            None,
        )
    assert records["not a url"]["status"] is None
    assert records["not a url"]["error"].startswith("ValueError: ")
    assert records[dead]["status"] is None
    assert records[dead]["error"].startswith("ConnectFailed: ")
    assert summary(result.stderr) == {
        "interrupted": None,
        "total": "4",
        "ok": "2",
        "failed": "2",
        "bytes": "8",
    }


@pytest.mark.parametrize("processes", ["1", "2"])
async def test_fetch_percent_encodes_the_bytes_of_a_line_that_is_not_utf8(
    raw_server: Any, tmp_path: Path, processes: str
) -> None:
    handler = canned(OK_HELLO)
    server = await raw_server(handler)
    base = server.url.encode()
    listing = tmp_path / "urls.txt"
    # Latin-1 lines (the first after a BOM), and one in UTF-8.
    lines = [b"\xef\xbb\xbf" + base + b"/caf\xe9", base + b"/\xff", base + "/café".encode()]
    listing.write_bytes(b"\r\n".join(lines) + b"\r\n")
    result = await arun_asks("fetch", str(listing), "--processes", processes, "--quiet")
    assert result.returncode == 0, result.stderr
    # The bytes the list holds, not U+FFFD (which made both Latin-1 lines one URL).
    asked = sorted(request.target for request, _ in handler.requests)
    assert asked == [b"/%FF", b"/caf%C3%A9", b"/caf%E9"]
    assert sorted(r["url"] for r in json_lines(result.stdout)) == [
        f"{server.url}/%FF",
        f"{server.url}/caf%E9",
        f"{server.url}/café",
    ]


@pytest.mark.parametrize("processes", ["1", "2"])
@pytest.mark.parametrize("ended", [True, False], ids=["whole-line", "never-ends"])
@pytest.mark.parametrize("first", [False, True], ids=["after-a-url", "first-line"])
async def test_fetch_stops_at_a_line_too_long_for_a_url(
    raw_server: Any, tmp_path: Path, processes: str, ended: bool, first: bool
) -> None:
    # (The first line too long: --processes N said it was a usage error, exit
    # 2, where one process and the docs say the run stops, exit 1.)
    from asks._cli.fetch_io import MAX_LINE

    server = await raw_server(canned(OK_HELLO))
    listing = tmp_path / "urls.txt"
    # Not a list of URLs: held whole, a line without end cost memory without
    # bound and time as its square (100 MB: a minute, 1 GB of memory).
    long_line = f"{server.url}/".encode() + b"a" * MAX_LINE
    rest = b"\n" + f"{server.url}/after\n".encode() if ended else b""
    before = b"" if first else f"{server.url}/first\n".encode()
    listing.write_bytes(before + long_line + rest)
    result = await arun_asks("fetch", str(listing), "--processes", processes, "--quiet")
    assert result.returncode == 1, result.stderr
    assert_one_error_line(result, "reading the URL list: a line is longer than 65,536 bytes")
    assert all(len(r["url"]) < MAX_LINE for r in json_lines(result.stdout))


@pytest.mark.parametrize("processes", ["1", "2"])
@pytest.mark.parametrize("form", ["--jsonl LIST", "< LIST --jsonl LIST", ">> LIST"])
async def test_fetch_refuses_to_write_its_output_over_the_url_list(
    raw_server: Any, tmp_path: Path, form: str, processes: str
) -> None:
    server = await raw_server(canned(OK_HELLO))
    listing = tmp_path / "urls.txt"
    text = "".join(f"{server.url}/{n}\n" for n in range(3))
    listing.write_text(text)

    def run() -> subprocess.CompletedProcess[bytes]:
        args = ["fetch", "--processes", processes]
        if form.startswith("<"):
            args += ["--jsonl", str(listing)]
        else:
            args.insert(1, str(listing))
            args += ["--jsonl", str(listing)] if form.startswith("--") else []
        with open(listing, "rb") as stdin, open(listing, "ab") as appended:
            return subprocess.run(
                [*ASKS, *args],
                stdin=stdin if form.startswith("<") else subprocess.DEVNULL,
                stdout=appended if form.startswith(">>") else subprocess.PIPE,
                stderr=subprocess.PIPE,
                timeout=CHILD_TIMEOUT,
            )

    result = await curio.run_in_thread(run)
    # It emptied the list and "succeeded" with nothing done (or, appending,
    # would read its own lines back as URLs).
    assert result.returncode == 2, result.stderr
    assert_one_error_line(result, "is the URL list", "itself: write the JSON lines elsewhere")
    assert listing.read_text() == text
    assert server.accepted == 0


async def test_fetch_jsonl_to_a_file_and_quiet(raw_server: Any, tmp_path: Path) -> None:
    server = await raw_server(canned(OK_HELLO))
    listing = tmp_path / "urls.txt"
    listing.write_text(f"{server.url}/1\n{server.url}/2")  # no final newline
    out = tmp_path / "out.jsonl"
    result = await arun_asks("fetch", str(listing), "--jsonl", str(out), "--quiet")
    assert result.returncode == 0
    assert (result.stdout, result.stderr) == (b"", b"")
    assert sorted(r["url"] for r in json_lines(out.read_bytes())) == [
        f"{server.url}/1",
        f"{server.url}/2",
    ]


async def test_fetch_empty_list(tmp_path: Path) -> None:
    listing = tmp_path / "urls.txt"
    listing.write_text("# nothing\n\n")
    result = await arun_asks("fetch", str(listing))
    assert result.returncode == 0
    assert result.stdout == b""
    assert summary(result.stderr)["total"] == "0"


def run_with_closed(stream: str, *args: str) -> subprocess.CompletedProcess[bytes]:
    """``python -m asks ARGS`` with *stream* closed by the shell (``<&-``, ``>&-``, ``2>&-``)."""
    fd = {"stdin": 0, "stdout": 1, "stderr": 2}[stream]
    return subprocess.run(
        ["sh", "-c", f'exec "$@" {fd}>&-', "sh", *ASKS, *args],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        timeout=CHILD_TIMEOUT,
    )


@pytest.mark.parametrize(
    ("stream", "args", "code", "message"),
    [
        ("stdin", ["fetch", "--processes", "1"], 2, "cannot read the URL list: stdin is closed"),
        ("stdin", ["fetch", "--processes", "2"], 2, "cannot read the URL list: stdin is closed"),
        ("stdout", ["fetch", "LIST", "--processes", "1"], 2, "cannot write the JSON lines"),
        ("stdout", ["fetch", "LIST", "--processes", "2"], 2, "cannot write the JSON lines"),
        ("stdin", ["post", "URL", "--data-file", "-"], 2, "--data-file '-': stdin is closed"),
        ("stdout", ["URL"], 1, "writing stdout: stdout is closed"),
    ],
)
@pytest.mark.curio_timeout(CHILD_TIMEOUT + 10)
async def test_a_closed_stdin_or_stdout_is_a_clear_error_before_any_request(
    raw_server: Any, tmp_path: Path, stream: str, args: list[str], code: int, message: str
) -> None:
    # Python makes sys.stdin / sys.stdout None then: reading nothing or
    # writing nowhere must not pass for a run that did its work.
    server = await raw_server(canned(OK_HELLO))
    listing = tmp_path / "urls.txt"
    listing.write_text(f"{server.url}/1\n{server.url}/2\n")
    args = [{"LIST": str(listing), "URL": server.url}.get(arg, arg) for arg in args]
    result = await curio.run_in_thread(run_with_closed, stream, *args)
    assert result.returncode == code, result.stderr
    assert_one_error_line(result, message)
    assert server.accepted == 0


@pytest.mark.parametrize(
    "args",
    [["URL"], ["fetch", "LIST", "--processes", "1"], ["fetch", "LIST", "--processes", "2"]],
    ids=["single", "fetch", "fetch-processes"],
)
@pytest.mark.curio_timeout(CHILD_TIMEOUT + 10)
async def test_a_reader_gone_before_the_output_is_a_quiet_141(
    raw_server: Any, tmp_path: Path, args: list[str]
) -> None:
    # `asks ... | head -1` once head has gone: no traceback, 128 + SIGPIPE.
    server = await raw_server(canned(OK_BINARY))
    listing = tmp_path / "urls.txt"
    listing.write_text("".join(f"{server.url}/{n}\n" for n in range(20)))
    args = [{"LIST": str(listing), "URL": server.url}.get(arg, arg) for arg in args]

    def run() -> tuple[int, bytes]:
        proc = subprocess.Popen(
            [*ASKS, *args],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        assert proc.stdout is not None
        proc.stdout.close()  # the reader is gone before the first byte
        _out, err = proc.communicate(timeout=CHILD_TIMEOUT)
        return proc.returncode, err

    code, err = await curio.run_in_thread(run)
    assert code == 141, err
    assert b"Traceback" not in err
    assert b"error" not in err


@pytest.mark.parametrize("processes", ["1", "2"])
@pytest.mark.curio_timeout(CHILD_TIMEOUT + 10)
async def test_a_closed_stderr_leaves_the_json_lines_whole(
    raw_server: Any, tmp_path: Path, processes: str
) -> None:
    # No summary, no progress bar to draw: the lines still all come, and no
    # message of stderr's lands among them.
    server = await raw_server(canned(OK_HELLO))
    listing = tmp_path / "urls.txt"
    listing.write_text("".join(f"{server.url}/{n}\n" for n in range(5)))
    result = await curio.run_in_thread(
        run_with_closed, "stderr", "fetch", str(listing), "--processes", processes
    )
    assert result.returncode == 0
    assert sorted(r["url"] for r in json_lines(result.stdout)) == [
        f"{server.url}/{n}" for n in range(5)
    ]


def test_a_closed_stderr_keeps_the_error_out_of_stdout() -> None:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{probe.getsockname()[1]}/"
    result = run_with_closed("stderr", dead)
    assert (result.returncode, result.stdout) == (1, b"")


async def test_fetch_timeout_per_url(raw_server: Any) -> None:
    async def stall(sock: curio.io.Socket) -> None:
        await read_request(sock)
        await curio.Event().wait()

    server = await raw_server(stall)
    result = await arun_asks("fetch", "-", "--timeout", "0.3", input=f"{server.url}/\n".encode())
    assert result.returncode == 1
    [record] = json_lines(result.stdout)
    assert record["status"] is None
    assert record["error"] == "RequestTimeout: no complete response within 0.3 s"


async def test_fetch_output_dir_uses_safe_unique_names(raw_server: Any, tmp_path: Path) -> None:
    async def echo_target(sock: curio.io.Socket) -> None:
        while (received := await read_request(sock)) is not None:
            target = received[0].target
            await sock.sendall(response("200 OK", target))

    server = await raw_server(echo_target)
    base = server.url
    urls = [
        f"{base}/docs/page.html",
        f"{base}/../../etc/passwd",
        f"{base}/%2e%2e/%2e%2e/escape",
        f"{base}/..%2f..%2fescape",
        f"{base}/x?q=../../y",
        f"{base}/x?q=2",
        f"{base}/",
        f"{base}/.hidden",
        f"{base}/" + "long" * 100 + ".txt",
        f"{base}/docs/page.html",  # a duplicate: same name, same content
    ]
    listing = tmp_path / "urls.txt"
    listing.write_text("\n".join(urls))
    out_dir = tmp_path / "saved"
    result = await arun_asks("fetch", str(listing), "--output-dir", str(out_dir))
    assert result.returncode == 0, result.stderr
    records = json_lines(result.stdout)
    assert len(records) == len(urls)
    names = {r["url"]: r["file"] for r in records}
    assert len(set(names.values())) == len(set(urls))  # distinct URLs, distinct names
    assert sorted(os.listdir(out_dir)) == sorted(set(names.values()))
    for record in records:
        name = record["file"]
        assert re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", name), name
        assert len(name) <= 120
        saved = (out_dir / name).read_bytes()
        assert saved.startswith(b"/")  # the request target, echoed
        assert len(saved) == record["bytes"]
    assert names[f"{base}/docs/page.html"].endswith(".html")
    assert names[f"{base}/" + "long" * 100 + ".txt"].endswith(".txt")
    # Nothing was written anywhere else.
    assert sorted(os.listdir(tmp_path)) == ["saved", "urls.txt"]


@pytest.mark.parametrize("processes", ["1", "2"])
async def test_fetch_stops_when_the_output_dir_goes(
    raw_server: Any, tmp_path: Path, processes: str
) -> None:
    out_dir = tmp_path / "saved"
    asked: list[str] = []

    async def handler(sock: curio.io.Socket) -> None:
        while (received := await read_request(sock)) is not None:
            asked.append(received[0].target.decode())
            if asked[-1] == "/vanish":
                shutil.rmtree(out_dir)
            await sock.sendall(OK_HELLO)

    server = await raw_server(handler)
    listing = tmp_path / "urls.txt"
    names = ("first", "vanish", "later", "last")
    listing.write_text("".join(f"{server.url}/{name}\n" for name in names))
    command = ["fetch", str(listing), "--output-dir", str(out_dir), "--connections", "1"]
    result = await arun_asks(*command, "--processes", processes)
    text = result.stderr.decode()
    assert result.returncode == 1, text
    assert "Traceback" not in text
    assert f"saving the bodies in --output-dir: cannot write in {str(out_dir)!r}: " in text
    # Every later URL would have been asked for and failed, one line each.
    assert asked == ["/first", "/vanish"]
    assert [r["url"] for r in json_lines(result.stdout)] == [f"{server.url}/first"]


# Longer than CHILD_TIMEOUT: a stuck child is killed and the assertions show
# what it wrote, rather than the test's own deadline hiding it.
@pytest.mark.curio_timeout(CHILD_TIMEOUT + 30)
@pytest.mark.parametrize(
    ("signum", "processes"),
    [(signal.SIGINT, []), (signal.SIGTERM, ["--processes", "1"])],
    ids=["ctrl-c", "sigterm-one-process"],
)
async def test_fetch_ctrl_c_keeps_the_lines_written(
    raw_server: Any, tmp_path: Path, signum: int, processes: list[str]
) -> None:
    # SIGTERM stops one process as Ctrl-C does (and as it stops --processes N).
    answered = 10
    served = 0

    async def answer_then_stall(sock: curio.io.Socket) -> None:
        nonlocal served
        while await read_request(sock) is not None:
            if served >= answered:
                await curio.Event().wait()
            served += 1
            await sock.sendall(OK_HELLO)

    server = await raw_server(answer_then_stall)
    listing = tmp_path / "urls.txt"
    listing.write_text("".join(f"{server.url}/{i}\n" for i in range(100)))

    def drive() -> tuple[int | None, list[bytes], bytes, bytes]:
        with asks_child(["fetch", str(listing), "--connections", "4", *processes]) as proc:
            assert proc.stdout is not None
            # Synchronise on the output itself: once these lines are out, the
            # run is stuck on the stalled requests.
            lines = [proc.stdout.readline() for _ in range(answered)]
            proc.send_signal(signum)
            rest, err = proc.communicate()
        return proc.returncode, lines, rest, err

    code, lines, rest, err = await curio.run_in_thread(drive)
    assert code == 130, (lines, rest, err)
    assert b"Traceback" not in err
    records = json_lines(b"".join(lines) + rest)
    assert len(records) == answered
    assert all(r["status"] == 200 and r["error"] is None for r in records)
    assert summary(err) == {
        "interrupted": "interrupted: ",
        "total": str(answered),
        "ok": str(answered),
        "failed": "0",
        "bytes": str(5 * answered),
    }


@pytest.mark.curio_timeout(CHILD_TIMEOUT + 30)
async def test_fetch_ctrl_c_stops_one_process_writing_to_a_pipe_nobody_reads(
    raw_server: Any, tmp_path: Path
) -> None:
    # `asks fetch urls.txt --processes 1 | consumer` whose consumer stopped
    # reading: its pipe is full, and the next line's write waits. That write
    # held the kernel's thread, so Ctrl-C's stop never ran: only a second
    # Ctrl-C ended the run.
    second_asked = threading.Event()

    async def answer_first_hold_second(sock: curio.io.Socket) -> None:
        while (received := await read_request(sock)) is not None:
            if received[0].target == b"/second":
                second_asked.set()
                await curio.Event().wait()
            await sock.sendall(OK_HELLO)

    server = await raw_server(answer_first_hold_second)
    listing = tmp_path / "urls.txt"
    listing.write_text(f"{server.url}/first\n{server.url}/second\n")

    # One connection: /second is asked once /first is answered, and its line
    # is written in the same turn of the kernel, before any signal can be
    # looked at. So the write is waiting when second_asked is set.
    code, written, err = await curio.run_in_thread(
        interrupt_over_a_full_pipe,
        ["fetch", str(listing), "--processes", "1", "--connections", "1"],
        second_asked,
    )
    assert code == 130, err
    assert b"Traceback" not in err
    # The line that found no room was never written: no part of it.
    assert written == b""
    assert summary(err)["interrupted"] == "interrupted: "
    assert summary(err)["total"] == "0"


# --------------------------------------------------------------------------
# Progress bars on a terminal


def run_with_terminal_stderr(args: list[str]) -> tuple[int, bytes, bytes]:
    """Run asks with stderr on a pseudo-terminal; returns (code, stdout, terminal)."""
    master, slave = pty.openpty()
    # 40 rows, 120 columns: room for every column of the bars.
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
    screen = bytearray()
    try:
        with asks_child(args, stderr=slave) as proc:
            os.close(slave)  # the child's now, and its close ends the reads
            slave = -1
            while True:
                try:
                    data = os.read(master, 65536)
                except OSError:  # EIO: the child closed its end
                    break
                if not data:
                    break
                screen += data
            out, _ = proc.communicate()
    finally:
        if slave != -1:
            os.close(slave)
        os.close(master)
    return proc.returncode, out, bytes(screen)


async def test_download_progress_bar_on_a_terminal(raw_server: Any, tmp_path: Path) -> None:
    server = await raw_server(canned(OK_BINARY))
    target = tmp_path / "download.bin"
    code, out, screen = await curio.run_in_thread(
        run_with_terminal_stderr, ["get", server.url, "-o", str(target)]
    )
    assert code == 0, screen
    assert out == b""
    assert target.read_bytes() == BINARY
    assert b"download.bin" in screen
    assert b"16.4" in screen  # rich's DownloadColumn: 16.4/16.4 kB


async def test_fetch_progress_bar_on_a_terminal(raw_server: Any, tmp_path: Path) -> None:
    server = await raw_server(canned(OK_HELLO))
    listing = tmp_path / "urls.txt"
    listing.write_text("".join(f"{server.url}/{i}\n" for i in range(50)))
    code, out, screen = await curio.run_in_thread(
        run_with_terminal_stderr, ["fetch", str(listing), "--connections", "5"]
    )
    assert code == 0, screen
    assert len(json_lines(out)) == 50
    assert b"fetching" in screen
    assert b"50/50" in screen
    assert b"50 URLs" in screen


# --------------------------------------------------------------------------
# Safe file names


@pytest.mark.parametrize(
    ("url", "start", "end"),
    [
        ("https://example.com/docs/index.html", "example.com_docs_index-", ".html"),
        ("http://h/../../etc/passwd", "h_etc_passwd-", ""),
        ("http://h/./a/../b.tar.gz/", "h_a_b.tar.gz-", ""),
        ("http://h/a/..%2F..%2Fb", "h_a_.._2F.._2Fb-", ""),
        ("http://h/", "h-", ""),
        ("", "index-", ""),
        ("http://[::1/", "http_1-", ""),  # not even parseable
        ("http://h/photo.JPEG?x=1", "h_photo-", ".jpeg"),
    ],
)
def test_safe_filename_examples(url: str, start: str, end: str) -> None:
    name = safe_filename(url)
    assert name.startswith(start)
    assert name.endswith(end)
    assert re.fullmatch(start.replace(".", r"\.") + "[0-9a-f]{12}" + re.escape(end), name)


@given(st.text())
def test_safe_filename_is_always_safe(url: str) -> None:
    name = safe_filename(url)
    assert re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", name)
    assert len(name) <= 110
    assert name not in (".", "..")


@given(st.text(), st.text())
def test_safe_filename_differs_for_different_urls(a: str, b: str) -> None:
    if a != b:
        assert safe_filename(a) != safe_filename(b)


async def test_retry_n_retries_a_busy_answer_honouring_retry_after(raw_server: Any) -> None:
    busy = b"HTTP/1.1 503 Busy\r\nRetry-After: 0\r\nContent-Length: 4\r\n\r\nbusy"
    answers = [busy, OK_HELLO]
    served = 0

    async def handler(sock: Any) -> None:
        nonlocal served
        while await read_request(sock) is not None:
            served += 1
            await sock.sendall(answers.pop(0))

    server = await raw_server(handler)
    result = await arun_asks("get", server.url, "--retry", "2")
    assert result.returncode == 0
    assert served == 2


def test_retry_n_is_a_retry_policy_and_retries_stays_an_int() -> None:
    import asks
    from asks._cli.arguments import build_parser, request_kwargs

    parser = build_parser()
    with_retry = request_kwargs(parser.parse_args(["get", "http://x/", "--retry", "4"]))
    assert with_retry["retries"] == asks.Retry(total=4)
    plain = request_kwargs(parser.parse_args(["get", "http://x/", "--retries", "2"]))
    assert plain["retries"] == 2
