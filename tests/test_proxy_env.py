"""Proxies from the environment: which variable wins, and NO_PROXY's rules.

Every case is a plain mapping: nothing here reads or changes os.environ,
except the one test of the default.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

import pytest

from asks import Proxy
from asks._proxy_env import EnvironmentProxies, proxy_from_environment
from asks._urls import parse_url

HTTP = Proxy("http://web-proxy:3128")


def pick(env: Mapping[str, str], url: tuple[str, str, int]) -> str | None:
    proxy = EnvironmentProxies(env).select(*url)
    return None if proxy is None else proxy.url


WEB = ("http", "example.com", 80)
SECURE = ("https", "example.com", 443)


def test_http_and_https_take_their_own_variables():
    env = {"http_proxy": "http://plain:1", "https_proxy": "http://secure:2"}

    assert pick(env, WEB) == "http://plain:1"
    assert pick(env, SECURE) == "http://secure:2"


def test_all_proxy_is_the_fallback_for_both():
    env = {"all_proxy": "socks5h://tor:9050", "https_proxy": "http://secure:2"}

    assert pick(env, WEB) == "socks5h://tor:9050"
    assert pick(env, SECURE) == "http://secure:2"


def test_lower_case_wins_over_upper_case():
    env = {"HTTP_PROXY": "http://upper:1", "http_proxy": "http://lower:2"}

    assert pick(env, WEB) == "http://lower:2"


def test_upper_case_is_read_when_alone():
    assert pick({"HTTPS_PROXY": "http://upper:1"}, SECURE) == "http://upper:1"
    assert pick({"ALL_PROXY": "http://upper:1"}, WEB) == "http://upper:1"


def test_upper_case_http_proxy_is_ignored_under_cgi():
    # httpoxy: under CGI a request header "Proxy:" arrives as HTTP_PROXY.
    env = {"REQUEST_METHOD": "GET", "HTTP_PROXY": "http://attacker:1"}

    assert pick(env, WEB) is None
    assert pick({**env, "http_proxy": "http://mine:2"}, WEB) == "http://mine:2"
    assert pick({**env, "HTTPS_PROXY": "http://ok:3"}, SECURE) == "http://ok:3"


class WindowsEnviron(Mapping[str, str]):
    """An environment that ignores case, as os.environ does on Windows (keys kept upper)."""

    def __init__(self, variables: dict[str, str]) -> None:
        self._data = {k.upper(): v for k, v in variables.items()}

    def __getitem__(self, key: str) -> str:
        return self._data[key.upper()]

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)


def test_httpoxy_under_cgi_on_an_environment_that_ignores_case():
    # On Windows "http_proxy" and "HTTP_PROXY" are one variable: reading the
    # lower-case name under CGI read the request's Proxy: header all the same.
    env = WindowsEnviron({"REQUEST_METHOD": "GET", "HTTP_PROXY": "http://attacker:1"})

    assert pick(env, WEB) is None
    both = WindowsEnviron(
        {"REQUEST_METHOD": "GET", "HTTP_PROXY": "http://a:1", "ALL_PROXY": "b:2"}
    )
    assert pick(both, WEB) == "http://b:2"
    no_cgi = WindowsEnviron({"HTTP_PROXY": "http://mine:1"})
    assert pick(no_cgi, WEB) == "http://mine:1"


def test_an_empty_variable_is_unset():
    env = {"http_proxy": "", "HTTP_PROXY": "http://upper:1"}

    assert pick(env, WEB) == "http://upper:1"
    assert pick({"http_proxy": "  "}, WEB) is None


def test_a_proxy_without_a_scheme_is_http():
    assert pick({"http_proxy": "corp-proxy:8080"}, WEB) == "http://corp-proxy:8080"


def test_credentials_in_the_environment_are_kept_but_not_shown():
    proxies = EnvironmentProxies({"https_proxy": "http://user:s3cret@p:3128"})
    proxy = proxies.select(*SECURE)

    assert proxy is not None
    assert proxy.password == "s3cret"
    assert "s3cret" not in repr(proxy)


def test_a_bad_proxy_variable_names_the_variable_not_its_value():
    with pytest.raises(ValueError, match=r"\$https_proxy") as info:
        EnvironmentProxies({"https_proxy": "ftp://user:s3cret@p"})

    assert "s3cret" not in str(info.value)


def test_nothing_set_means_direct():
    proxies = EnvironmentProxies({})

    assert proxies.select(*WEB) is None
    assert not proxies.any


@pytest.mark.parametrize(
    ("no_proxy", "host", "port", "excluded"),
    [
        ("*", "anything.example", 80, True),
        ("example.com", "example.com", 80, True),
        ("example.com", "www.example.com", 80, True),
        ("example.com", "a.b.example.com", 80, True),
        ("example.com", "badexample.com", 80, False),
        ("example.com", "example.com.evil", 80, False),
        (".example.com", "example.com", 80, True),
        (".example.com", "www.example.com", 80, True),
        ("*.example.com", "www.example.com", 80, True),
        ("EXAMPLE.com", "example.com", 80, True),
        ("example.com.", "example.com", 80, True),
        ("example.com", "example.com.", 80, True),
        ("example.com:8080", "example.com", 8080, True),
        ("example.com:8080", "example.com", 80, False),
        ("other.org, example.com", "example.com", 80, True),
        ("other.org example.com", "example.com", 80, True),
        ("a.org,,b.org", "example.com", 80, False),  # empty entries are no wildcard
        (",", "example.com", 80, False),
        ("a.org, *", "example.com", 80, True),  # * inside a list
        ("127.0.0.1", "127.0.0.1", 80, True),
        ("127.0.0.1", "127.0.0.2", 80, False),
        ("10.0.0.0/8", "10.1.2.3", 443, True),
        ("10.0.0.0/8", "11.1.2.3", 443, False),
        ("192.168.1.0/24:8080", "192.168.1.9", 8080, True),
        ("192.168.1.0/24:8080", "192.168.1.9", 80, False),
        ("::1", "::1", 80, True),
        ("[::1]", "::1", 80, True),
        ("[::1]:8080", "::1", 8080, True),
        ("[::1]:8080", "::1", 80, False),
        ("fd00::/8", "fd12::1", 80, True),
        ("10.0.0.0/8", "fd12::1", 80, False),  # another IP version never matches
        ("fd00::/8", "10.0.0.1", 80, False),
        # An IPv4-mapped IPv6 address is the IPv4 address (RFC 4291 section 2.5.5.2).
        ("127.0.0.0/8", "::ffff:127.0.0.1", 80, True),
        ("10.1.2.3", "::ffff:10.1.2.3", 80, True),
        ("10.1.2.3", "[::ffff:10.1.2.3]", 80, True),
        ("10.1.2.3:8080", "::ffff:10.1.2.3", 80, False),
        ("10.1.2.4", "::ffff:10.1.2.3", 80, False),
        ("10.0.0.0/8", "::ffff:11.1.2.3", 80, False),
        ("::ffff:10.1.2.3", "10.1.2.3", 80, True),
        ("::ffff:10.0.0.0/104", "10.9.9.9", 80, True),
        ("::ffff:10.0.0.0/104", "11.9.9.9", 80, False),
        ("10.0.0.0/8", "::10.1.2.3", 80, False),  # IPv4-compatible (deprecated) is not mapped
        ("127.0.0.1", "localhost", 80, False),  # no DNS: a name is not an address
        ("localhost", "127.0.0.1", 80, False),
        ("localhost", "localhost", 80, True),
        ("bücher.example", "xn--bcher-kva.example", 80, True),
        # IDNA 2008, as the URL is encoded: the IDNA 2003 codec made this fass.de.
        ("faß.de", "xn--fa-hia.de", 80, True),
        ("fass.de", "xn--fa-hia.de", 80, False),
        ("*", "127.0.0.1", 80, True),
        ("example.com:notaport", "example.com", 80, False),
        ("[::1", "::1", 80, False),
        ("*example.com", "example.com", 80, False),
    ],
)
def test_no_proxy(no_proxy, host, port, excluded):
    env = {"http_proxy": "http://p:3128", "https_proxy": "http://p:3128", "no_proxy": no_proxy}
    proxies = EnvironmentProxies(env)

    assert proxies.excludes(host, port) is excluded
    assert (proxies.select("http", host, port) is None) is excluded


def test_lower_case_no_proxy_wins():
    env = {"http_proxy": "http://p:1", "no_proxy": "a.org", "NO_PROXY": "example.com"}

    assert pick(env, WEB) == "http://p:1"
    assert pick({**env, "no_proxy": ""}, WEB) is None  # empty lower: the upper one counts


def test_no_proxy_star_means_no_proxy_at_all():
    proxies = EnvironmentProxies({"all_proxy": "http://p:1", "NO_PROXY": "*"})

    assert not proxies.any
    assert proxies.select(*SECURE) is None


def test_the_function_form_reads_a_given_mapping():
    env = {"https_proxy": "http://web-proxy:3128"}

    assert proxy_from_environment("https", "example.com", 443, env) == HTTP
    assert proxy_from_environment("http", "example.com", 80, env) is None


def test_the_default_is_os_environ_as_it_is_now(monkeypatch):
    monkeypatch.delenv("http_proxy", raising=False)
    monkeypatch.delenv("all_proxy", raising=False)
    monkeypatch.delenv("ALL_PROXY", raising=False)
    monkeypatch.delenv("REQUEST_METHOD", raising=False)
    monkeypatch.setenv("HTTP_PROXY", "http://from-env:3128")
    for name in ("no_proxy", "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)

    assert pick(None, WEB) == "http://from-env:3128"  # type: ignore[arg-type]


@pytest.mark.parametrize("spelling", ["[::ffff:127.0.0.1]", "[::FFFF:7f00:1]"])
def test_an_ipv4_mapped_url_goes_direct_when_no_proxy_names_the_ipv4_range(spelling):
    # The host as a parsed URL holds it (either spelling is one address).
    proxies = EnvironmentProxies({"http_proxy": "http://p:3128", "no_proxy": "127.0.0.0/8"})

    assert proxies.select(*parse_url(f"http://{spelling}:8080/").origin) is None
    assert proxies.select(*parse_url("http://[::ffff:10.0.0.1]/").origin) is not None
