"""Redirects as pure decisions: (request, response) in, next request out.

The rules (RFC 9110 section 15.4, and what browsers and asks users expect):

* 301 and 302 turn POST into GET; 303 turns every method but HEAD into GET.
  Whenever the method becomes GET the body goes, and with it the headers that
  described it (Content-Type, Content-Length, Content-Encoding, ...).
* 307 and 308 keep the method and the body - so the body must be one that
  can be sent again.
* 304 and any 3xx without a Location are not redirects to follow.
* Credentials (Authorization, Proxy-Authorization, Cookie) do not cross to
  another origin, nor from https to http, unless the caller allowed it.
"""

from __future__ import annotations

from typing import NamedTuple

from ._urls import URL, join_url, url_text

__all__ = [
    "REDIRECT_CODES",
    "RedirectPlan",
    "plan_redirect",
    "strips_credentials",
]

REDIRECT_CODES = frozenset({301, 302, 303, 307, 308})


class RedirectPlan(NamedTuple):
    method: str
    url: URL
    keep_body: bool


def plan_redirect(status: int, method: str, url: URL, location: str | None) -> RedirectPlan | None:
    """Where a response sends the client next, or None if it does not.

    Raises:
        ValueError: the Location is not a usable http(s) URL.
    """
    if status not in REDIRECT_CODES or not location:
        return None
    target = join_url(url, _location_text(location.strip()))
    if (status == 303 and method != "HEAD") or (status in (301, 302) and method == "POST"):
        return RedirectPlan("GET", target, keep_body=False)
    return RedirectPlan(method, target, keep_body=True)


def _location_text(location: str) -> str:
    """The Location as the URL text its bytes spell (:func:`asks._urls.url_text`).

    Header values are read as ISO-8859-1, one character per byte (RFC 9110
    section 5.5), but a non-ASCII Location is in practice UTF-8: read as
    Latin-1 and then percent-encoded as UTF-8 it would be encoded twice
    ("/caf%C3%83%C2%A9" for "/café"). So its bytes are read again.
    """
    if location.isascii():
        return location
    try:
        raw = location.encode("latin-1")
    except UnicodeEncodeError:
        return location  # already text beyond Latin-1: not from the wire
    return url_text(raw)


def strips_credentials(old: URL, new: URL) -> bool:
    """Whether moving from *old* to *new* must drop credentials.

    True on any change of origin (scheme, host or port) - which includes the
    https -> http downgrade.
    """
    return old.origin != new.origin
