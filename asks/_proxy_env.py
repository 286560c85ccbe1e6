"""Proxies from the environment: ``HTTP_PROXY``, ``HTTPS_PROXY``, ``ALL_PROXY``, ``NO_PROXY``.

There is no standard for these variables, only what curl, wget, requests
and Go grew into; the rules here are the ones most of them agree on:

* the proxy for a URL comes from ``<scheme>_proxy`` (``http_proxy`` for
  http://, ``https_proxy`` for https://), else ``all_proxy``; each name is
  looked up in lower case first, then upper case; an empty value is unset;
* upper-case ``HTTP_PROXY`` is ignored when ``REQUEST_METHOD`` is set: under
  CGI every request header ``Proxy: ...`` becomes ``HTTP_PROXY``, so a
  client could pick the proxy of a server-side script (the "httpoxy" bug,
  CVE-2016-5385). Lower-case ``http_proxy`` cannot be set that way, but on
  Windows, whose environment ignores case, it is the same variable: there
  it counts under CGI only when a variable is listed spelled in lower case;
* a proxy URL without a scheme means ``http://`` (curl's reading);
* ``no_proxy`` / ``NO_PROXY`` excludes hosts: entries separated by commas or
  spaces; empty entries are ignored (never a wildcard); ``*`` excludes
  everything; ``example.com``, ``.example.com`` and ``*.example.com`` all
  match ``example.com`` and its subdomains on label boundaries
  (``badexample.com`` is not excluded); ``host:port`` excludes that port
  only; IP addresses and CIDR ranges (``10.0.0.0/8``, ``::1``,
  ``[::1]:8080``) match IP literals in URLs, an IPv4-mapped IPv6 address
  (``[::ffff:10.1.2.3]``) as the IPv4 address it is. Never a DNS lookup: a name is
  not matched against an address entry, nor an address against a name.

The environment is read once, when a :class:`EnvironmentProxies` is made (a
Session makes one at construction, as httpx does), so a request costs no
``os.environ`` lookups and a changed environment takes effect in new sessions.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from typing import NamedTuple

from ._proxies import Proxy
from ._urls import idna_ascii

__all__ = ["EnvironmentProxies", "proxy_from_environment"]

_IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


class _Exclusion(NamedTuple):
    # One NO_PROXY entry: a domain suffix or a network, and a port or None.
    domain: str | None
    network: _IPNetwork | None
    port: int | None


def _lookup(environ: Mapping[str, str], name: str, cgi: bool) -> tuple[str, str] | None:
    """The variable *name* (lower case first): ``(the name found, its value)``."""
    httpoxy = cgi and name == "http_proxy"
    for key in (name, name.upper()):
        if httpoxy and (key == "HTTP_PROXY" or key not in list(environ)):
            # httpoxy (CVE-2016-5385): under CGI, HTTP_PROXY is the request's
            # Proxy: header. Lower-case http_proxy is read only if a variable
            # is spelled so: on Windows the environment ignores case, and
            # asking it for "http_proxy" answers HTTP_PROXY.
            continue
        value = environ.get(key, "").strip()
        if value:
            return key, value
    return None


def _parse_entry(entry: str) -> _Exclusion | None:
    """One NO_PROXY entry, or None when it cannot match anything."""
    port: int | None = None
    host = entry
    if host.startswith("["):
        # [v6] or [v6]:port
        end = host.find("]")
        if end < 0:
            return None
        rest = host[end + 1 :]
        host = host[1:end]
        if rest:
            if not rest.startswith(":") or not rest[1:].isdigit():
                return None
            port = int(rest[1:])
    elif host.count(":") == 1:
        # name:port or v4:port (a bare IPv6 address has several colons)
        host, _, port_text = host.partition(":")
        if not port_text.isdigit():
            return None
        port = int(port_text)
    try:
        network = ipaddress.ip_network(host, strict=False)
    except ValueError:
        pass
    else:
        return _Exclusion(None, network, port)
    domain = host.lower().rstrip(".")
    if domain.startswith("*."):
        domain = domain[2:]
    domain = domain.lstrip(".")
    if not domain or "/" in domain or "*" in domain:
        return None
    if not domain.isascii():
        # The URL's own conversion (IDNA 2008): Python's "idna" codec is
        # IDNA 2003, which spells faß.de as fass.de, another domain.
        try:
            domain = idna_ascii(domain)
        except UnicodeError:
            return None
    return _Exclusion(domain, None, port)


class EnvironmentProxies:
    """The proxy settings of an environment, read once.

    Args:
        environ: the variables (default: ``os.environ`` as it is now).

    Raises:
        ValueError: a proxy variable holds a URL that is not a usable proxy
            (the message names the variable; its value may hold a password).
    """

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        env = os.environ if environ is None else environ
        cgi = bool(env.get("REQUEST_METHOD"))
        self._proxies: dict[str, Proxy | None] = {}
        for scheme in ("http", "https"):
            found = _lookup(env, f"{scheme}_proxy", cgi) or _lookup(env, "all_proxy", cgi)
            proxy = None
            if found is not None:
                name, value = found
                try:
                    proxy = Proxy(value)
                except (ValueError, TypeError) as exc:
                    raise ValueError(f"the proxy in ${name} is not usable: {exc}") from None
            self._proxies[scheme] = proxy
        self._exclude_all = False
        self._exclusions: list[_Exclusion] = []
        no_proxy = _lookup(env, "no_proxy", False)
        if no_proxy is not None:
            for entry in no_proxy[1].replace(",", " ").split():
                if entry == "*":
                    self._exclude_all = True
                    continue
                exclusion = _parse_entry(entry)
                if exclusion is not None:
                    self._exclusions.append(exclusion)

    @property
    def any(self) -> bool:
        """Whether any request could go through a proxy (else skip :meth:`select`)."""
        return not self._exclude_all and any(self._proxies.values())

    def select(self, scheme: str, host: str, port: int) -> Proxy | None:
        """The proxy for a request to ``scheme://host:port``, or None: direct.

        Args:
            scheme: ``"http"`` or ``"https"``.
            host: the URL's host as asks holds it (lower case, IDNA-encoded,
                an IPv6 address without brackets).
            port: the URL's port (the scheme's default when it had none).
        """
        proxy = self._proxies.get(scheme)
        if proxy is None or self._exclude_all:
            return None
        if self._exclusions and self.excludes(host, port):
            return None
        return proxy

    def excludes(self, host: str, port: int) -> bool:
        """Whether ``NO_PROXY`` sends requests to *host*:*port* direct."""
        if self._exclude_all:
            return True
        host = host.lower().rstrip(".")
        if host.startswith("[") and host.endswith("]"):
            host = host[1:-1]
        addresses = _address_forms(host)
        for entry in self._exclusions:
            if entry.port is not None and entry.port != port:
                continue
            if addresses:
                network = entry.network
                if network is not None and any(address in network for address in addresses):
                    return True
            elif entry.domain is not None and (
                host == entry.domain or host.endswith("." + entry.domain)
            ):
                return True
        return False


def _address_forms(host: str) -> tuple[ipaddress.IPv4Address | ipaddress.IPv6Address, ...]:
    """*host* as an address, in both its forms if it has two; () for a name.

    An IPv4-mapped IPv6 address (``::ffff:127.0.0.1``, RFC 4291 section
    2.5.5.2) is the IPv4 address, reached through an IPv6 socket: an IPv4
    entry (``127.0.0.0/8``) matches it, as an entry written mapped matches
    the plain IPv4 address.
    """
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return ()
    if address.version == 6:
        mapped = address.ipv4_mapped
        return (address,) if mapped is None else (address, mapped)
    return address, ipaddress.IPv6Address(f"::ffff:{address}")


def proxy_from_environment(
    scheme: str, host: str, port: int, environ: Mapping[str, str] | None = None
) -> Proxy | None:
    """The environment's proxy for ``scheme://host:port``, or None (go direct).

    Reads the environment on each call; a Session reads it once through
    :class:`EnvironmentProxies` instead.
    """
    return EnvironmentProxies(environ).select(scheme, host, port)
