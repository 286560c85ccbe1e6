"""Property tests: what must hold for every input, not just the chosen ones.

* Whatever bytes a server answers with - random, almost-HTTP, or HTTP with
  a few bytes flipped, sent whole or dribbled in small pieces - the call
  returns a response or raises an asks exception. Nothing else escapes,
  nothing hangs, no socket or slot is left behind.
* Redirect planning (``asks._redirects.plan_redirect``): which statuses
  redirect, how the method changes, when the body goes, which moves cross an
  origin (and so drop credentials).
* URL building (``asks._urls.build_url``): ``base_location + endpoint +
  path`` with the slashes normalised.
* Query parameters (``asks._urls.encode_params``): what goes in comes back
  out of the query string.
* URL parsing (``asks._urls``): the regex fast path gives exactly what the
  general parse gives, for every string it accepts.

The network property runs a sync test that calls ``curio.run`` itself, one
kernel and one self-made loopback server per example: the harness gives
hypothesis tests no async fixtures.
"""

from __future__ import annotations

import os
import socket
import string
import time
from urllib.parse import parse_qsl, unquote, urlencode, urljoin, urlsplit

import curio
import curio.socket
import h11
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

import asks
from asks._redirects import REDIRECT_CODES, plan_redirect, strips_credentials
from asks._urls import _parse_general, _parse_simple, build_url, encode_params, parse_url
from asks.errors import AsksException
from tests.servers import read_request
from tests.strategies import server_bytes, split

# --------------------------------------------------------------------------
# Any bytes from the server: a response or an asks exception


def open_fd_count() -> int:
    return len(os.listdir("/proc/self/fd"))


def exchange(data: bytes, cuts: list[int], stream: bool) -> str:
    """One request to a loopback server that answers ``data`` and closes.

    Returns a word for the outcome; raises whatever escaped that is not an
    asks exception.
    """
    pieces = split(data, cuts)

    async def serve(client) -> None:
        try:
            if await read_request(client) is None:
                return
            for piece in pieces:
                await client.sendall(piece)
                if len(pieces) > 1:
                    # Let the client read each piece on its own.
                    await curio.sleep(0.001)
        except (OSError, h11.RemoteProtocolError):
            pass  # the client gave up first
        finally:
            await client.close()

    async def accept_loop(listener) -> None:
        async with curio.TaskGroup() as connections:
            while True:
                client, _ = await listener.accept()
                await connections.spawn(serve, client)

    async def main() -> str:
        listener = curio.socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            listener.bind(("127.0.0.1", 0))
            listener.listen(8)
            url = f"http://127.0.0.1:{listener.getsockname()[1]}/"
            server = await curio.spawn(accept_loop, listener)
            session = asks.Session()
            try:
                outcome = await ask(session, url)
            finally:
                await session.close()
                await server.cancel()
            assert session._pool.open == 0
            return outcome
        finally:
            await listener.close()

    async def ask(session: asks.Session, url: str) -> str:
        try:
            r = await session.get(url, stream=stream, timeout=5, retries=0, max_redirects=2)
            if stream:
                async with r.body:
                    async for _chunk in r.body(timeout=5):
                        pass
            else:
                r.content  # noqa: B018 - decoding may fail, with an asks exception
                r.text  # noqa: B018
            return f"response {r.status_code}"
        except AsksException as exc:
            return type(exc).__name__

    return curio.run(main)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=server_bytes, cuts=st.lists(st.integers(0, 400), max_size=6), stream=st.booleans())
def test_any_server_bytes_give_a_response_or_an_asks_exception(data, cuts, stream):
    fds = open_fd_count()
    start = time.monotonic()
    outcome = exchange(data, cuts, stream)
    event(outcome)
    # The server always closes after its bytes: nothing may wait for the
    # 5 s timeout.
    assert time.monotonic() - start < 3
    assert open_fd_count() == fds


# --------------------------------------------------------------------------
# Redirect planning

METHODS = st.sampled_from(["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"])
BASE = parse_url("http://example.com:8080/dir/page?q=1")

segment = st.text(alphabet=string.ascii_letters + string.digits + "-._~", min_size=1, max_size=8)
paths = st.lists(segment, min_size=1, max_size=4).map(lambda parts: "/" + "/".join(parts))
hosts = st.sampled_from(["example.com", "EXAMPLE.com", "other.example", "127.0.0.1", "[::1]"])
schemes = st.sampled_from(["http", "https"])
ports = st.one_of(st.none(), st.sampled_from([80, 443, 8080, 9999]))


@st.composite
def absolute_locations(draw) -> tuple[str, tuple[str, str, int]]:
    """An absolute http(s) Location and the origin it names."""
    scheme, host, port = draw(schemes), draw(hosts), draw(ports)
    netloc = host if port is None else f"{host}:{port}"
    origin_port = port if port is not None else {"http": 80, "https": 443}[scheme]
    origin = (scheme, host.strip("[]").lower(), origin_port)
    return f"{scheme}://{netloc}{draw(paths)}", origin


relative_locations = st.one_of(
    paths,
    segment,  # relative to the base's directory
    paths.map(lambda p: p + "?x=1"),
    paths.map(lambda p: p + "#fragment"),
    st.just("?only=query"),
    st.just("../up"),
)


@given(
    status=st.integers(100, 599).filter(lambda s: s not in REDIRECT_CODES),
    method=METHODS,
    location=st.text(),
)
def test_only_redirect_statuses_redirect(status, method, location):
    assert plan_redirect(status, method, BASE, location) is None


@given(status=st.sampled_from(sorted(REDIRECT_CODES)), method=METHODS)
def test_a_redirect_without_location_is_not_followed(status, method):
    assert plan_redirect(status, method, BASE, None) is None
    assert plan_redirect(status, method, BASE, "") is None


@given(status=st.sampled_from(sorted(REDIRECT_CODES)), method=METHODS, location=st.text())
def test_any_location_text_plans_or_raises_value_error(status, method, location):
    try:
        plan = plan_redirect(status, method, BASE, location)
    except ValueError:
        return
    assert plan is None or plan.url.scheme in ("http", "https")


@given(
    status=st.sampled_from(sorted(REDIRECT_CODES)),
    method=METHODS,
    location=relative_locations,
)
def test_method_and_body_follow_the_status(status, method, location):
    plan = plan_redirect(status, method, BASE, location)
    assert plan is not None
    becomes_get = (status == 303 and method != "HEAD") or (
        status in (301, 302) and method == "POST"
    )
    assert plan.method == ("GET" if becomes_get else method)
    # The body goes exactly when the request turns into a GET.
    assert plan.keep_body is not becomes_get


@given(status=st.sampled_from(sorted(REDIRECT_CODES)), location=relative_locations)
def test_a_relative_location_stays_on_the_origin_and_drops_the_fragment(status, location):
    plan = plan_redirect(status, "GET", BASE, location)
    assert plan is not None
    assert plan.url.origin == BASE.origin
    assert not strips_credentials(BASE, plan.url)
    assert "#" not in plan.url.target
    expected = urlsplit(urljoin(str(BASE), location))
    assert plan.url.target.split("?")[0] == (expected.path or "/")


@given(status=st.sampled_from(sorted(REDIRECT_CODES)), located=absolute_locations())
def test_an_absolute_location_names_the_next_origin(status, located):
    location, origin = located
    plan = plan_redirect(status, "GET", BASE, location)
    assert plan is not None
    assert tuple(plan.url.origin) == origin
    # Credentials stay exactly when scheme, host and port all stay.
    assert strips_credentials(BASE, plan.url) is (origin != tuple(BASE.origin))


@given(host=hosts, port=ports, path=paths)
def test_https_to_http_always_drops_credentials(host, port, path):
    netloc = host if port is None else f"{host}:{port}"
    secure = parse_url(f"https://{netloc}{path}")
    plan = plan_redirect(302, "GET", secure, f"http://{netloc}{path}")
    assert plan is not None
    assert strips_credentials(secure, plan.url)


@given(
    status=st.sampled_from(sorted(REDIRECT_CODES)),
    location=st.one_of(relative_locations, absolute_locations().map(lambda x: x[0])),
)
def test_a_planned_url_survives_being_written_out_and_read_back(status, location):
    plan = plan_redirect(status, "GET", BASE, location)
    assert plan is not None
    assert parse_url(str(plan.url)) == plan.url._replace(userinfo="")


# --------------------------------------------------------------------------
# URL building: base_location + endpoint + path

bases = st.tuples(schemes, st.sampled_from(["example.com", "127.0.0.1:8080", "[::1]"])).map(
    lambda t: f"{t[0]}://{t[1]}"
)
slashes = st.integers(0, 3).map(lambda n: "/" * n)
# (Not "." or "..": those are dot segments, resolved away by parse_url as
# RFC 3986 section 5.2.4 says, tested in test_urls.py.)
words = st.lists(segment.filter(lambda text: text not in (".", "..")), min_size=0, max_size=3).map(
    "/".join
)


@given(
    base=bases, trailing=slashes, endpoint=words, around=st.tuples(slashes, slashes), path=words
)
def test_build_url_joins_with_exactly_one_slash(base, trailing, endpoint, around, path):
    # The endpoint may come with any slashes around it (even be only
    # slashes), the path with or without its leading one.
    lead, tail = around
    target = (f"/{endpoint}" if endpoint else "") + (f"/{path}" if path else "")
    for given_path in (path, "/" + path):
        url = build_url(base + trailing, lead + endpoint + tail, given_path if path else "")
        assert url.startswith(base)
        assert "//" not in url[len(base) :]
        # "http://host" and "http://host/" are the same resource.
        assert parse_url(url).target == (target or "/")


@given(endpoint=st.one_of(st.none(), words), path=words)
def test_build_url_without_a_base_location_is_value_error(endpoint, path):
    for base in (None, ""):
        with pytest.raises(ValueError):
            build_url(base, endpoint, path)


# --------------------------------------------------------------------------
# Query parameters

# Lone surrogates cannot be encoded as UTF-8 at all; everything else can.
text = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=12)
scalars = st.one_of(text, st.integers(), st.booleans(), st.floats(allow_nan=False))


def as_text(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


@given(pairs=st.lists(st.tuples(text, scalars), max_size=6))
def test_params_pairs_round_trip_through_the_query_string(pairs):
    encoded = encode_params(pairs)
    assert parse_qsl(encoded, keep_blank_values=True) == [(k, as_text(v)) for k, v in pairs]


@given(
    params=st.dictionaries(
        text,
        st.one_of(st.none(), scalars, st.lists(st.one_of(st.none(), scalars), max_size=3)),
        max_size=5,
    )
)
def test_params_dict_skips_none_and_repeats_list_values(params):
    expected = []
    for key, value in params.items():
        for v in value if isinstance(value, list) else [value]:
            if v is not None:
                expected.append((key, as_text(v)))
    assert parse_qsl(encode_params(params), keep_blank_values=True) == expected


@given(
    query=st.sampled_from(["", "?a=1"]),
    pairs=st.lists(st.tuples(text, text), min_size=1, max_size=5),
)
def test_params_appended_to_a_url_come_back_from_its_query(query, pairs):
    url = parse_url("http://example.com/p" + query).with_params(pairs)
    before = [("a", "1")] if query else []
    assert parse_qsl(urlsplit(str(url)).query, keep_blank_values=True) == before + pairs
    # Written out and parsed again, nothing is re-encoded.
    assert parse_url(str(url)) == url


# Names and values at the fast path's border: the characters urlencode keeps
# as they are, and a few of those it must encode.
border_text = st.text(alphabet=string.ascii_letters + string.digits + "-._~ =&+%/?é", max_size=8)


@given(
    pairs=st.lists(
        st.tuples(st.one_of(border_text, text), st.one_of(border_text, scalars)), max_size=5
    )
)
def test_params_are_encoded_exactly_as_urlencode_encodes_them(pairs):
    # Plain names and values are joined without urlencode (a fast path);
    # the result must be urlencode's, byte for byte, either way.
    assert encode_params(pairs) == urlencode([(k, as_text(v)) for k, v in pairs])


QUERY_SAFE = set(string.ascii_letters + string.digits + "/:@!$&'()*+,;=-._~%?")


@given(value=text.filter(lambda t: not any(c in t for c in "\r\n\0%")))
def test_params_string_is_percent_encoded_and_otherwise_kept(value):
    encoded = encode_params(value)
    assert set(encoded) <= QUERY_SAFE
    assert unquote(encoded) == value.lstrip("?")


@given(value=text, bad=st.sampled_from(["\r", "\n", "\0"]), at=st.integers(0, 12))
def test_params_string_with_cr_lf_nul_is_value_error(value, bad, at):
    with pytest.raises(ValueError):
        encode_params(value[:at] + bad + value[at:])


# --------------------------------------------------------------------------
# URL parsing: the fast path is the general parse, only faster

# Pieces chosen to sit on both sides of every line the fast path draws:
# upper case, userinfo, IPv6 brackets, ports (empty, 0, too large, padded),
# characters quote() would escape, fragments, whitespace and control bytes.
url_scheme = st.sampled_from(["http", "https"] * 3 + ["HTTP", "Https", "ftp", ""])
_HOST_PLAIN = string.ascii_letters + string.digits + ".-"
_URL_SAFE = string.ascii_letters + string.digits + "/:@!$&'()*+,;=-._~%?"
_plain_host = st.text(alphabet=_HOST_PLAIN, min_size=1, max_size=12)
_safe_text = st.text(alphabet=_URL_SAFE, max_size=12)


def _with_one_of(plain, odd):
    # A plain piece with one odd character somewhere in it: the strings that
    # sit just on the far side of the fast path's line.
    return st.one_of(plain, plain, st.tuples(plain, st.sampled_from(odd), plain).map("".join))


url_host = _with_one_of(_plain_host, [*"_@:[]% \tÉé#/?", "xn--é"])
url_port = st.one_of(
    st.just(""),
    st.integers(0, 70000).map(lambda n: f":{n}"),
    # The last: full-width digits, which int() would take.
    st.sampled_from([":", ":080", ":00080", ":8o", ":-1", ":\uff18\uff10"]),
)
url_text = _with_one_of(_safe_text, [*'#[] \\"<>^`{|}é\t\r\n\0', "\u3000"])


@settings(max_examples=500)
@given(scheme=url_scheme, host=url_host, port=url_port, path=url_text, query=url_text)
def test_the_url_fast_path_parses_as_the_general_parse_does(scheme, host, port, path, query):
    for url in (
        f"{scheme}://{host}{port}{path}",
        f"{scheme}://{host}{port}/{path}?{query}",
        f"{scheme}://{host}{port}?{query}",
    ):
        fast = _parse_simple(url)
        event("fast path" if fast is not None else "general parse")
        if fast is None:
            continue
        # Where the fast path answers, the general parse agrees field by field
        # (and so on the origin, the Host header, the text and the target).
        general = _parse_general(url)
        assert fast == general
        assert str(fast) == str(general)


@pytest.mark.parametrize(
    "url",
    [
        "http://example.com",
        "https://api.example.com/v2/items/17?page=3&sort=-date",
        "http://127.0.0.1:8080/small",
        "http://Example.COM/a%20b?q=%C3%A9",
    ],
)
def test_everyday_urls_take_the_fast_path(url):
    # The speed of a scraper's distinct URLs depends on it (docs/performance.md).
    assert _parse_simple(url) == _parse_general(url)


@pytest.mark.parametrize(
    "url",
    [
        "http://user:pw@example.com/",  # userinfo
        "http://[::1]:8080/",  # IPv6
        "http://example.com/a#frag",  # fragment
        "http://example.com/a b",  # quoted by the general parse
        "HTTP://example.com/",  # scheme case
        "http://example.com:0/",  # an error, worded by the general parse
        "http://example.com:65536/",
        " http://example.com/",  # stripped by the general parse
    ],
)
def test_everything_else_takes_the_general_parse(url):
    assert _parse_simple(url) is None
