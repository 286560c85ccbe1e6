"""Request bodies: ``data`` and ``json`` into bytes and a Content-Type.

Pure functions, no I/O. The framing header (Content-Length) is added by the
caller from the length of what this returns; h11 then enforces that exactly
that many bytes are sent.
"""

from __future__ import annotations

import json as _json
from collections.abc import Mapping
from typing import Any, NamedTuple
from urllib.parse import urlencode

__all__ = ["Body", "encode_body"]

_MISSING: Any = object()


class Body(NamedTuple):
    content: bytes
    content_type: str | None


def encode_body(data: Any = None, json: Any = _MISSING, encoding: str = "utf-8") -> Body | None:
    """Turn ``data=`` or ``json=`` into a body; ``None`` when there is none.

    Args:
        data: a mapping (form-encoded), ``str`` (encoded with *encoding*) or bytes.
        json: any JSON-serialisable value; ``{}`` and ``[]`` are bodies too.
        encoding: the text encoding for ``str`` data.

    Raises:
        TypeError: both given, or a value of a type that cannot be a body.
    """
    if json is not _MISSING:
        if data is not None:
            raise TypeError("data and json are mutually exclusive")
        text = _json.dumps(json, separators=(",", ":"), ensure_ascii=False)
        return Body(text.encode("utf-8"), "application/json")
    if data is None:
        return None
    if isinstance(data, bytes | bytearray | memoryview):
        return Body(bytes(data), None)
    if isinstance(data, str):
        # Like requests: a str body gets no Content-Type of our choosing.
        return Body(data.encode(encoding), None)
    if isinstance(data, Mapping):
        form = urlencode(list(_form_pairs(data)), encoding=encoding)
        return Body(form.encode("ascii"), "application/x-www-form-urlencoded")
    raise TypeError(f"data must be bytes, str or a mapping, not {type(data).__name__}")


def _form_pairs(data: Mapping[Any, Any]) -> Any:
    for key, value in data.items():
        values = value if isinstance(value, (list, tuple)) else (value,)
        for v in values:
            if v is not None:
                yield str(key), v if isinstance(v, (str, bytes)) else str(v)
