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

from collections.abc import Iterable, Iterator, Mapping, MutableMapping
from typing import Any, TypeAlias

__all__ = ["Headers", "HeadersInput", "ResponseHeaders", "check_header_text"]

HeadersInput: TypeAlias = "Mapping[str, str] | Iterable[tuple[str, str]] | Headers | None"

# Characters that would let a value end a header line early or smuggle a new
# one in (RFC 9110 section 5.5 forbids CR, LF and NUL in field values).
_FORBIDDEN = ("\r", "\n", "\0")


def check_header_text(what: str, text: str) -> None:
    """Raise ``ValueError`` if *text* holds CR, LF or NUL.

    Checked before anything is sent, so a header injection never reaches the
    socket.
    """
    for ch in _FORBIDDEN:
        if ch in text:
            raise ValueError(f"{what} must not contain CR, LF or NUL: {text!r}")


class Headers(MutableMapping[str, str]):
    """A case-insensitive mapping of header names to values, keeping repeats.

    Args:
        headers: a mapping, an iterable of ``(name, value)`` pairs, or another
            ``Headers``; values are converted with ``str()``.
    """

    __slots__ = ("_entries",)

    # lower-case name -> [name as first given, [values...]]; dicts keep
    # insertion order, so iteration follows the order names first appeared.
    _entries: dict[str, tuple[str, list[str]]]

    def __init__(self, headers: HeadersInput = None) -> None:
        self._entries = {}
        if headers is not None:
            self.extend(headers)

    @classmethod
    def from_raw(cls, raw: Iterable[tuple[bytes, bytes]]) -> Headers:
        """Build from ``(name, value)`` byte pairs as they came off the wire.

        Bytes are decoded as ISO-8859-1, which maps every byte to one
        character and so never fails (RFC 9110 section 5.5).
        """
        self = cls.__new__(cls)
        entries: dict[str, tuple[str, list[str]]] = {}
        for bname, bvalue in raw:
            name = bname.decode("latin-1")
            value = bvalue.decode("latin-1")
            key = name.lower()
            entry = entries.get(key)
            if entry is None:
                entries[key] = (name, [value])
            else:
                entry[1].append(value)
        self._entries = entries
        return self

    def extend(self, headers: HeadersInput) -> None:
        """Add every header of *headers*, keeping the values already present."""
        if headers is None:
            return
        if isinstance(headers, Headers):
            for name, value in headers.multi_items():
                self.add(name, value)
            return
        items: Iterable[Any] = headers.items() if isinstance(headers, Mapping) else headers
        for name, value in items:
            self.add(str(name), str(value))

    def add(self, name: str, value: str) -> None:
        """Append a value for *name*, keeping those already there."""
        key = name.lower()
        entry = self._entries.get(key)
        if entry is None:
            self._entries[key] = (name, [value])
        else:
            entry[1].append(value)

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
        return new

    # -- MutableMapping --------------------------------------------------

    def __getitem__(self, name: str) -> str:
        entry = self._entries[name.lower()]
        values = entry[1]
        # RFC 9110 section 5.3: a repeated field reads as its values joined by
        # commas.
        return values[0] if len(values) == 1 else ", ".join(values)

    def __setitem__(self, name: str, value: str) -> None:
        self._entries[name.lower()] = (name, [str(value)])

    def __delitem__(self, name: str) -> None:
        del self._entries[name.lower()]

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


class ResponseHeaders(Headers):
    """Response headers, with asks' one exception to comma-joining.

    ``Set-Cookie`` values cannot be joined with commas (cookie dates contain
    commas, RFC 6265 section 3), so a Set-Cookie sent more than once reads as
    a list of its values, as it always did in asks. Every other header reads
    as one string; :meth:`get_list` gives any header's values one by one.
    """

    __slots__ = ()

    def __getitem__(self, name: str) -> Any:
        values = self._entries[name.lower()][1]
        if len(values) == 1:
            return values[0]
        if name.lower() == "set-cookie":
            return list(values)
        return ", ".join(values)
