"""asks.Proxy: parsing, defaults, validation, and credentials kept out of sight."""

from __future__ import annotations

import ssl

import pytest

from asks import Proxy
from asks._boundary import translate
from asks._proxies import coerce_proxy
from asks._transport.interfaces import PoolWaitTimeout, ProxyFailed
from asks.errors import ConnectivityError, PoolTimeout, ProxyError, RequestTimeout


@pytest.mark.parametrize(
    ("url", "scheme", "host", "port"),
    [
        ("http://proxy.example:3128", "http", "proxy.example", 3128),
        ("proxy.example:3128", "http", "proxy.example", 3128),
        ("HTTP://Proxy.Example", "http", "proxy.example", 80),
        ("https://proxy.example", "https", "proxy.example", 443),
        ("socks4://p", "socks4", "p", 1080),
        ("socks4a://p", "socks4a", "p", 1080),
        ("socks5://p:9050", "socks5", "p", 9050),
        ("socks5h://p", "socks5h", "p", 1080),
        ("http://[::1]:8080", "http", "::1", 8080),
        ("http://p:1/", "http", "p", 1),
        (" proxy.example:3128 ", "http", "proxy.example", 3128),
        ("\tp:3128", "http", "p", 3128),
    ],
)
def test_a_proxy_url_is_read_with_its_default_port(url, scheme, host, port):
    proxy = Proxy(url)

    assert (proxy.scheme, proxy.host, proxy.port) == (scheme, host, port)
    assert not proxy.has_credentials


def test_a_non_ascii_proxy_host_is_idna_2008_encoded():
    # getaddrinfo and the ssl module would apply Python's own codec (IDNA
    # 2003), which spells faß.de fass.de: another domain, sent the
    # proxy's credentials.
    proxy = Proxy("http://user:pw@Faß.de:3128")

    assert proxy.host == "xn--fa-hia.de"
    assert proxy.url == "http://xn--fa-hia.de:3128"
    assert Proxy("socks5h://bücher.example").host == "xn--bcher-kva.example"
    with pytest.raises(ValueError, match="IDNA 2008"):
        Proxy("http://user:pw@a..ß:3128")


def test_an_ipv6_proxy_is_shown_in_brackets():
    assert Proxy("http://[::1]:8080").url == "http://[::1]:8080"


def test_credentials_in_the_url_are_percent_decoded():
    proxy = Proxy("http://us%40er:p%3Ass@p:3128")

    assert (proxy.username, proxy.password) == ("us@er", "p:ss")
    assert proxy.authorization == "Basic dXNAZXI6cDpzcw=="


def test_auth_replaces_the_credentials_of_the_url():
    proxy = Proxy("http://a:b@p:3128", auth=("user", "pass"))

    assert (proxy.username, proxy.password) == ("user", "pass")
    assert proxy.authorization == "Basic dXNlcjpwYXNz"


def test_socks_credentials_are_not_turned_into_basic_auth():
    proxy = Proxy("socks5://user:pass@p")

    assert proxy.has_credentials
    assert proxy.authorization is None
    assert proxy.is_socks


@pytest.mark.parametrize(
    "proxy",
    [
        Proxy("http://user:s3cret@p:3128"),
        Proxy("socks5h://user:s3cret@p"),
        Proxy("http://p:3128", auth=("user", "s3cret")),
    ],
)
def test_credentials_never_appear_in_repr_or_str(proxy):
    for text in (repr(proxy), str(proxy), proxy.url, repr(proxy.identity)):
        assert "s3cret" not in text
        assert "user" not in text
    assert "auth=<hidden>" in repr(proxy)


@pytest.mark.parametrize(
    "url",
    [
        "ftp://p:21",
        "socks6://p",
        "http://",
        "http://:3128",
        "http://p:notaport",
        "http://p:99999",
        "http://p:3128/some/path",
        "http://p:3128?x=1",
    ],
)
def test_a_bad_proxy_url_is_a_value_error(url):
    with pytest.raises(ValueError):
        Proxy(url)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"url": "http://p:3128\r\nX-Injected: 1"},
        {"url": "http://us\ner:pw@p:3128"},
        {"url": "http://p:3128", "auth": ("user", "pw\r\nX: 1")},
        {"url": "http://p:3128", "auth": ("us\0er", "pw")},
        {"url": "http://p:3128", "headers": {"X-Tag": "a\r\nX-Injected: 1"}},
    ],
)
def test_cr_lf_nul_anywhere_is_a_value_error_that_does_not_repeat_the_secret(kwargs):
    with pytest.raises(ValueError) as info:
        Proxy(**kwargs)

    assert "pw" not in str(info.value)


@pytest.mark.parametrize(
    "value",
    ["Bearer pw-token ", " Bearer pw-token", "Bearer\vpw-token", "Bearer pw\x7f", "Bearer pw€"],
    ids=["trailing space", "leading space", "vertical tab", "DEL", "not Latin-1"],
)
def test_a_proxy_header_value_that_cannot_be_sent_is_refused_without_repeating_it(value):
    # RFC 9110 section 5.5. Found only when sending, h11 refused such a
    # value with a message repeating it: a Proxy-Authorization token in
    # the exception (or a UnicodeEncodeError mid-request for non-Latin-1).
    with pytest.raises(ValueError) as info:
        Proxy("http://p:3128", headers={"Proxy-Authorization": value})

    assert "pw" not in str(info.value)
    assert "Proxy-Authorization" in str(info.value)


def test_a_proxy_header_name_must_be_a_token():
    with pytest.raises(ValueError, match="token"):
        Proxy("http://p:3128", headers={"X Tag": "a"})
    proxy = Proxy("http://p:3128", headers={"X-Tag": "a\tb", "X-Empty": "", "X-Latin": "café"})
    assert proxy.headers["X-Latin"] == "café"


def test_auth_must_be_a_pair_of_strings():
    with pytest.raises(TypeError):
        Proxy("http://p", auth=("user",))  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        Proxy("http://p", auth=("user", 1))  # type: ignore[arg-type]


def test_different_credentials_make_different_identities():
    a = Proxy("http://a:1@p:3128")
    b = Proxy("http://b:1@p:3128")
    none = Proxy("http://p:3128")

    assert len({a.identity, b.identity, none.identity}) == 3
    assert a == Proxy("http://a:1@p:3128")
    assert a != b
    # No password is not the password "None" (their digests once were one).
    assert Proxy("http://a@p:3128") != Proxy("http://a:None@p:3128")
    assert Proxy("socks5://a@p") != Proxy("socks5://a:None@p")


def test_a_token_in_the_proxys_own_headers_stays_out_of_its_identity():
    token = Proxy("http://p:3128", headers={"Proxy-Authorization": "Bearer SECRET-TOKEN"})
    other = Proxy("http://p:3128", headers={"Proxy-Authorization": "Bearer OTHER-TOKEN"})

    assert "SECRET-TOKEN" not in repr(token.identity)
    assert token != other  # still different routes, never sharing a connection
    assert token == Proxy("http://p:3128", headers={"proxy-authorization": "Bearer SECRET-TOKEN"})


def test_the_proxy_ssl_context_is_part_of_its_identity():
    one, two = ssl.create_default_context(), ssl.create_default_context()

    assert Proxy("https://p", ssl_context=one) != Proxy("https://p", ssl_context=two)
    assert Proxy("https://p", ssl_context=one) == Proxy("https://p", ssl_context=one)


def test_proxy_headers_are_kept_for_the_proxy():
    proxy = Proxy("http://p", headers={"X-Proxy-Tag": "scraper-1"})

    assert proxy.headers["x-proxy-tag"] == "scraper-1"


def test_coerce_proxy_takes_none_a_string_or_a_proxy():
    proxy = Proxy("http://p")

    assert coerce_proxy(None) is None
    assert coerce_proxy(proxy) is proxy
    assert coerce_proxy("socks5://p") == Proxy("socks5://p")
    with pytest.raises(TypeError):
        coerce_proxy(3128)


def test_a_proxy_failure_becomes_a_proxy_error_with_its_status():
    error = translate(ProxyFailed("proxy http://p:3128 answered 407", 407), "GET http://o/")

    assert isinstance(error, ProxyError)
    assert isinstance(error, ConnectivityError)
    assert error.status_code == 407
    assert "GET http://o/" in str(error)
    assert translate(ProxyFailed("no"), "x").status_code is None  # type: ignore[attr-defined]


def test_a_pool_wait_timeout_becomes_a_pool_timeout():
    error = translate(PoolWaitTimeout("no connection slot within 1 s"), "GET http://o/")

    assert isinstance(error, PoolTimeout)
    assert isinstance(error, RequestTimeout)
