"""RFC 6265 cookie rules, pure (asks/_cookies.py) and through CookieTracker, no sockets.

Each cause issue 20 lists for the old jar's failures has a test here (named
``test_cause_...``) and again through a real server in test_cookies.py; the
RFC's own examples (section 3.1) and rules (5.1.x - 5.4) follow; the
http-state suite and its dates run whole at the end.
"""

from __future__ import annotations

import collections
import email.utils
import http.cookiejar
import json
import subprocess
import sys
from pathlib import Path

import pytest

from asks import _cookies
from asks._cookies import (
    ParsedCookie,
    decide,
    default_path,
    domain_match,
    parse_cookie_date,
    parse_set_cookie,
    path_match,
    request_path,
)
from asks._headers import Headers
from asks._urls import parse_url
from asks.cookie_utils import CookieTracker, parse_response_cookies
from tests.http_state import DATA, load_cases, run_asks_pure

NOW = 1_700_000_000.0  # 2023-11-14


def set_cookies(*lines: str) -> Headers:
    return Headers.from_raw([(b"Set-Cookie", line.encode("latin-1")) for line in lines])


def tracker_after(url: str, *lines: str, tracker: CookieTracker | None = None) -> CookieTracker:
    tracker = tracker if tracker is not None else CookieTracker()
    host = url.split("//")[1].split("/")[0].split(":")[0]
    tracker.store(set_cookies(*lines), url, host, url.split(":")[0])
    return tracker


def sent(tracker: CookieTracker, url: str) -> str | None:
    host = url.split("//")[1].split("/")[0].split(":")[0]
    return tracker.cookie_header(url, host, url.split(":")[0])


# -- each cause of the old jar's failures --------------------------------------


def test_cause_a_line_without_equals_is_ignored():
    assert parse_set_cookie("foo", NOW) is None
    assert parse_set_cookie("foo; Path=/", NOW) is None  # the = is in an attribute
    assert parse_set_cookie("=bar", NOW) is None  # and an empty name
    t = tracker_after("http://example.org/", "foo", "   ", "a=1")
    assert sent(t, "http://example.org/") == "a=1"


def test_cause_repeated_attributes_the_last_wins():
    c = parse_set_cookie(
        "a=1; Path=/first; Domain=a.example.org; Path=/second; Domain=example.org", NOW
    )
    assert c is not None and c.path == "/second" and c.domain == "example.org"
    c = parse_set_cookie("a=1; Max-Age=10; Max-Age=20", NOW)
    assert c is not None and c.expiry == NOW + 20
    t = tracker_after("http://home.example.org/", "a=1; Domain=other.org; Domain=example.org")
    assert sent(t, "http://sibling.example.org/") == "a=1"


def test_cause_empty_valued_attributes():
    # Path alone: the default path (the directory of the request path).
    c = parse_set_cookie("a=1; Path=/x; Path", NOW)
    assert c is not None and c.path == ""
    stored = decide(c, "example.org", "/dir/page", NOW)
    assert stored is not None and stored.path == "/dir"
    # Domain= is ignored (an earlier Domain holds; without one, host-only).
    c = parse_set_cookie("a=1; Domain=", NOW)
    assert c is not None and c.domain is None
    c = parse_set_cookie("a=1; Domain=example.org; Domain=", NOW)
    assert c is not None and c.domain == "example.org"
    # Secure= (or any value) is Secure.
    for line in ("a=1; Secure=", "a=1; Secure=no", "a=1; secure"):
        c = parse_set_cookie(line, NOW)
        assert c is not None and c.secure
    # (Set over https: plain http may not set a Secure cookie at all, below.)
    t = tracker_after("https://example.org/", "a=1; Secure=")
    assert sent(t, "http://example.org/") is None
    assert sent(t, "https://example.org/") == "a=1"


def test_cause_invalid_max_age_ignores_the_attribute_not_the_cookie():
    for bad in ("50,399", "abc", "", "1.5", " ", "+5", "-", "5-"):
        c = parse_set_cookie(f"a=1; Max-Age={bad}", NOW)
        assert c is not None and c.expiry is None, bad
    c = parse_set_cookie("a=1; Expires=Wed, 09 Jun 2100 10:18:14 GMT; Max-Age=50,399", NOW)
    assert c is not None and c.expiry == parse_cookie_date("Wed, 09 Jun 2100 10:18:14 GMT")
    t = tracker_after("http://example.org/", "a=1; Max-Age=50,399")
    assert sent(t, "http://example.org/") == "a=1"


def test_cause_max_age_zero_on_a_later_line_applies_in_order():
    t = tracker_after("http://example.org/", "a=1", "b=2", "a=gone; Max-Age=0")
    assert sent(t, "http://example.org/") == "b=2"
    # And the other way round: set again after deleted, it is there.
    t = tracker_after("http://example.org/", "a=1; Max-Age=0", "a=2")
    assert sent(t, "http://example.org/") == "a=2"
    for zero in ("0", "-1", "-100"):
        c = parse_set_cookie(f"a=1; Max-Age={zero}", NOW)
        assert c is not None and c.expiry == _cookies.EARLIEST


def test_cause_a_cookie_without_domain_is_host_only():
    t = tracker_after("http://example.org/", "a=1")
    assert sent(t, "http://example.org/") == "a=1"
    assert sent(t, "http://www.example.org/") is None
    assert sent(t, "http://sub.www.example.org/") is None
    # With Domain it goes to subdomains.
    t = tracker_after("http://example.org/", "a=1; Domain=example.org")
    assert sent(t, "http://www.example.org/") == "a=1"


def test_cause_version_attribute_is_no_reason_to_reject():
    for line in ("a=1; version=1", "a=1; Version=", "a=1; version=abc; Comment=x; Priority=High"):
        c = parse_set_cookie(line, NOW)
        assert c == ParsedCookie("a", "1"), line
    t = tracker_after("http://example.org/", "a=1; version=1")
    assert sent(t, "http://example.org/") == "a=1"


def test_cause_quoted_path_is_a_literal_value_that_takes_the_default_path():
    c = parse_set_cookie('a=1; Path="/foo"', NOW)
    assert c is not None and c.path == ""  # does not start with "/"
    t = tracker_after("http://example.org/dir/page", 'a=1; Path="/foo"')
    assert sent(t, "http://example.org/dir/x") == "a=1"  # default path /dir
    assert sent(t, "http://example.org/foo") is None
    assert sent(t, 'http://example.org/"/foo"') is None


def test_cause_sending_order_longer_paths_first_then_earlier_creation():
    t = tracker_after(
        "http://example.org/",
        "short=1; Path=/",
        "long=2; Path=/a/b",
        "mid=3; Path=/a",
        "short2=4; Path=/",
    )
    assert sent(t, "http://example.org/a/b/c") == "long=2; mid=3; short=1; short2=4"
    # A later response adds an older-path cookie: still after the first ones.
    tracker_after("http://example.org/", "new=5; Path=/", tracker=t)
    assert sent(t, "http://example.org/") == "short=1; short2=4; new=5"


def test_replacement_keeps_the_creation_time():
    t = tracker_after("http://example.org/", "a=1", "b=2")
    tracker_after("http://example.org/", "a=3", tracker=t)
    assert sent(t, "http://example.org/") == "a=3; b=2"
    # Host-only and Domain spellings of the same (name, domain, path) are one
    # cookie: the newer replaces the older, in place.
    tracker_after("http://example.org/", "a=4; Domain=example.org", tracker=t)
    assert sent(t, "http://example.org/") == "a=4; b=2"
    assert len(t) == 2
    assert sent(t, "http://www.example.org/") == "a=4"


# -- RFC 6265 section 3.1's examples ---------------------------------------------


def test_rfc_3_1_examples():
    t = tracker_after("http://example.com/", "SID=31d4d96e407aad42")
    assert sent(t, "http://example.com/") == "SID=31d4d96e407aad42"

    t = tracker_after(
        "http://example.com/",
        "SID=31d4d96e407aad42; Path=/; Domain=example.com",
        "lang=en-US; Path=/; Domain=example.com",
    )
    assert sent(t, "http://example.com/") == "SID=31d4d96e407aad42; lang=en-US"
    assert sent(t, "http://www.example.com/x") == "SID=31d4d96e407aad42; lang=en-US"

    t = tracker_after(
        "https://example.com/",
        "SID=31d4d96e407aad42; Path=/; Secure; HttpOnly",
        "lang=en-US; Path=/; Domain=example.com",
    )
    assert sent(t, "https://example.com/") == "SID=31d4d96e407aad42; lang=en-US"
    assert sent(t, "http://example.com/") == "lang=en-US"

    t = tracker_after("http://example.com/", "lang=en-US; Expires=Wed, 09 Jun 2121 10:18:14 GMT")
    assert sent(t, "http://example.com/") == "lang=en-US"
    (stored,) = t
    assert stored.expires == parse_cookie_date("Wed, 09 Jun 2121 10:18:14 GMT")
    tracker_after("http://example.com/", "lang=; Expires=Sun, 06 Nov 1994 08:49:37 GMT", tracker=t)
    assert sent(t, "http://example.com/") is None and len(t) == 0


# -- section 5.1 rules ------------------------------------------------------------


@pytest.mark.parametrize(
    "host, domain, expected",
    [
        ("example.org", "example.org", True),
        ("www.example.org", "example.org", True),
        ("a.b.example.org", "example.org", True),
        ("badexample.org", "example.org", False),
        ("example.org", "www.example.org", False),
        ("127.0.0.1", "127.0.0.1", True),
        ("10.127.0.0.1", "127.0.0.1", True),  # not an IPv4 address: a name
        ("1.2.3.4", "2.3.4", False),  # an IP address matches only itself
        ("::1", "::1", True),
    ],
)
def test_domain_match(host, domain, expected):
    assert domain_match(host, domain) is expected


@pytest.mark.parametrize(
    "request_path_, cookie_path, expected",
    [
        ("/", "/", True),
        ("/a", "/", True),
        ("/a", "/a", True),
        ("/a/b", "/a", True),
        ("/a/b", "/a/", True),
        ("/ab", "/a", False),
        ("/a", "/a/", False),
        ("/", "/a", False),
        ("/A", "/a", False),  # case-sensitive
    ],
)
def test_path_match(request_path_, cookie_path, expected):
    assert path_match(request_path_, cookie_path) is expected


@pytest.mark.parametrize(
    "path, expected",
    [
        ("", "/"),
        ("x", "/"),
        ("/", "/"),
        ("/a", "/"),
        ("/a/", "/a"),
        ("/a/b", "/a"),
        ("/a/b/c", "/a/b"),
    ],
)
def test_default_path(path, expected):
    assert default_path(path) == expected


@pytest.mark.parametrize(
    "url, expected",
    [
        ("http://h/", "/"),
        ("http://h", "/"),
        ("http://h:80/a/b?q=/x", "/a/b"),
        ("http://h/a#f", "/a"),
        ("https://[::1]:8/p", "/p"),
    ],
)
def test_request_path(url, expected):
    assert request_path(url) == expected


def test_parse_trims_spaces_and_keeps_inner_ones_and_empty_values():
    c = parse_set_cookie(" \tname  = a value \t; Path=/ ", NOW)
    assert c is not None and (c.name, c.value, c.path) == ("name", "a value", "/")
    c = parse_set_cookie("a=", NOW)
    assert c is not None and c.value == ""
    c = parse_set_cookie("a=b=c", NOW)  # the first = splits
    assert c is not None and (c.name, c.value) == ("a", "b=c")
    c = parse_set_cookie('a="quoted"', NOW)  # quotes are part of the value
    assert c is not None and c.value == '"quoted"'


def test_control_characters_make_the_line_ignored():
    for line in ("a=1\x00", "a=\x01b", "a=1; Path=/\x7f", "a=1\nb=2"):
        assert parse_set_cookie(line, NOW) is None
    assert parse_set_cookie("a=1\t2", NOW) is not None


def test_domain_attribute_is_lower_cased_and_loses_its_leading_dot():
    c = parse_set_cookie("a=1; Domain=.Example.ORG", NOW)
    assert c is not None and c.domain == "example.org"
    # Non-ASCII is not lower-cased by str.lower() but mapped as a URL's host
    # is (UTS 46): the Kelvin sign is "k" there, so it is here.
    c = parse_set_cookie("a=1; Domain=\u212aexample.org", NOW)
    assert c is not None and c.domain == "kexample.org"
    assert parse_url("http://\u212aexample.org/").host == "kexample.org"
    assert decide(c, "www.kexample.org", "/", NOW, lambda d: False) is not None
    assert decide(c, "other.org", "/", NOW, lambda d: False) is None


def test_domain_not_covering_the_host_is_refused():
    for domain in ("other.org", "www.example.org", "ample.org"):
        c = parse_set_cookie(f"a=1; Domain={domain}", NOW)
        assert c is not None and decide(c, "example.org", "/", NOW) is None
    c = parse_set_cookie("a=1; Domain=0.0.1", NOW)
    assert c is not None and decide(c, "127.0.0.1", "/", NOW) is None


def test_max_age_wins_over_expires_whatever_the_order():
    c = parse_set_cookie("a=1; Max-Age=100; Expires=Wed, 09 Jun 2100 10:18:14 GMT", NOW)
    assert c is not None and c.expiry == NOW + 100
    c = parse_set_cookie("a=1; Expires=Wed, 09 Jun 2100 10:18:14 GMT; Max-Age=100", NOW)
    assert c is not None and c.expiry == NOW + 100
    c = parse_set_cookie("a=1; Max-Age=" + "9" * 40, NOW)
    assert c is not None and c.expiry == _cookies.LATEST


def test_invalid_expires_is_ignored():
    c = parse_set_cookie("a=1; Expires=tomorrow", NOW)
    assert c == ParsedCookie("a", "1")


def test_secure_http_only_same_site_are_kept():
    c = parse_set_cookie("a=1; Secure; HttpOnly; SameSite=lax", NOW)
    assert c is not None and c.secure and c.http_only and c.same_site == "Lax"
    c = parse_set_cookie("a=1; SameSite=Strict; SameSite=bogus", NOW)
    assert c is not None and c.same_site is None
    t = tracker_after("https://example.org/", "a=1; Secure; HttpOnly; SameSite=None")
    (jar_cookie,) = t
    assert jar_cookie.secure and jar_cookie.has_nonstandard_attr("HTTPOnly")
    assert jar_cookie.get_nonstandard_attr("SameSite") == "None"


# -- public suffixes -------------------------------------------------------------


@pytest.mark.parametrize(
    "host, domain",
    [
        ("example.com", "com"),
        ("www.example.co.uk", "co.uk"),
        ("me.github.io", "github.io"),  # the list's private section counts
    ],
)
def test_public_suffix_domain_is_refused(host, domain):
    c = parse_set_cookie(f"a=1; Domain={domain}", NOW)
    assert c is not None and decide(c, host, "/", NOW) is None
    assert _cookies.is_public_suffix(domain)


def test_public_suffix_equal_to_the_host_is_host_only():
    for host in ("localhost", "github.io"):
        c = parse_set_cookie(f"a=1; Domain={host}", NOW)
        assert c is not None
        stored = decide(c, host, "/", NOW)
        assert stored is not None and stored.host_only and stored.domain == host
    assert not _cookies.is_public_suffix("example.co.uk")


def test_public_suffix_list_is_not_asked_without_domain_or_for_an_ip():
    def never(domain: str) -> bool:
        raise AssertionError(domain)

    assert decide(ParsedCookie("a", "1"), "example.org", "/", NOW, never) is not None
    ip = ParsedCookie("a", "1", domain="127.0.0.1")
    assert decide(ip, "127.0.0.1", "/", NOW, never) is not None


def test_imports_stay_lazy():
    # http.cookiejar only for a store, publicsuffixlist only for a Domain.
    code = (
        "import sys, asks\n"
        "from asks._headers import Headers\n"
        "from asks.cookie_utils import parse_response_cookies\n"
        "h = Headers.from_raw([(b'Set-Cookie', b'a=1')])\n"
        "parse_response_cookies(h, 'http://x.org/', 'x.org', 'http')\n"
        "print('http.cookiejar' in sys.modules, 'publicsuffixlist' in sys.modules)\n"
        "h = Headers.from_raw([(b'Set-Cookie', b'a=1; Domain=x.org')])\n"
        "parse_response_cookies(h, 'http://x.org/', 'x.org', 'http')\n"
        "print('publicsuffixlist' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False", "True"]


# -- the jar as the store ---------------------------------------------------------


def test_mozilla_cookie_jar_round_trip_keeps_host_only(tmp_path):
    path = tmp_path / "cookies.txt"
    jar = http.cookiejar.MozillaCookieJar(str(path))
    t = CookieTracker(jar)
    tracker_after(
        "https://home.example.org/",
        "host=1; Max-Age=1000",
        "dom=2; Domain=example.org; Max-Age=1000",
        "sec=3; Secure; HttpOnly; Max-Age=1000; Path=/p",
        "session=4",
        tracker=t,
    )
    jar.save(ignore_discard=True)
    loaded = http.cookiejar.MozillaCookieJar(str(path))
    loaded.load(ignore_discard=True)
    again = CookieTracker(loaded)
    # The file has no creation times: longer paths still go first, the rest
    # in the jar's order (cookies grouped by domain).
    both = sent(again, "https://home.example.org/p")
    assert both is not None and both.startswith("sec=3; ")
    assert sorted(both.split("; ")) == ["dom=2", "host=1", "sec=3", "session=4"]
    assert sent(again, "https://sub.home.example.org/p") == "dom=2"
    # Equal paths, no creation times after a load: RFC 6265 section 5.4 leaves
    # their order open (and the jar's own order differs between Pythons).
    plain = sent(again, "http://home.example.org/p")
    assert plain is not None and sorted(plain.split("; ")) == ["dom=2", "host=1", "session=4"]
    by_name = {c.name: c for c in loaded}
    assert by_name["sec"].has_nonstandard_attr("HTTPOnly")
    assert by_name["host"].expires == next(c for c in jar if c.name == "host").expires


def _jar_cookie(name: str, value: str | None, domain: str) -> http.cookiejar.Cookie:
    dotted = domain.startswith(".")
    return http.cookiejar.Cookie(
        version=0,
        name=name,
        value=value,
        port=None,
        port_specified=False,
        domain=domain,
        domain_specified=dotted,
        domain_initial_dot=dotted,
        path="/",
        path_specified=True,
        secure=False,
        expires=None,
        discard=True,
        comment=None,
        comment_url=None,
        rest={},
    )


def test_a_jar_filled_by_the_standard_library_is_read():
    jar = http.cookiejar.CookieJar()
    jar.set_cookie(_jar_cookie("dom", "1", ".example.org"))
    jar.set_cookie(_jar_cookie("host", "2", "example.org"))
    # A bare name the old parser kept ("Set-Cookie: foo") is not sent.
    jar.set_cookie(_jar_cookie("bare", None, "example.org"))
    t = CookieTracker(jar)
    assert sent(t, "http://example.org/") in ("dom=1; host=2", "host=2; dom=1")
    assert sent(t, "http://www.example.org/") == "dom=1"


def test_expired_cookies_are_evicted_when_sending():
    t = tracker_after("http://example.org/", "a=1; Max-Age=1000", "b=2")
    (a,) = [c for c in t if c.name == "a"]
    a.expires = 1  # long past
    assert sent(t, "http://example.org/") == "b=2"
    assert [c.name for c in t] == ["b"]


def test_response_cookies_fields():
    headers = set_cookies(
        "a=1; Path=/p; Secure; HttpOnly; SameSite=Lax; Max-Age=100",
        "b=2; Domain=example.org",
        "c=3; Domain=other.org",  # refused: not listed
        "d",  # not a cookie
        "e=gone; Max-Age=0",  # a deletion: listed, expired
    )
    cookies = parse_response_cookies(
        headers, "https://www.example.org/x/y", "www.example.org", "https"
    )
    assert [c.name for c in cookies] == ["a", "b", "e"]
    a, b, e = cookies
    assert (a.value, a.domain, a.path, a.secure, a.host, a.comment) == (
        "1", "www.example.org", "/p", True, "www.example.org", None,
    )  # fmt: skip
    assert a.host_only and a.http_only and a.same_site == "Lax" and a.expires is not None
    assert (b.domain, b.path, b.host_only, b.expires) == (".example.org", "/x", False, None)
    assert e.expires == 0


# -- what plain http may not set (draft-ietf-httpbis-rfc6265bis) ---------------


def test_a_non_ascii_domain_attribute_is_compared_as_its_a_labels():
    # The URL's host is spelled in A-labels (IDNA 2008, UTS 46): so is the
    # Domain, or the cookie never matched the host that set it.
    # (As read off the wire: UTF-8 bytes, one character each.)
    wire = "faß.de".encode().decode("latin-1")
    t = tracker_after("http://www.xn--fa-hia.de/", f"a=1; Domain={wire}", "b=2; Domain=FAß.DE")
    assert sent(t, "http://xn--fa-hia.de/") == "a=1; b=2"
    assert sent(t, "http://fass.de/") is None  # IDNA 2003's answer: another domain
    # A Domain with no A-label form names no host: the cookie is ignored.
    bad = "a\u200d\u0301.org".encode().decode("latin-1")
    assert len(tracker_after("http://example.org/", f"c=3; Domain={bad}")) == 0


class _IndexlessJar(http.cookiejar.CookieJar):
    """A jar whose index is not a dict: the store walks it instead."""

    def __init__(self) -> None:
        super().__init__()
        self._cookies = collections.UserDict()  # type: ignore[assignment]


def test_plain_http_cannot_set_a_secure_cookie():
    # Whoever sits on the plain connection would otherwise plant a cookie the
    # https site then receives as its own.
    t = tracker_after("http://example.org/", "sid=evil; Secure", "plain=1")
    assert [c.name for c in t] == ["plain"]
    assert sent(t, "https://example.org/") == "plain=1"
    headers = set_cookies("sid=evil; Secure", "plain=1")
    listed = parse_response_cookies(headers, "http://example.org/", "example.org", "http")
    assert [c.name for c in listed] == ["plain"]


@pytest.mark.parametrize("url", ["http://localhost/", "http://127.0.0.7/", "http://[::1]/"])
def test_a_loopback_host_over_http_may_set_a_secure_cookie(url):
    # Nothing stands between a client and its own machine (browsers count
    # such origins "potentially trustworthy", and curl does the same).
    host = url.split("//")[1].split("/")[0]
    t = CookieTracker()
    t.store(set_cookies("sid=1; Secure"), url, host, "http")
    assert [c.name for c in t] == ["sid"]
    assert t.cookie_header(url.replace("http:", "https:"), host, "https") == "sid=1"


@pytest.mark.parametrize(
    "line",
    [
        "sid=evil",  # replacing it
        "sid=evil; Path=/app",  # shadowing it with a longer path
        "sid=gone; Max-Age=0",  # deleting it
        "sid=evil; Domain=example.org",  # the same name for the whole domain
    ],
)
@pytest.mark.parametrize("jar", ["CookieJar", "a jar without its dict index"])
def test_plain_http_cannot_replace_shadow_or_delete_a_secure_cookie(line, jar):
    t = CookieTracker(http.cookiejar.CookieJar() if jar == "CookieJar" else _IndexlessJar())
    tracker_after("https://example.org/", "sid=1; Secure; Path=/", tracker=t)
    tracker_after("http://example.org/app/", line, "other=2", tracker=t)
    assert sorted(c.name for c in t) == ["other", "sid"]
    assert sent(t, "https://example.org/app/x") == "other=2; sid=1"  # longer path first


def test_https_may_still_replace_its_secure_cookie():
    t = tracker_after("https://example.org/", "sid=1; Secure")
    tracker_after("https://example.org/", "sid=2; Secure", tracker=t)
    assert sent(t, "https://example.org/") == "sid=2"
    # And a plain-http cookie of another domain's same name is its own.
    tracker_after("http://example.com/", "sid=3", tracker=t)
    assert sent(t, "http://example.com/") == "sid=3"


@pytest.mark.parametrize(
    ("url", "line", "kept"),
    [
        ("https://example.org/", "__Secure-a=1; Secure", True),
        ("https://example.org/", "__Secure-a=1", False),  # no Secure
        ("http://example.org/", "__Secure-a=1; Secure", False),  # not from https
        ("https://example.org/", "__secure-a=1", False),  # the prefix in any case
        ("https://example.org/", "__Host-a=1; Secure; Path=/", True),
        ("https://example.org/", "__Host-a=1; Secure; Path=/; Domain=example.org", False),
        ("https://example.org/", "__Host-a=1; Secure; Path=/x", False),
        ("https://example.org/", "__Host-a=1; Secure", False),  # no Path=/
        ("https://example.org/", "__HOST-a=1; Path=/", False),  # no Secure
        ("http://example.org/", "__Host-a=1; Secure; Path=/", False),
        ("https://example.org/", "__Hostile=1", True),  # not the prefix
    ],
)
def test_cookie_name_prefixes_hold_their_promise(url, line, kept):
    # draft-ietf-httpbis-rfc6265bis section 4.1.3: a server that names a
    # cookie __Secure- or __Host- can rely on it having come from https
    # (and, for __Host-, from this host alone, for the whole site).
    t = tracker_after(url, line)
    assert (len(t) == 1) is kept


# -- the http-state suite and its dates, whole ---------------------------------

# Expiry dates in 2019 were in the future when the suite was written; now the
# cookie has expired on arrival and sending nothing is right.
AGED = {"0002", "comma0006", "comma0007"}
CASES = load_cases()


def test_the_suite_is_all_there():
    assert len(CASES) == 218
    assert len(load_cases(include_disabled=True)) == 222


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_http_state_case(case):
    expected = None if case.name in AGED else case.expected
    assert run_asks_pure(case) == expected


def _date_vectors() -> list[tuple[str, str | None]]:
    out = []
    for name in ("examples.json", "bsd-examples.json"):
        text = (DATA.parent / "dates" / name).read_text()
        # bsd-examples.json opens with a // licence comment.
        out += [(v["test"], v["expected"]) for v in json.loads(text[text.index("[") :])]
    return out


DATES = _date_vectors()


def test_the_dates_are_all_there():
    assert len(DATES) == 70


@pytest.mark.parametrize("text, expected", DATES)
def test_http_state_date(text, expected):
    want = None if expected is None else email.utils.parsedate_to_datetime(expected).timestamp()
    assert parse_cookie_date(text) == want


@pytest.mark.parametrize(
    "text, expected",
    [
        ("Sun, 06 Nov 1994 08:49:37 GMT", 784111777.0),  # IMF-fixdate
        ("Sunday, 06-Nov-94 08:49:37 GMT", 784111777.0),  # RFC 850
        ("Sun Nov  6 08:49:37 1994", 784111777.0),  # asctime
        ("06 nov 1994 8:49:37", 784111777.0),  # any order, one-digit hour
        ("31 Feb 2020 00:00:00", None),  # no such day
        ("01 Jan 1600 00:00:00", None),  # before 1601
        ("01 Jan 2020 24:00:00", None),
        ("01 Jan 2020 00:60:00", None),
        ("01 Jan 2020 00:00", None),  # no seconds: no time
        ("01 Jan 2020", None),
        ("", None),
    ],
)
def test_date_rules(text, expected):
    assert parse_cookie_date(text) == expected


def test_two_digit_years():
    assert parse_cookie_date("01 Jan 70 00:00:00") == 0.0
    assert parse_cookie_date("01 Jan 69 00:00:00") == parse_cookie_date("01 Jan 2069 00:00:00")
    assert parse_cookie_date("01 Jan 99 00:00:00") == parse_cookie_date("01 Jan 1999 00:00:00")


def test_data_dir_ships_no_code():
    files = {p.suffix for p in Path(DATA.parent).rglob("*") if p.is_file()}
    assert files <= {"", ".json", ".md"}
