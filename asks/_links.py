"""The ``Link`` header (RFC 8288): the links a response names, by relation.

APIs page through results with it (``<https://api.example.org/items?page=3>;
rel="next"``), so ``response.links["next"]["url"]`` is how a client walks
them. The parser follows the algorithm of RFC 8288 appendix B.2, which is
lenient on purpose: a link it cannot read is skipped, never an error,
since a response is still a response with a broken ``Link``.
"""

from __future__ import annotations

import codecs
from urllib.parse import unquote, urljoin

__all__ = ["parse_links"]

# Whitespace as RFC 9110 section 5.6.3 has it (OWS): spaces and tabs.
_OWS = " \t"


def parse_links(values: list[str], base_url: str) -> dict[str, dict[str, str]]:
    """The links of the ``Link`` field *values*, keyed by relation type.

    Args:
        values: every ``Link`` field line of the response, in order (a line
            may hold several links, comma-separated; RFC 9110 section 5.3
            makes several lines the same as one joined by commas).
        base_url: the response's URL: a relative target is resolved against
            it (RFC 8288 section 3.1, RFC 3986 section 5).

    Returns:
        ``{rel: {"url": ..., "rel": rel, <other parameters>...}}``. A ``rel``
        naming several types (``rel="next last"``) gives an entry for each
        (section 3.3); registered types are lower-cased, as they compare
        without case (section 2.1.1). A link without ``rel`` is keyed by its
        URL. When two links share a relation, the first is kept.
    """
    links: dict[str, dict[str, str]] = {}
    for value in values:
        for target, params in _read_links(value):
            url = urljoin(base_url, target)
            rels = params.get("rel", "").split()
            if not rels:
                links.setdefault(url, {**params, "url": url})
            for rel in rels:
                key = rel if ":" in rel else rel.lower()
                links.setdefault(key, {**params, "url": url, "rel": key})
    return links


def _read_links(text: str) -> list[tuple[str, dict[str, str]]]:
    """(target, parameters) of each link of one field value, in order."""
    links: list[tuple[str, dict[str, str]]] = []
    at, end = 0, len(text)
    while at < end:
        at = _skip(text, at, _OWS + ",")
        if at >= end:
            break
        if text[at] != "<":
            at = _next_link(text, at)  # not a link: skip to the next one
            continue
        close = text.find(">", at + 1)
        if close < 0:
            break
        target = text[at + 1 : close].strip()
        params, at = _read_params(text, close + 1)
        links.append((target, params))
    return links


def _read_params(text: str, at: int) -> tuple[dict[str, str], int]:
    """The ``; name=value`` parameters from *at*, and where they end.

    The first occurrence of a name wins (RFC 8288 section 3.3 says so of
    ``rel``; appendix B.3 of every parameter), except that ``title*`` and
    other ``name*`` forms (RFC 8187 ext-values) replace the plain one.
    """
    params: dict[str, str] = {}
    starred: dict[str, str] = {}
    end = len(text)
    while True:
        at = _skip(text, at, _OWS)
        if at >= end or text[at] != ";":
            return {**params, **starred}, _next_link(text, at)
        at = _skip(text, at + 1, _OWS)
        start = at
        while at < end and text[at] not in "=;," + _OWS:
            at += 1
        name = text[start:at].lower()
        value = ""
        at = _skip(text, at, _OWS)
        if at < end and text[at] == "=":
            at = _skip(text, at + 1, _OWS)
            value, at = _read_value(text, at)
        if not name:
            continue
        if name.endswith("*"):
            decoded = _ext_value(value)
            if decoded is not None:
                starred.setdefault(name[:-1], decoded)
        else:
            params.setdefault(name, value)


def _read_value(text: str, at: int) -> tuple[str, int]:
    """A token or a quoted string (RFC 9110 section 5.6.4) from *at*."""
    end = len(text)
    if at < end and text[at] == '"':
        out: list[str] = []
        at += 1
        while at < end and text[at] != '"':
            if text[at] == "\\" and at + 1 < end:
                at += 1
            out.append(text[at])
            at += 1
        return "".join(out), at + 1
    start = at
    while at < end and text[at] not in ";,":
        at += 1
    return text[start:at].strip(_OWS), at


def _ext_value(value: str) -> str | None:
    """An RFC 8187 ``charset'language'pct-encoded`` value decoded, or None."""
    charset, quote, rest = value.partition("'")
    _language, quote2, encoded = rest.partition("'")
    if not quote or not quote2:
        return None
    try:
        codecs.lookup(charset)  # (unquote looks it up only for a %-escape)
        return unquote(encoded, encoding=charset, errors="strict")
    except (LookupError, UnicodeDecodeError):
        return None


def _skip(text: str, at: int, chars: str) -> int:
    end = len(text)
    while at < end and text[at] in chars:
        at += 1
    return at


def _next_link(text: str, at: int) -> int:
    """Past the comma that ends the current link (a quoted comma is data)."""
    end = len(text)
    quoted = False
    while at < end:
        char = text[at]
        if char == '"':
            quoted = not quoted
        elif char == "\\" and quoted:
            at += 1
        elif char == "," and not quoted:
            return at + 1
        at += 1
    return end
