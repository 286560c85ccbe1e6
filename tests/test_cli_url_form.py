"""The URL form of the command line: ``asks URL`` is ``asks get URL``.

The rule (what looks like a URL) and the rewrite are checked in-process
against ``asks._cli.arguments.parse_args``: ``asks URL OPTIONS`` must parse
to exactly what ``asks get URL OPTIONS`` parses to, for every option of
``get``, before or after the URL. Then a few runs of ``python -m asks`` as a
person types them, against a local server.
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from asks._cli import build_parser
from asks._cli.arguments import METHODS, parse_args, request_options, shared_options
from asks._cli.url_form import looks_like_url, with_default_scheme
from tests.cli_children import CHILD_TIMEOUT
from tests.servers import canned
from tests.test_cli import (
    CHILD_DEADLINE,
    OK_HELLO,
    arun_asks,
    assert_one_error_line,
    response,
    run_asks,
)

pytestmark = CHILD_DEADLINE  # a hung child fails its test, not the deadline

# --------------------------------------------------------------------------
# The rule

URLS = [
    "https://example.org/",
    "http://example.org",
    "HTTPS://EXAMPLE.ORG/a?b#c",
    "ftp://example.org/",  # a scheme: the request refuses it, clearly
    "example.org",
    "example.org.",
    "example.org/path?q=1",
    "www.example.org:8443/x",
    "127.0.0.1",
    "127.0.0.1:8000",
    "localhost",
    "LOCALHOST",
    "localhost:8000/api",
    "localhost/x",
    "localhost?q",
    "myhost:8080",
    "intranet/wiki",
    "[::1]:8000/",
    "[::1]",
    "faß.de/straße",
    "get.example.org",  # starts like a command, but dotted
]

NOT_URLS = [
    "frobnicate",
    "gett",
    "myhost",  # a single word: a command or a typo, never a host
    "not a url",
    "example.org/a b",
    "",
    "-",
    "myhost:",
    "myhost:http",
    "host:123456",
    ".example.org",
    "example..org",
    "mailto:someone@example.org",
]


@pytest.mark.parametrize("text", URLS)
def test_looks_like_url(text: str) -> None:
    assert looks_like_url(text)


@pytest.mark.parametrize("text", NOT_URLS)
def test_does_not_look_like_url(text: str) -> None:
    assert not looks_like_url(text)


@pytest.mark.parametrize(
    ("given", "sent"),
    [
        ("https://example.org/", "https://example.org/"),
        ("http://x/", "http://x/"),
        ("ftp://x/", "ftp://x/"),
        ("example.org", "http://example.org"),
        ("localhost:8000/api", "http://localhost:8000/api"),
        ("[::1]:8000/", "http://[::1]:8000/"),
        ("not a url", "not a url"),  # left for the request to refuse
        ("myhost", "myhost"),
    ],
)
def test_default_scheme(given: str, sent: str) -> None:
    assert with_default_scheme(given) == sent


# --------------------------------------------------------------------------
# The rewrite: asks URL ... parses exactly as asks get URL ...

URL = "https://example.org/x"


def same_as_get(url_form: list[str], get_form: list[str]) -> argparse.Namespace:
    parsed = parse_args(url_form)
    assert parsed == parse_args(get_form)
    assert parsed.command == "get"
    assert parsed.method == "GET"
    return parsed


@pytest.mark.parametrize(
    ("url_form", "get_form"),
    [
        ([URL], ["get", URL]),
        ([URL, "-H", "A: b", "-o", "file"], ["get", URL, "-H", "A: b", "-o", "file"]),
        (["-H", "A: b", URL, "-o", "file"], ["get", URL, "-H", "A: b", "-o", "file"]),
        (["-H", "A: b", "-o", "file", URL], ["get", URL, "-H", "A: b", "-o", "file"]),
        (["-i", "--quiet", URL], ["get", URL, "-i", "--quiet"]),
        (["--header=A: b", URL], ["get", URL, "-H", "A: b"]),
        (["-HA: b", URL], ["get", URL, "-H", "A: b"]),
        (["-iH", "A: b", URL], ["get", URL, "-i", "-H", "A: b"]),
        (["-iHA: b", URL], ["get", URL, "-i", "-H", "A: b"]),
        (["--time", "5", URL], ["get", URL, "--timeout", "5"]),  # argparse's prefixes
        (
            ["-q", "a=1", "example.org", "-q", "b=2"],
            ["get", "example.org", "-q", "a=1", "-q", "b=2"],
        ),
        # The value of an option is never the URL, even when it looks like one.
        (["-o", "out.html", URL], ["get", URL, "-o", "out.html"]),
        (["--cacert", "ca.pem", "localhost"], ["get", "localhost", "--cacert", "ca.pem"]),
        # -- ends the options: what follows is the URL.
        (["--", URL], ["get", URL]),
        (["-H", "A: b", "--", URL], ["get", URL, "-H", "A: b"]),
        (["-i", "--", "localhost:8000"], ["get", "-i", "localhost:8000"]),
    ],
    ids=lambda words: " ".join(words),
)
def test_url_form_parses_as_get(url_form: list[str], get_form: list[str]) -> None:
    same_as_get(url_form, get_form)


def test_url_form_headers_and_output_reach_the_namespace() -> None:
    parsed = same_as_get(
        ["-H", "A: b", URL, "-o", "file", "-H", "C: d"],
        ["get", URL, "-H", "A: b", "-H", "C: d", "-o", "file"],
    )
    assert parsed.url == URL
    assert parsed.headers == [("A", "b"), ("C", "d")]
    assert parsed.output == "file"


# A sample value for every option that takes one. A new option of get with a
# value and no sample here fails test_every_option_has_a_sample: add one, and
# the URL form is tested with it.
SAMPLES = {
    "-H": "A: b",
    "-A": "robot/1",
    "--user-agent": "robot/1",
    "--header": "A: b",
    "--timeout": "5",
    "--connect-timeout": "2.5",
    "--retries": "3",
    "--retry": "2",
    "--max-redirects": "4",
    "--cacert": "ca.pem",
    "--cert": "client.pem",
    "--key": "client-key.pem",
    "--unix-socket": "/run/app.sock",
    "--proxy": "http://127.0.0.1:3128",
    "-q": "k=v",
    "--query": "k=v",
    "--json": '{"a": 1}',
    "-j": "a:=1",
    "--json-item": "a:=1",
    "-d": "a=1",
    "--data": "a=1",
    "--data-raw": "text",
    "--data-file": "payload.bin",
    "--auth": "user:pw",
    "--netrc-file": "netrc",
    "-b": "a=1",
    "--cookie": "a=1",
    "-c": "jar.txt",
    "--cookie-jar": "jar.txt",
    "-o": "out.bin",
    "--output": "out.bin",
}

GET_OPTIONS = {**shared_options().takes_value, **request_options().takes_value}


def option_words(flag: str) -> list[str]:
    return [flag, SAMPLES[flag]] if GET_OPTIONS[flag] else [flag]


def test_every_option_has_a_sample() -> None:
    assert {flag for flag, value in GET_OPTIONS.items() if value} == set(SAMPLES)


@pytest.mark.parametrize("flag", sorted(GET_OPTIONS))
def test_every_option_of_get_works_in_the_url_form(flag: str) -> None:
    words = option_words(flag)
    if flag == "--digest":
        words = [*words, "--auth", "u:p"]
    expected = parse_args(["get", URL, *words])
    assert parse_args([URL, *words]) == expected  # after the URL
    assert parse_args([*words, URL]) == expected  # before it
    assert parse_args([*words, "--", URL]) == expected  # before it, then --


@pytest.mark.parametrize("command", [*METHODS, "request", "fetch"])
def test_every_command_takes_every_shared_option(command: str) -> None:
    before = {"request": ["request", "PROPFIND", URL], "fetch": ["fetch", "-"]}
    head = before.get(command, [command, URL])
    for flag in shared_options().takes_value:
        parsed = parse_args([*head, *option_words(flag)])
        assert parsed.command == command


def test_after_double_dash_an_option_is_not_an_option(capsys: Any) -> None:
    # argparse's rule, in the URL form as in 'asks get': after --, -H is a
    # positional argument, and get takes one.
    with pytest.raises(SystemExit) as stopped:
        parse_args([URL, "--", "-H", "A: b"])
    assert stopped.value.code == 2
    assert "unrecognized arguments: -H" in capsys.readouterr().err


def test_a_command_name_is_never_the_url_form() -> None:
    for command in METHODS:
        assert parse_args([command, URL]).method == command.upper()
    assert parse_args(["request", "GET", URL]).command == "request"
    assert parse_args(["fetch", "urls.txt"]).source == "urls.txt"


@pytest.mark.parametrize(
    "args",
    [
        ["frobnicate"],
        ["myhost"],
        ["gett", URL],
        ["-H", "A: b", "frobnicate"],
        ["not a url"],
        ["-"],
    ],
    ids=lambda args: " ".join(args),
)
def test_a_word_that_is_not_a_url_is_a_clear_error(args: list[str], capsys: Any) -> None:
    with pytest.raises(SystemExit) as stopped:
        parse_args(args)
    assert stopped.value.code == 2
    err = capsys.readouterr().err
    assert "is neither a command (get, head, post" in err
    assert "nor a URL" in err
    assert repr(args[-1] if args[0] == "-H" else args[0]) in err


def test_nothing_at_all_asks_for_a_url_or_a_command() -> None:
    result = run_asks()
    assert result.returncode == 2
    assert b"asks: error: give a URL (asks https://example.org/) or a command" in result.stderr


def test_bare_word_error_from_the_command_line() -> None:
    result = run_asks("frobnicate", "-i")
    assert result.returncode == 2
    assert result.stdout == b""
    assert b"Traceback" not in result.stderr
    assert b"asks: error: 'frobnicate' is neither a command" in result.stderr


def test_help_shows_the_url_form() -> None:
    main_help = run_asks("--help")
    assert main_help.returncode == 0
    text = main_help.stdout.decode()
    assert text.startswith("usage: asks URL [OPTIONS]\n       asks COMMAND")
    assert "asks https://example.org/" in text
    assert "looks like a URL means 'get'" in text
    # --help before the URL is the main help; after it, get's (the URL form's).
    assert run_asks("--help", URL).stdout == main_help.stdout
    get_help = run_asks(URL, "--help")
    assert get_help.returncode == 0
    assert get_help.stdout.startswith(b"usage: asks [get] ")
    assert get_help.stdout == run_asks("get", "--help").stdout
    assert b"usage: asks fetch " in run_asks("fetch", "--help").stdout


def test_version_before_a_url_is_the_version() -> None:
    from asks import __version__

    result = run_asks("--version", URL)
    assert result.returncode == 0
    assert result.stdout.decode().strip() == f"asks {__version__}"


def test_the_parser_alone_still_parses_the_command_forms() -> None:
    parser = build_parser()
    assert parser.parse_args(["get", URL]).url == URL
    with pytest.raises(SystemExit):
        parser.parse_args(["--bogus-option-for-test"])


# --------------------------------------------------------------------------
# As a person types it, against a local server


async def test_asks_url_prints_the_body(raw_server: Any) -> None:
    handler = canned(OK_HELLO)
    server = await raw_server(handler)
    result = await arun_asks(server.url + "/page?x=1")
    assert result.returncode == 0, result.stderr
    assert (result.stdout, result.stderr) == (b"hello", b"")
    [(request, _)] = handler.requests
    assert (request.method, request.target) == (b"GET", b"/page?x=1")


async def test_asks_url_with_options_on_both_sides(raw_server: Any, tmp_path: Path) -> None:
    handler = canned(OK_HELLO)
    server = await raw_server(handler)
    target = tmp_path / "page.txt"
    result = await arun_asks("-H", "A: b", server.url + "/p", "-o", str(target), "-q", "k=v", "-i")
    assert result.returncode == 0, result.stderr
    assert result.stdout == b""
    assert result.stderr.startswith(b"HTTP/1.1 200 OK\n")
    assert target.read_bytes() == b"hello"
    [(request, _)] = handler.requests
    assert request.target == b"/p?k=v"
    assert (b"a", b"b") in request.headers


async def test_a_url_without_a_scheme_is_sent_over_http(raw_server: Any) -> None:
    handler = canned(OK_HELLO)
    server = await raw_server(handler)
    bare = f"{server.host}:{server.port}/no-scheme"
    url_form = await arun_asks(bare)
    get_form = await arun_asks("get", bare)
    for result in (url_form, get_form):
        assert result.returncode == 0, result.stderr
        assert result.stdout == b"hello"
    assert [r.target for r, _ in handler.requests] == [b"/no-scheme", b"/no-scheme"]
    assert (b"host", f"{server.host}:{server.port}".encode()) in handler.requests[0][0].headers


async def test_asks_url_after_double_dash(raw_server: Any) -> None:
    server = await raw_server(canned(OK_HELLO))
    result = await arun_asks("-i", "--", server.url)
    assert result.returncode == 0, result.stderr
    assert result.stdout == b"hello"
    assert result.stderr.startswith(b"HTTP/1.1 200 OK\n")


async def test_asks_url_exit_code_follows_the_status(raw_server: Any) -> None:
    server = await raw_server(canned(response("404 Not Found", b"nope")))
    result = await arun_asks(server.url)
    assert (result.returncode, result.stdout, result.stderr) == (4, b"nope", b"")


def test_a_scheme_asks_does_not_speak_is_a_clear_error() -> None:
    result = run_asks("ftp://example.org/")
    assert result.returncode == 2
    assert_one_error_line(result, "unsupported URL scheme 'ftp'")


# --------------------------------------------------------------------------
# The program is installed as it should be


def test_the_console_script_takes_the_url_form(httpbin: Any) -> None:
    script = shutil.which("asks", path=str(Path(sys.executable).parent))
    if script is None:
        pytest.skip("the asks console script is not installed next to this python")
    result = subprocess.run(
        [script, f"{httpbin.url}/get?via=script"],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        timeout=CHILD_TIMEOUT,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["args"] == {"via": "script"}


def test_every_package_of_asks_is_shipped() -> None:
    # pyproject.toml lets setuptools find the packages by these patterns;
    # what they find must be every package under asks/ (asks._cli,
    # asks._transport, ...), or an installed asks would miss one.
    root = Path(__file__).resolve().parent.parent
    text = (root / "pyproject.toml").read_text()
    match = re.search(r"\[tool\.setuptools\.packages\.find\]\n(?:#.*\n)*include = (\[.*\])", text)
    assert match is not None
    patterns = json.loads(match.group(1))
    found = {
        ".".join(init.parent.relative_to(root).parts)
        for init in (root / "asks").rglob("__init__.py")
    }
    # What setuptools' include patterns select (fnmatch, as setuptools does;
    # setuptools itself is not in every venv, e.g. not on CPython 3.12+).
    shipped = {name for name in found if any(fnmatch.fnmatchcase(name, p) for p in patterns)}
    assert found == shipped
    assert {"asks", "asks._cli", "asks._transport"} <= shipped
