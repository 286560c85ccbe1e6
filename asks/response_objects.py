"""What a request returns: :class:`Response` and :class:`StreamResponse`.

A :class:`Response` holds its whole body in memory. A
:class:`StreamResponse` holds the connection instead, and its
:class:`StreamBody` reads the body on demand. A stream read to the end gives
its connection back to the pool; a stream closed early closes its
connection (the rest of the body cannot be skipped cheaply or safely).
Either way the connection's slot is released exactly once.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from types import TracebackType
from typing import TYPE_CHECKING, Any

import curio

from ._boundary import reraise
from ._decoders import Decoder, charset_from_content_type, make_decoder
from ._headers import Headers
from ._lines import (
    DEFAULT_MAX_LINE_LENGTH,
    Rechunker,
    TextDecoder,
    byte_line_splitter,
    check_size,
    text_line_splitter,
)
from ._stream_views import StreamView
from ._transport.deadlines import kernel_seconds
from ._transport.trap_cycles import break_trap_cycle
from .errors import BadStatus, DecodingError, RequestTimeout

if TYPE_CHECKING:
    from datetime import timedelta
    from typing import Protocol

    class BodySource(Protocol):
        """What a :class:`StreamBody` reads from: a connection's response, or bytes."""

        async def receive_data(self, at_end: Callable[[], object] | None = None) -> bytes: ...
        async def read_all(self, limit: int | None = None) -> bytes: ...
        def body_in_hand(self) -> bool: ...
        async def stop_reading(self) -> None: ...
        async def abort(self) -> None: ...


__all__ = [
    "BaseResponse",
    "BodyInMemory",
    "Response",
    "StreamBody",
    "StreamResponse",
    "content_coding",
]


def content_coding(headers: Headers) -> str | None:
    """The response's ``Content-Encoding`` value, or None when it has none.

    ``has()`` first: most responses have no coding, and asking that is one
    dict lookup, where ``get`` builds the key and reads the raw headers.
    """
    return headers.get("content-encoding") if headers.has(b"content-encoding") else None


class BaseResponse:
    """What every response has: the status line, headers, and where it came from.

    Attributes:
        status_code: e.g. ``200``.
        reason_phrase: e.g. ``"OK"`` (whatever the server sent).
        http_version: ``"1.1"`` or ``"1.0"``.
        headers: case-insensitive :class:`asks._headers.Headers`.
        history: earlier responses of the same call (redirects, auth
            challenges, a ``417`` to an expectation), oldest first.
        method: the method of the final request.
        url: the URL of the final request, query included.
        cookies: cookies set by this response.
    """

    # Seconds from sending the request to the end of the response head, set
    # by the session after the response is built (a class default, so that
    # building one costs no extra argument; see ``elapsed``).
    _elapsed: float = 0.0

    # The parameters may be given by position: the session builds one
    # response per request, and keyword arguments cost twice as much to pass.
    def __init__(
        self,
        method: str,
        url: str,
        status_code: int,
        reason_phrase: str,
        http_version: str,
        headers: Headers,
        encoding: str,
        history: list[BaseResponse] | None = None,
    ) -> None:
        self.method = method
        self.url = url
        self.status_code = status_code
        self.reason_phrase = reason_phrase
        self.http_version = http_version
        self.headers = headers
        self.history: list[BaseResponse] = history if history is not None else []
        self.cookies: list[Any] = []
        self._fallback_encoding = encoding
        self._encoding: str | None = None

    @property
    def elapsed(self) -> timedelta:
        """Time from sending the request to the end of the response head.

        The connection was already open (or reused): connecting is not
        counted, nor is reading the body. Every response has one, each
        entry of ``history`` included.
        """
        # Imported on first use: datetime costs about a millisecond to import
        # and asks itself needs none of it (docs/performance.md, import time).
        from datetime import timedelta

        return timedelta(seconds=self._elapsed)

    @property
    def encoding(self) -> str:
        """The text encoding: the Content-Type charset, else the fallback.

        Setting it changes how ``text`` decodes.
        """
        if self._encoding is None:
            charset = charset_from_content_type(self.headers.get("content-type"))
            if charset is None:
                return self._fallback_encoding  # (not kept: json() tells them apart)
            self._encoding = charset
        return self._encoding

    @encoding.setter
    def encoding(self, value: str) -> None:
        self._encoding = value

    @property
    def links(self) -> dict[str, dict[str, str]]:
        """The links of the ``Link`` header (RFC 8288), keyed by relation.

        ``response.links["next"]["url"]`` is the next page of an API that
        pages with ``Link`` (a relative target is resolved against
        :attr:`url`). Each entry holds ``url``, ``rel`` and the link's other
        parameters (``title``, ``type``...). A ``rel`` of several types
        gives an entry for each; when two links share one, the first is
        kept. A response without the header has ``{}``; a link that cannot
        be read is left out.
        """
        values = self.headers.get_list("link")
        if not values:
            return {}
        from ._links import parse_links  # only for responses that have one

        return parse_links(values, self.url)

    def raise_for_status(self) -> None:
        """Raise :class:`asks.errors.BadStatus` if the status is 4xx or 5xx (or past 599).

        Raises:
            BadStatus: carrying ``.response`` and ``.status_code``.
        """
        code = self.status_code
        if code >= 400:
            # 600-999 are not HTTP statuses; a client "SHOULD process the
            # response as if it had a 5xx (Server Error) status code" (RFC
            # 9110 section 15).
            kind = "Client" if code < 500 else "Server"
            raise BadStatus(
                f"{code} {kind} Error: {self.reason_phrase} for url {self.url}", self, code
            )

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.status_code} {self.reason_phrase}>"


class Response(BaseResponse):
    """A response whose body was read into memory.

    Attributes:
        body: the body bytes as received (still compressed, if they were).
    """

    def __init__(
        self,
        method: str,
        url: str,
        status_code: int,
        reason_phrase: str,
        http_version: str,
        headers: Headers,
        encoding: str,
        body: bytes,
        max_decoded_size: int | None,
        history: list[BaseResponse] | None = None,
    ) -> None:
        # By position, not **kwargs: one of these is built per request, and
        # packing arguments for the base class showed in profiles.
        BaseResponse.__init__(
            self, method, url, status_code, reason_phrase, http_version, headers, encoding, history
        )
        self.body = body
        self._max_decoded_size = max_decoded_size
        self._content: bytes | None = None

    @property
    def content(self) -> bytes:
        """The body with its Content-Encoding undone.

        Raises:
            DecodingError: corrupt data, or a coding asks cannot undo.
            ResponseTooLarge: the decoded body is over ``max_decoded_size``.
        """
        if self._content is None:
            # No content, nothing to undo: a HEAD, 204 or 304 response may
            # name the coding of a representation it does not carry (RFC
            # 9110 section 6.4.1), one asks cannot undo included.
            coding = content_coding(self.headers)
            decoder = (
                make_decoder(coding, self._max_decoded_size) if coding and self.body else None
            )
            if decoder is None:
                self._content = self.body
            else:
                self._content = decoder.decode(self.body) + decoder.flush()
        return self._content

    @property
    def text(self) -> str:
        """The content decoded with :attr:`encoding` (undecodable bytes replaced).

        Raises:
            DecodingError: as for :attr:`content`.
            ResponseTooLarge: as for :attr:`content`.
            LookupError: :attr:`encoding` was set to a name that is no codec.
        """
        return self.content.decode(self.encoding, errors="replace")

    def json(self, **kwargs: Any) -> Any:
        """Parse the content as JSON.

        Args:
            **kwargs: passed on to :func:`json.loads`.

        Returns:
            the parsed value.

        Raises:
            json.JSONDecodeError: the content is not JSON, or not text in
                its encoding.
            DecodingError: as for :attr:`content`.
            ResponseTooLarge: as for :attr:`content`.
            LookupError: :attr:`encoding` was set to a name that is no codec.
        """
        import json as _json  # on first use: see docs/performance.md, import time

        content = self.content
        encoding = self._encoding
        if encoding is None:
            encoding = charset_from_content_type(self.headers.get("content-type"))
        try:
            if encoding is None:
                # No charset given, none set: RFC 8259 section 8.1 says JSON is
                # UTF-8 (older texts UTF-16 or UTF-32), not the session's fallback
                # for text. json.loads tells them apart from the bytes, a byte
                # order mark included (as requests and httpx do).
                return _json.loads(content, **kwargs)
            text = content.decode(encoding)
        except UnicodeDecodeError as exc:
            # Bytes that are no text are no JSON either: the one error the
            # docs promise, as requests gives, not the codec's.
            doc = content.decode(exc.encoding, errors="replace")
            message = f"not {exc.encoding} text at byte {exc.start} ({exc.reason})"
            raise _json.JSONDecodeError(message, doc, 0) from exc
        if text[:1] == "\ufeff":
            # A UTF-8 byte order mark, which json.loads refuses in a str.
            # RFC 8259 section 8.1 lets a parser ignore it, and servers do
            # send one (requests and httpx parse such bodies).
            text = text[1:]
        return _json.loads(text, **kwargs)


class BodyInMemory:
    """A response body already read whole, served as a connection serves one.

    For a response the call read before it knew it would be the last (a
    ``401`` its auth object declined to answer): a streamed call still gets
    a :class:`StreamBody`, which reads these bytes as it would the socket's.
    """

    __slots__ = ("_data",)

    def __init__(self, data: bytes) -> None:
        self._data = data

    async def receive_data(self, at_end: Callable[[], object] | None = None) -> bytes:
        data, self._data = self._data, b""
        if not data and at_end is not None:
            at_end()
        return data

    async def read_all(self, limit: int | None = None) -> bytes:
        # (No limit to apply: these bytes were read under the call's own.)
        data, self._data = self._data, b""
        return data

    def body_in_hand(self) -> bool:
        return True

    async def stop_reading(self) -> None:
        self._data = b""

    async def abort(self) -> None:
        self._data = b""


class StreamBody:
    """The body of a :class:`StreamResponse`, read on demand.

    ``async for chunk in body`` yields decoded chunks. ``body(timeout=5)``
    gives an iterator whose every read is bounded. ``decompress_data = False``
    yields the bytes as received. :meth:`text`, :meth:`lines`,
    :meth:`byte_lines` and :meth:`chunks` iterate the same pieces as text,
    lines or chunks of a chosen size. Reading to the end returns the connection
    to the pool; :meth:`close` (or leaving ``async with body:``) before that
    closes the connection. The connection does either itself: the body only
    tells it (``receive_data`` to the end, or ``abort``).
    """

    def __init__(
        self,
        conn: BodySource,
        content_encoding: str | None,
        max_decoded_size: int | None,
        where: str,
        on_close: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self._conn: BodySource | None = conn
        self._content_encoding = content_encoding
        self._max_decoded_size = max_decoded_size
        self._where = where
        self._on_close = on_close
        self._decoder: Decoder | None = None
        self._started = False
        self._timeout: float | None = None
        # The response this is the body of, for its encoding (set by
        # StreamResponse; None for a body read into a callback).
        self._response: BaseResponse | None = None
        self.decompress_data = True

    def __call__(self, timeout: float | None = None) -> StreamBody:
        """Bound each read of the iteration by *timeout* seconds.

        Args:
            timeout: the most seconds one read may take (None: no bound);
                a read that takes longer raises
                :class:`asks.errors.RequestTimeout` and closes the stream.
                One longer than curio's kernel can keep (``math.inf``...)
                is no bound.

        Returns:
            this body, to iterate: ``async for chunk in r.body(timeout=5)``.

        Raises:
            ValueError: *timeout* is NaN.
        """
        self._timeout = kernel_seconds(timeout, "timeout")
        return self

    def text(self, encoding: str | None = None) -> AsyncIterator[str]:
        """Iterate the body as decoded text.

        A multi-byte character split between two reads comes out whole;
        undecodable bytes become U+FFFD, as in ``Response.text``. The pieces
        are as long as the reads make them.

        Args:
            encoding: the text encoding; by default the response's
                ``encoding`` (the Content-Type charset, else the call's or
                the session's ``encoding``), read when this is called.

        Returns:
            An async iterator of ``str``.

        Raises:
            ValueError: *encoding* is not a text encoding Python knows.
            TypeError: *encoding* is not a str.
        """
        decoder = TextDecoder(encoding or self._encoding())
        return StreamView(self, self, decoder.feed, decoder.flush)

    def lines(
        self, encoding: str | None = None, *, max_length: int = DEFAULT_MAX_LINE_LENGTH
    ) -> AsyncIterator[str]:
        r"""Iterate the body as lines of decoded text, without their line ends.

        A line ends at ``\r\n``, ``\n`` or ``\r``, even when the reads
        split the line or its ``\r\n``; a last line without an end is
        still yielded; an empty line is ``""``.

        Args:
            encoding: as for :meth:`text`.
            max_length: the longest line accepted, in characters (64 KiB by
                default): memory stays bounded even if no line end comes.

        Returns:
            An async iterator of ``str``.

        Raises:
            ValueError: *encoding* is unknown, or *max_length* below 1.
            TypeError: *encoding* is not a str, or *max_length* not an int.
            LineTooLong: (from the iteration) a line is longer than
                *max_length*; the stream is closed.
        """
        splitter = text_line_splitter(check_size(max_length, "max_length"), f"{self._where}: ")
        return StreamView(self, self.text(encoding), splitter.feed, splitter.flush)

    def byte_lines(self, *, max_length: int = DEFAULT_MAX_LINE_LENGTH) -> AsyncIterator[bytes]:
        r"""Iterate the body as lines of bytes, without their line ends.

        Like :meth:`lines` with nothing decoded: for bodies in an encoding
        that keeps ``\r`` and ``\n`` as those bytes (ASCII, UTF-8, Latin-1...).

        Args:
            max_length: the longest line accepted, in bytes (64 KiB by default).

        Returns:
            An async iterator of ``bytes``.

        Raises:
            ValueError: *max_length* below 1.
            TypeError: *max_length* is not an int.
            LineTooLong: (from the iteration) a line is longer than
                *max_length*; the stream is closed.
        """
        splitter = byte_line_splitter(check_size(max_length, "max_length"), f"{self._where}: ")
        return StreamView(self, self, splitter.feed, splitter.flush)

    def chunks(self, size: int) -> AsyncIterator[bytes]:
        """Iterate the body in chunks of exactly *size* bytes, the last one shorter.

        Args:
            size: the chunk size in bytes; up to ``size - 1`` bytes are kept
                between reads.

        Returns:
            An async iterator of ``bytes``; the last chunk has 1 to *size*
            bytes, and an empty body yields none.

        Raises:
            ValueError: *size* below 1.
            TypeError: *size* is not an int.
        """
        rechunker = Rechunker(check_size(size, "size"))
        return StreamView(self, self, rechunker.feed, rechunker.flush)

    def _encoding(self) -> str:
        response = self._response
        return response.encoding if response is not None else "utf-8"

    # A plain async iterator, not an async generator: a generator abandoned
    # mid-loop (``break``) is finalised by the garbage collector outside the
    # kernel, which curio cannot run.
    def __aiter__(self) -> StreamBody:
        return self

    async def __anext__(self) -> bytes:
        conn = self._conn
        if conn is not None and self._started and self._decoder is None and self._timeout is None:
            # A body with nothing to decode and no per-read timeout, after
            # the first chunk: one call between the caller and the
            # connection. A big download pays every layer once per 64 KiB.
            try:
                data = await conn.receive_data()
            except BaseException as exc:
                await self._abort()
                reraise(exc, self._where)
            if data:
                return data
            await self._finish()
            raise StopAsyncIteration
        while True:
            chunk = await self._next_chunk()
            if chunk is None:
                raise StopAsyncIteration
            if chunk:
                return chunk

    async def _next_chunk(self) -> bytes | None:
        conn = self._conn
        if conn is None:
            return None
        if not self._started:
            self._started = True
            if self.decompress_data and self._content_encoding:
                try:
                    self._decoder = make_decoder(self._content_encoding, None)
                except DecodingError:
                    # A coding asks cannot undo is an error only if there is
                    # content to undo it on: not for a HEAD, 204 or 304
                    # response (RFC 9110 section 6.4.1), nor an empty body.
                    if await self._empty_body(conn):
                        return None
                    await self._abort()
                    raise
        try:
            decoder = self._decoder
            while True:
                if decoder is not None:
                    # Pieces already decoded come first: one compressed read
                    # may expand into many bounded pieces.
                    piece = decoder.read()
                    if piece:
                        return piece
                data = await self._receive(conn, decoder)
                if not data:
                    # The connection has gone back by itself.
                    await self._finish()
                    return None
                if decoder is None:
                    return data
                decoder.feed(data)
        except BaseException as exc:
            await self._abort()
            reraise(exc, self._where)

    async def _empty_body(self, conn: BodySource) -> bool:
        """Read the first piece: True, and the body ended, if there is none."""
        try:
            data = await self._receive(conn, None)
        except BaseException as exc:
            await self._abort()
            reraise(exc, self._where)
        if data:
            return False
        await self._finish()
        return True

    async def _read_in_hand(self) -> bytes | None:
        """The whole body, if it is already in memory: else None, and nothing read.

        For a crawl of many small pages (``fetch_many``): a body that came in
        with its head and needs no decoding is taken in one step, and the
        connection goes back to its pool, without the iteration's steps per
        piece. Otherwise the body is as it was, to be iterated.
        """
        conn = self._conn
        if (
            conn is None
            or self._started
            or self._timeout is not None
            or (self.decompress_data and self._content_encoding)
            or not conn.body_in_hand()
        ):
            return None
        self._started = True
        try:
            data = await conn.read_all()
        except BaseException as exc:
            await self._abort()
            reraise(exc, self._where)
        await self._finish()
        return data

    async def _receive(self, conn: BodySource, decoder: Decoder | None) -> bytes:
        # A decoder checks the end of its data (a truncated gzip stream)
        # before the connection may go back to the pool.
        at_end = decoder.finish if decoder is not None else None
        if self._timeout is None:
            return await conn.receive_data(at_end)
        try:
            async with curio.timeout_after(self._timeout):
                return await conn.receive_data(at_end)
        except curio.TaskTimeout as exc:
            break_trap_cycle(exc)
            raise RequestTimeout(f"{self._where}: no body data within {self._timeout} s") from None

    async def _finish(self) -> None:
        self._conn = None
        self._forget_response()
        await self._run_on_close()

    def _forget_response(self) -> None:
        # The response and its body refer to each other (the body reads the
        # response's encoding). Once the body has ended nothing reads it, so
        # the cycle is broken here: the two, the headers and their lists are
        # then freed as soon as the caller lets go of the response, instead
        # of waiting for the garbage collector. A crawl makes one per URL;
        # collecting them cost it some 10% of its CPU.
        self._response = None

    async def _run_on_close(self) -> None:
        on_close, self._on_close = self._on_close, None
        if on_close is not None:
            await on_close()

    async def close(self) -> None:
        """Stop reading. A body with bytes still to come closes its connection.

        One with nothing left to read (read to its last byte, empty, or the
        answer to a HEAD) gives its connection back for the next request.
        """
        conn, self._conn = self._conn, None
        self._forget_response()
        if conn is None and self._on_close is None:
            return  # read to the end (or closed before): nothing left to do
        async with curio.disable_cancellation():
            if conn is not None:
                # Back to the pool if nothing is left unread, else closed.
                await conn.stop_reading()
            await self._run_on_close()

    async def _abort(self) -> None:
        # After a failure: the connection is closed whatever is left of the
        # body (a body that failed its decoding was not what it claimed).
        conn = self._conn
        if conn is not None:
            async with curio.disable_cancellation():
                await conn.abort()
        await self.close()

    async def __aenter__(self) -> StreamBody:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()


class StreamResponse(BaseResponse):
    """A response whose body is a :class:`StreamBody` read on demand.

    ``async with response:`` closes the body on exit, like ``async with
    response.body:``.
    """

    body: StreamBody

    def __init__(self, *, body: StreamBody, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.body = body
        # A reference cycle until the body ends (StreamBody._forget_response):
        # the body reads the encoding when text or lines are asked for, after
        # any change to it.
        body._response = self

    async def close(self) -> None:
        """Close the body (see :meth:`StreamBody.close`)."""
        await self.body.close()

    async def __aenter__(self) -> StreamResponse:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.body.close()
