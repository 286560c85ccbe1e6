"""``-b``/``--cookie`` and ``-c``/``--cookie-jar``: cookies in and out of the CLI, as curl's."""

from __future__ import annotations

import http.cookiejar
import os
import re
import stat
from pathlib import Path
from typing import Any

import curio.io
import pytest

from asks._cli.cookie_files import cookie_files
from asks._cli.exits import UsageError
from tests.servers import read_request
from tests.test_cli import CHILD_DEADLINE, arun_asks, assert_one_error_line, run_asks
from tests.test_cookie_rules import _jar_cookie

pytestmark = CHILD_DEADLINE  # a hung child fails its test, not the deadline


def cookie_server(set_cookies: dict[bytes, list[bytes]]) -> tuple[Any, list[bytes | None]]:
    """A server that answers each path with its Set-Cookie lines and records each Cookie."""
    seen: list[bytes | None] = []

    async def handler(sock: curio.io.Socket) -> None:
        while (received := await read_request(sock)) is not None:
            request = received[0]
            seen.append(dict(request.headers).get(b"cookie"))
            extra = b"".join(
                b"Set-Cookie: %s\r\n" % line for line in set_cookies.get(request.target, [])
            )
            if request.target == b"/redirect":
                extra += b"Location: /landed\r\n"
                status = b"302 Found"
            else:
                status = b"200 OK"
            await sock.sendall(b"HTTP/1.1 %s\r\n%sContent-Length: 2\r\n\r\nok" % (status, extra))

    return handler, seen


async def test_cookie_pairs_are_sent(raw_server: Any) -> None:
    handler, seen = cookie_server({})
    server = await raw_server(handler)
    result = await arun_asks("get", f"{server.url}/", "-b", "a=1; b=two")
    assert result.returncode == 0, result.stderr
    assert seen == [b"a=1; b=two"]


async def test_cookie_pairs_go_as_given_a_name_twice_included(raw_server: Any) -> None:
    # A Cookie header copied from a browser may name a cookie twice (two
    # paths or domains); both go, in their order, merged with a -H Cookie.
    handler, seen = cookie_server({})
    server = await raw_server(handler)
    result = await arun_asks(
        "get", f"{server.url}/", "-b", "_ga=one; sid=s; _ga=two", "-H", "Cookie: h=1"
    )
    assert result.returncode == 0, result.stderr
    assert seen == [b"h=1; _ga=one; sid=s; _ga=two"]


async def test_cookie_pairs_do_not_follow_a_redirect_to_another_origin(raw_server: Any) -> None:
    elsewhere_handler, elsewhere_seen = cookie_server({})
    elsewhere = await raw_server(elsewhere_handler)

    async def redirecting(sock: curio.io.Socket) -> None:
        while await read_request(sock) is not None:
            await sock.sendall(
                b"HTTP/1.1 302 Found\r\nLocation: %s/landed\r\nContent-Length: 0\r\n\r\n"
                % elsewhere.url.encode()
            )

    server = await raw_server(redirecting)
    result = await arun_asks("get", f"{server.url}/", "-b", "sid=s")
    assert result.returncode == 0, result.stderr
    assert elsewhere_seen == [None]


async def test_a_jar_written_by_one_run_is_sent_by_the_next(
    raw_server: Any, tmp_path: Path
) -> None:
    handler, seen = cookie_server(
        {
            b"/login": [b"session=s3cret; Path=/", b"theme=dark; Max-Age=3600; Path=/"],
            b"/logout": [b"session=; Max-Age=0; Path=/"],
        }
    )
    server = await raw_server(handler)
    jar = tmp_path / "jar.txt"
    first = await arun_asks("get", f"{server.url}/login", "-c", str(jar))
    assert first.returncode == 0, first.stderr
    # The Netscape format curl reads, the session cookie (no expiry) included.
    loaded = http.cookiejar.MozillaCookieJar()
    loaded.load(str(jar), ignore_discard=True)
    assert {c.name: c.value for c in loaded} == {"session": "s3cret", "theme": "dark"}
    assert jar.read_text().startswith("# Netscape HTTP Cookie File")
    second = await arun_asks("get", f"{server.url}/logout", "-b", str(jar), "-c", str(jar))
    assert second.returncode == 0, second.stderr
    third = await arun_asks("get", f"{server.url}/page", "-b", str(jar))
    assert third.returncode == 0, third.stderr
    assert seen == [None, b"session=s3cret; theme=dark", b"theme=dark"]


async def test_cookies_set_by_a_redirect_follow_it_and_are_saved(
    raw_server: Any, tmp_path: Path
) -> None:
    handler, seen = cookie_server({b"/redirect": [b"hop=1; Path=/"]})
    server = await raw_server(handler)
    jar = tmp_path / "jar.txt"
    result = await arun_asks("get", f"{server.url}/redirect", "-c", str(jar))
    assert result.returncode == 0, result.stderr
    assert seen == [None, b"hop=1"]
    assert "\thop\t1" in jar.read_text()


async def test_a_cookie_file_sends_each_cookie_only_where_it_applies(
    raw_server: Any, tmp_path: Path
) -> None:
    handler, seen = cookie_server({})
    server = await raw_server(handler)
    jar = tmp_path / "jar.txt"
    jar.write_text(
        "# Netscape HTTP Cookie File\n"
        "127.0.0.1\tFALSE\t/\tFALSE\t0\there\tyes\n"
        "127.0.0.1\tFALSE\t/elsewhere\tFALSE\t0\tpath\tno\n"
        "example.org\tFALSE\t/\tFALSE\t0\tother\tno\n"
        "127.0.0.1\tFALSE\t/\tTRUE\t0\tsecure\tno\n"
        "127.0.0.1\tFALSE\t/\tFALSE\t1\texpired\tno\n"
    )
    result = await arun_asks("get", f"{server.url}/page", "-b", str(jar))
    assert result.returncode == 0, result.stderr
    assert seen == [b"here=yes"]


@pytest.mark.parametrize(
    "case",
    ["missing file", "not a cookie file", "bad pair", "jar in no directory", "jar a directory"],
)
def test_cookie_arguments_that_cannot_be_used_are_argument_errors(
    tmp_path: Path, case: str
) -> None:
    junk = tmp_path / "junk.txt"
    junk.write_text("just some text\n")
    args, expected = {
        "missing file": (["-b", str(tmp_path / "nope.txt")], "cannot read --cookie file"),
        "not a cookie file": (["-b", str(junk)], "invalid --cookie file"),
        "bad pair": (["-b", "a=1; =2"], "invalid --cookie"),
        "jar in no directory": (
            ["-c", str(tmp_path / "no" / "jar.txt")],
            "cannot write --cookie-jar",
        ),
        "jar a directory": (["-c", str(tmp_path)], "it is a directory"),
    }[case]
    # Checked before the request: nothing listens at port 9.
    result = run_asks("get", "http://127.0.0.1:9/", *args)
    assert result.returncode == 2, result.stderr
    assert_one_error_line(result, expected)


# --------------------------------------------------------------------------
# -A (here with its cookie neighbours: the small request options of curl)


async def test_user_agent_replaces_asks_own(raw_server: Any) -> None:
    agents: list[list[bytes]] = []

    async def handler(sock: curio.io.Socket) -> None:
        while (received := await read_request(sock)) is not None:
            agents.append([v for k, v in received[0].headers if k == b"user-agent"])
            await sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")

    server = await raw_server(handler)
    result = await arun_asks("get", f"{server.url}/", "-A", "robot/1.0 (+https://example.org)")
    assert result.returncode == 0, result.stderr
    assert agents == [[b"robot/1.0 (+https://example.org)"]]


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["-A", "x", "-H", "user-agent: y"], "give the User-Agent once"),
        (["-A", " "], "-A needs a name"),
    ],
    ids=["twice", "empty"],
)
def test_user_agent_argument_errors(args: list[str], expected: str) -> None:
    result = run_asks("get", "http://127.0.0.1:9/", *args)
    assert result.returncode == 2, result.stderr
    assert_one_error_line(result, expected)


async def test_user_agent_replaces_the_polite_one_of_fetch(
    raw_server: Any, tmp_path: Path
) -> None:
    agents: list[bytes] = []

    async def handler(sock: curio.io.Socket) -> None:
        while (received := await read_request(sock)) is not None:
            agents.extend(v for k, v in received[0].headers if k == b"user-agent")
            await sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")

    server = await raw_server(handler)
    urls = tmp_path / "urls.txt"
    urls.write_text(f"{server.url}/a\n{server.url}/b\n")
    result = await arun_asks("fetch", str(urls), "--quiet", "-A", "crawler/2")
    assert result.returncode == 0, result.stderr
    assert agents == [b"crawler/2", b"crawler/2"]


def test_a_new_jar_is_readable_by_its_owner_alone(tmp_path: Path) -> None:
    # It holds logins; the standard library's own save made it 0644 on
    # Python 3.10 under the usual umask.
    new, old = tmp_path / "new.txt", tmp_path / "old.txt"
    old.write_text("")
    old.chmod(0o640)
    umask = os.umask(0o022)
    try:
        for path in (new, old):
            files = cookie_files((), str(path))
            assert files.jar is not None
            files.jar.set_cookie(_jar_cookie("session", "s3cret", "example.org"))
            files.save()
    finally:
        os.umask(umask)
    assert stat.S_IMODE(new.stat().st_mode) == 0o600
    assert stat.S_IMODE(old.stat().st_mode) == 0o640  # an existing file keeps its mode
    assert "\tsession\ts3cret" in new.read_text()


async def test_a_cookie_the_format_cannot_hold_is_left_out_of_the_jar(
    raw_server: Any, tmp_path: Path
) -> None:
    # A tab is the format's field separator; a cookie holding one made a
    # line of too many fields, and the next -b refused the whole file.
    handler, seen = cookie_server(
        {b"/login": [b"tabbed=a\tb; Path=/", b"tab\tname=1; Path=/", b"session=s3cret; Path=/"]}
    )
    server = await raw_server(handler)
    jar = tmp_path / "jar.txt"
    first = await arun_asks("get", f"{server.url}/login", "-c", str(jar))
    assert first.returncode == 0, first.stderr
    second = await arun_asks("get", f"{server.url}/page", "-b", str(jar))
    assert second.returncode == 0, second.stderr
    assert seen == [None, b"session=s3cret"]


def test_a_cookie_file_line_that_cannot_be_read_is_not_quoted(tmp_path: Path) -> None:
    # The standard library's error quotes the line, a cookie's value with it
    # (and warns of a bug of its own, with a traceback): one line, no value.
    jar = tmp_path / "jar.txt"
    jar.write_text(
        "# Netscape HTTP Cookie File\n127.0.0.1\tFALSE\t/\tFALSE\t0\tsession\ts3cret\textra\n"
    )
    result = run_asks("get", "http://127.0.0.1:9/", "-b", str(jar))
    assert result.returncode == 2, result.stderr
    assert_one_error_line(result, "invalid --cookie file", "Netscape-format")
    assert b"s3cret" not in result.stderr
    assert b"Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("cookies", "jar", "expected"),
    [
        (["-"], None, "--cookie - (stdin) is not supported"),
        (["a=1", "-"], None, "--cookie - (stdin) is not supported"),
        ([], "-", "--cookie-jar - (stdout) is not supported"),
    ],
)
def test_a_dash_is_refused_not_taken_for_a_file(
    cookies: list[str], jar: str | None, expected: str
) -> None:
    # "-" is stdin or stdout everywhere else on the command line; -c - made
    # a file named "-" in the working directory.
    with pytest.raises(UsageError, match=re.escape(expected)):
        cookie_files(cookies, jar)


# --------------------------------------------------------------------------
# -b given more than once: curl (7.76 on) sends every NAME=VALUE string,
# joined by "; " in the order given, and reads every file.


def _cookie_file(path: Path, *cookies: tuple[str, str]) -> Path:
    path.write_text(
        "# Netscape HTTP Cookie File\n"
        + "".join(f"127.0.0.1\tFALSE\t/\tFALSE\t0\t{name}\t{value}\n" for name, value in cookies)
    )
    return path


async def test_every_cookie_string_given_goes_in_its_order(raw_server: Any) -> None:
    handler, seen = cookie_server({})
    server = await raw_server(handler)
    result = await arun_asks("get", f"{server.url}/", "-b", "a=1; b=2", "-b", "c=3", "-b", "a=4")
    assert result.returncode == 0, result.stderr
    assert seen == [b"a=1; b=2; c=3; a=4"]


async def test_every_cookie_file_given_is_read(raw_server: Any, tmp_path: Path) -> None:
    handler, seen = cookie_server({})
    server = await raw_server(handler)
    first = _cookie_file(tmp_path / "first.txt", ("session", "s3cret"), ("theme", "dark"))
    second = _cookie_file(tmp_path / "second.txt", ("lang", "en"))
    result = await arun_asks("get", f"{server.url}/", "-b", str(first), "-b", str(second))
    assert result.returncode == 0, result.stderr
    assert len(seen) == 1 and seen[0] is not None
    assert sorted(seen[0].split(b"; ")) == [b"lang=en", b"session=s3cret", b"theme=dark"]


async def test_a_cookie_file_and_strings_all_go(raw_server: Any, tmp_path: Path) -> None:
    # `-b session.txt -b "extra=1"`: the file's cookies and the string's,
    # in one Cookie header (RFC 6265 section 5.4: one header a request).
    handler, seen = cookie_server({b"/login": [b"fresh=1; Path=/"]})
    server = await raw_server(handler)
    jar = _cookie_file(tmp_path / "session.txt", ("session", "s3cret"))
    saved = tmp_path / "saved.txt"
    args = ["-b", "extra=1", "-b", str(jar), "-b", "more=2", "-c", str(saved)]
    result = await arun_asks("get", f"{server.url}/login", *args)
    assert result.returncode == 0, result.stderr
    assert len(seen) == 1 and seen[0] is not None
    assert sorted(seen[0].split(b"; ")) == [b"extra=1", b"more=2", b"session=s3cret"]
    # The file's cookies are the session's; the strings are a header only,
    # never written to the jar (as curl's are not).
    loaded = http.cookiejar.MozillaCookieJar()
    loaded.load(str(saved), ignore_discard=True)
    assert {c.name: c.value for c in loaded} == {"session": "s3cret", "fresh": "1"}


def test_each_cookie_file_given_is_checked_before_the_request(tmp_path: Path) -> None:
    good = _cookie_file(tmp_path / "good.txt", ("session", "s3cret"))
    result = run_asks(
        "get", "http://127.0.0.1:9/", "-b", str(tmp_path / "nope.txt"), "-b", str(good)
    )
    assert result.returncode == 2, result.stderr
    assert_one_error_line(result, "cannot read --cookie file", "nope.txt")


# --------------------------------------------------------------------------
# -b "": curl's "cookie engine on, no cookies to start with" (an empty
# CURLOPT_COOKIEFILE), not a file of no name.


@pytest.mark.parametrize("save", [False, True], ids=["alone", "with -c"])
async def test_an_empty_cookie_argument_keeps_the_cookies_the_responses_set(
    raw_server: Any, tmp_path: Path, save: bool
) -> None:
    handler, seen = cookie_server({b"/redirect": [b"hop=1; Path=/"]})
    server = await raw_server(handler)
    jar = tmp_path / "jar.txt"
    args = ["-b", "", *(["-c", str(jar)] if save else [])]
    result = await arun_asks("get", f"{server.url}/redirect", *args)
    assert result.returncode == 0, result.stderr
    assert seen == [None, b"hop=1"]  # set by the redirect, sent to its target
    if save:
        loaded = http.cookiejar.MozillaCookieJar()
        loaded.load(str(jar), ignore_discard=True)
        assert {c.name: c.value for c in loaded} == {"hop": "1"}


def test_an_empty_cookie_argument_is_an_empty_store_with_the_others() -> None:
    alone = cookie_files([""], None)
    assert alone.send is None and alone.jar is not None and len(alone.jar) == 0
    with_pairs = cookie_files(["", "a=1"], None)
    assert with_pairs.send == "a=1" and with_pairs.jar is not None
