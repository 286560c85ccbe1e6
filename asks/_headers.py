"""Case-insensitive, multi-value HTTP headers.

A header name may appear more than once (RFC 9110 section 5.3); the mapping
view joins the values with ``", "`` while :meth:`Headers.get_list` and
:meth:`Headers.multi_items` keep every value apart. Names keep the case they
were given in, so what goes on the wire is what the caller wrote, but lookups
ignore case.

The same class serves request headers (session-wide and per call) and
response headers. It is plain data: no I/O, no curio.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping, MutableMapping
from typing import TYPE_CHECKING, Any, TypeAlias

if TYPE_CHECKING:
    import h11

__all__ = [
    "Headers",
    "HeadersInput",
    "ResponseHeaders",
    "check_header_text",
    "encode_value",
    "is_field_value",
]

HeadersInput: TypeAlias = "Mapping[str, str] | Iterable[tuple[str, str]] | Headers | None"

# Characters that would let a value end a header line early or smuggle a new
# one in (RFC 9110 section 5.5 forbids CR, LF and NUL in field values).
_FORBIDDEN = ("\r", "\n", "\0")

# RFC 9110 section 5.6.2: a field name is a token.
TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")


def check_header_text(what: str, text: str) -> None:
    """Raise ``ValueError`` if *text* holds CR, LF or NUL.

    Checked before anything is sent, so a header injection never reaches the
    socket. The message does not repeat the text: a header value may be a
    credential, and errors end up in logs.
    """
    for ch in _FORBIDDEN:
        if ch in text:
            raise ValueError(f"{what} must not contain CR, LF or NUL (found {ch!r})")


# RFC 9110 section 5.5: a field value is visible characters (and obs-text),
# with spaces and tabs only between them; no other control character.
_FIELD_VALUE = re.compile(
    rb"(?:[\x21-\x7e\x80-\xff](?:[\t \x21-\x7e\x80-\xff]*[\x21-\x7e\x80-\xff])?)?"
)


def is_field_value(value: str) -> bool:
    """Whether *value* can be sent as it is: Latin-1, and a field value as RFC 9110
    section 5.5 has it (visible characters, spaces and tabs only between them)."""
    try:
        data = value.encode("latin-1")
    except UnicodeEncodeError:
        return False
    return _FIELD_VALUE.fullmatch(data) is not None


def encode_value(name: str, value: str) -> bytes:
    """A header value as sent: Latin-1 (RFC 9110 section 5.5), without the
    spaces and tabs around it (which are not part of a field value).

    Raises:
        ValueError: a character Latin-1 cannot carry, or a control character.
            The message names the header, never its value (a credential,
            maybe).
    """
    try:
        data = value.encode("latin-1")
    except UnicodeEncodeError:
        raise ValueError(
            f"header {name!r} has characters that cannot be sent (not Latin-1)"
        ) from None
    if _FIELD_VALUE.fullmatch(data):
        return data
    data = data.strip(b" \t")
    if not _FIELD_VALUE.fullmatch(data):
        raise ValueError(
            f"header {name!r} has a control character in its value, which cannot be sent "
            "(RFC 9110 section 5.5)"
        )
    return data


class Headers(MutableMapping[str, str]):
    """A case-insensitive mapping of header names to values, keeping repeats.

    A value of ``None`` (as requests takes it) means "do not send this
    header": the name is left out of the mapping, replaces a session header
    of that name when merged over it, and keeps asks from adding its own
    default of that name (``User-Agent``, ``Accept``, ``Accept-Encoding``,
    a body's ``Content-Type``).

    Args:
        headers: a mapping, an iterable of ``(name, value)`` pairs, or another
            ``Headers``; values are converted with ``str()``, except None.
    """

    __slots__ = ("_encoded", "_entries", "_removed")

    # lower-case name -> [name as first given, [values...]]; dicts keep
    # insertion order, so iteration follows the order names first appeared.
    _entries: dict[str, tuple[str, list[str]]]
    # What encoded() last returned; every mutation clears it.
    _encoded: tuple[tuple[bytes, bytes], ...] | None
    # The lower-case names given the value None: not sent, not defaulted.
    _removed: frozenset[str]

    def __init__(self, headers: HeadersInput = None) -> None:
        self._entries = {}
        self._encoded = None
        self._removed = _NONE_REMOVED
        if headers is not None:
            self.extend(headers)

    @classmethod
    def from_raw(cls, raw: Iterable[tuple[bytes, bytes]]) -> Headers:
        """Build from ``(name, value)`` byte pairs as they came off the wire.

        Bytes are decoded as ISO-8859-1, which maps every byte to one
        character and so never fails (RFC 9110 section 5.5).
        """
        self = cls.__new__(cls)
        self._entries = _entries_from_raw(raw)
        self._encoded = None
        self._removed = _NONE_REMOVED
        return self

    def extend(self, headers: HeadersInput) -> None:
        """Add every header of *headers*, keeping the values already present."""
        if headers is None:
            return
        if isinstance(headers, Headers):
            for name, value in headers.multi_items():
                self.add(name, value)
            for key in headers._removed:
                self.remove(key)
            return
        items: Iterable[Any]
        if isinstance(headers, Mapping):
            items = headers.items()
        else:
            # A str is iterable too: "X: 1" would be taken letter by letter,
            # and ["XY"] as the header X with the value Y.
            if isinstance(headers, (str, bytes)):
                raise TypeError("headers must be a mapping or (name, value) pairs, not a string")
            items = list(headers)
            if any(isinstance(pair, (str, bytes)) or len(pair) != 2 for pair in items):
                raise TypeError("headers given as a sequence must hold (name, value) pairs")
        for name, value in items:
            if value is None:
                self.remove(str(name))
            else:
                self.add(str(name), str(value))

    def add(self, name: str, value: str) -> None:
        """Append a value for *name*, keeping those already there."""
        self._encoded = None
        key = name.lower()
        if self._removed and key in self._removed:
            self._removed = self._removed - {key}
        entry = self._entries.get(key)
        if entry is None:
            self._entries[key] = (name, [value])
        else:
            entry[1].append(value)

    def remove(self, name: str) -> None:
        """Send no header *name*: drop its values, and asks' default for it."""
        self._encoded = None
        key = name.lower()
        self._entries.pop(key, None)
        self._removed = self._removed | {key}

    def removes(self, name: str) -> bool:
        """Whether *name* (any case) was given the value None (see :meth:`remove`)."""
        return name.lower() in self._removed

    def declares(self, name: str) -> bool:
        """Whether the headers say anything of *name* (any case): a value, or None."""
        key = name.lower()
        return key in self._entries or key in self._removed

    def encoded(self) -> tuple[tuple[bytes, bytes], ...]:
        """Every ``(name, value)`` pair as bytes for the wire, checked.

        Raises:
            ValueError: a name that is not a token, or a value with CR, LF,
                NUL or a character outside Latin-1 (header injection).

        The result is kept until the headers change: a Session's headers are
        checked and encoded once, not once per request.
        """
        encoded = self._encoded
        if encoded is None:
            out = []
            for name, values in self._entries.values():
                if not TOKEN.fullmatch(name):
                    raise ValueError(f"invalid header name: {name!r}")
                bname = name.encode("ascii")
                for value in values:
                    check_header_text("header value", value)
                    out.append((bname, encode_value(name, value)))
            # Callers key caches on this tuple's identity (the request's wire
            # header block), and every empty tuple is the one empty tuple: so
            # headers that send nothing but remove a default get an empty
            # tuple of their own, never the one of headers that remove none.
            encoded = self._encoded = tuple(out) if out or not self._removed else _Nothing()
        return encoded

    def has(self, lower_name: bytes) -> bool:
        """Whether a header of this lower-case name (as bytes) is present.

        The hot path's question ("any Content-Encoding?"), asked without
        building a ``str`` key.
        """
        return lower_name.decode("latin-1") in self._entries

    def get_list(self, name: str) -> list[str]:
        """Every value sent for *name*, in order (empty if absent)."""
        entry = self._entries.get(name.lower())
        return list(entry[1]) if entry is not None else []

    def multi_items(self) -> list[tuple[str, str]]:
        """Every ``(name, value)`` pair, repeats apart, in insertion order."""
        return [(name, v) for name, values in self._entries.values() for v in values]

    def copy(self) -> Headers:
        """An independent copy."""
        new = Headers.__new__(Headers)
        new._entries = {k: (n, list(vs)) for k, (n, vs) in self._entries.items()}
        new._encoded = self._encoded
        new._removed = self._removed
        return new

    def __copy__(self) -> Headers:
        # copy.copy would copy the slots alone, sharing the dict of values:
        # a header added to the copy (asks 2's session headers were a dict,
        # copied so for one call) went into the original too.
        return self.copy()

    # -- MutableMapping --------------------------------------------------

    def __getitem__(self, name: str) -> str:
        entry = self._entries[name.lower()]
        values = entry[1]
        # RFC 9110 section 5.3: a repeated field reads as its values joined by
        # commas.
        return values[0] if len(values) == 1 else ", ".join(values)

    def __setitem__(self, name: str, value: str | None) -> None:
        if value is None:
            self.remove(name)
            return
        self._encoded = None
        key = name.lower()
        self._entries[key] = (name, [str(value)])
        if self._removed and key in self._removed:
            self._removed = self._removed - {key}

    def __delitem__(self, name: str) -> None:
        self._encoded = None
        key = name.lower()
        if self._removed and key in self._removed:
            # Deleting a None takes back the removal: asks' default returns.
            self._removed = self._removed - {key}
            self._entries.pop(key, None)
            return
        del self._entries[key]

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._entries

    def __iter__(self) -> Iterator[str]:
        return (name for name, _ in self._entries.values())

    def __len__(self) -> int:
        return len(self._entries)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Headers):
            return sorted(self._lower_items()) == sorted(other._lower_items())
        if isinstance(other, Mapping):
            return sorted(self._lower_items()) == sorted(
                (str(k).lower(), str(v)) for k, v in other.items()
            )
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def _lower_items(self) -> list[tuple[str, str]]:
        return [(k, Headers.__getitem__(self, k)) for k in self._entries]

    def __repr__(self) -> str:
        return f"Headers({self.multi_items()!r})"


_NONE_REMOVED: frozenset[str] = frozenset()


class _Nothing(tuple[tuple[bytes, bytes], ...]):
    """An empty encoding that is an object of its own (see Headers.encoded)."""

    __slots__ = ()


def _entries_from_raw(raw: Iterable[tuple[bytes, bytes]]) -> dict[str, tuple[str, list[str]]]:
    entries: dict[str, tuple[str, list[str]]] = {}
    for bname, bvalue in raw:
        name = bname.decode("latin-1")
        key = name.lower()
        entry = entries.get(key)
        if entry is None:
            entries[key] = (name, [bvalue.decode("latin-1")])
        else:
            entry[1].append(bvalue.decode("latin-1"))
    return entries


class ResponseHeaders(Headers):
    """Response headers, with asks' one exception to comma-joining.

    ``Set-Cookie`` values cannot be joined with commas (cookie dates contain
    commas, RFC 6265 section 3), so a Set-Cookie sent more than once reads as
    a list of its values, as it always did in asks. Every other header reads
    as one string; :meth:`get_list` gives any header's values one by one.

    Built lazily: most responses are asked only whether they carry a header
    or two (Set-Cookie, Content-Encoding, Location), and the answer is "no".
    Until a value is wanted the raw headers are kept with a dict from each
    lower-case name to its (last) raw value, which answers those questions
    without decoding a thing.
    """

    __slots__ = ("_last", "_raw")

    # ``(name as sent, name in lower case, value)`` for every header, until
    # the mapping is built (then None). The shape is h11's own: it lowers
    # every name while parsing, and from_h11 takes its list as it is.
    _raw: list[tuple[bytes, bytes, bytes]] | None
    # Every name, lower case, as bytes, with the value it last had. Built in
    # one pass (no more than a set of the names would cost), it answers each
    # question a response is asked on the hot path - is there a header of
    # this name, how long is the body - with one hash lookup, where a joined
    # string of the names would need a substring search.
    _last: dict[bytes, bytes]

    def __init__(self, headers: HeadersInput = None) -> None:
        self._raw = None
        super().__init__(headers)

    @classmethod
    def from_raw(cls, raw: Iterable[tuple[bytes, bytes]]) -> ResponseHeaders:
        return cls._lazy([(name, name.lower(), value) for name, value in raw])

    @classmethod
    def from_h11(cls, headers: h11._headers.Headers) -> ResponseHeaders:
        """Build from the headers of an h11 event, without copying them.

        h11 keeps each header as ``(name, lower-case name, value)`` in a
        private list. Taking that list saves lowering every name again and
        the list of pairs ``raw_items()`` would build: 0.7 us of the 1.0 it
        cost per response (the dict of names is still built here). An h11 that
        keeps them otherwise is read through its public ``raw_items()``.
        """
        try:
            triples = headers._full_items
        except AttributeError:
            triples = None
        if type(triples) is list:
            return cls._lazy(triples)
        return cls.from_raw(headers.raw_items())

    @classmethod
    def _lazy(cls, triples: list[tuple[bytes, bytes, bytes]]) -> ResponseHeaders:
        self = cls.__new__(cls)
        self._raw = triples
        self._last = {name: value for _, name, value in triples}
        self._encoded = None
        return self

    def __getattr__(self, attr: str) -> Any:
        # Only reached for a slot never set: the mapping of a lazy instance.
        if attr == "_entries":
            raw = self._raw
            assert raw is not None
            entries = self._entries = _entries_from_raw((name, value) for name, _, value in raw)
            self._raw = None
            return entries
        if attr == "_removed":
            # A response names no header to leave out (set only if asked).
            removed = self._removed = _NONE_REMOVED
            return removed
        raise AttributeError(attr)

    def copy(self) -> ResponseHeaders:
        """An independent copy, still reading a repeated Set-Cookie as a list.

        Not the base class's: that makes plain Headers, which join a repeated
        Set-Cookie with commas, so ``r.headers.copy()["set-cookie"]`` was one
        ambiguous string where ``r.headers["set-cookie"]`` is a list.
        """
        raw = self._raw
        if raw is not None:
            return ResponseHeaders._lazy(list(raw))  # the triples are immutable
        new = ResponseHeaders.__new__(ResponseHeaders)
        new._raw = None
        new._entries = {k: (n, list(vs)) for k, (n, vs) in self._entries.items()}
        new._encoded = self._encoded
        new._removed = self._removed
        return new

    def has(self, lower_name: bytes) -> bool:
        """Whether a header of this lower-case name (as bytes) is present."""
        if self._raw is not None:
            return lower_name in self._last
        return super().has(lower_name)

    def last_raw(self, lower_name: bytes) -> bytes | None:
        """The value, as received, of the last header of this lower-case name."""
        if self._raw is not None:
            return self._last.get(lower_name)
        entry = self._entries.get(lower_name.decode("latin-1"))
        return None if entry is None else entry[1][-1].encode("latin-1")

    def __contains__(self, name: object) -> bool:
        if self._raw is not None and type(name) is str and name.isascii():
            return name.lower().encode("ascii") in self._last
        return super().__contains__(name)

    # One value asked of a lazy instance (a crawl's Content-Type, say) is read
    # from the raw headers, and the mapping of all of them (a decode and a dict
    # entry each) is made only if more is asked. Only for an ASCII str name:
    # the raw names were lowered as bytes, ASCII letters only, where the
    # mapping lowers a str; anything else takes the mapping's answer.

    def get(self, name: str, default: Any = None) -> Any:
        if self._raw is not None and type(name) is str and name.isascii():
            value = self._raw_value(name)
            return default if value is None else value
        if name not in self:
            return default
        return self[name]

    def __getitem__(self, name: str) -> Any:
        if self._raw is not None and type(name) is str and name.isascii():
            value = self._raw_value(name)
            if value is None:
                raise KeyError(name.lower())
            return value
        return self._joined(name, self._entries[name.lower()][1])

    def _raw_value(self, name: str) -> Any:
        key = name.lower().encode("ascii")
        value = self._last.get(key)
        if value is None:
            return None
        raw = self._raw
        assert raw is not None
        if len(self._last) == len(raw):  # no name came twice: this is its one value
            return value.decode("latin-1")
        values = [each.decode("latin-1") for _, lower, each in raw if lower == key]
        return self._joined(name, values)

    @staticmethod
    def _joined(name: str, values: list[str]) -> Any:
        if len(values) == 1:
            return values[0]
        if name.lower() == "set-cookie":
            return list(values)
        return ", ".join(values)
