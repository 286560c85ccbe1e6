"""TLS sessions copied out of a connection and offered to the next, cheaply.

Resumption (RFC 8446 section 2.2) keeps the session of one connection and
offers it when the next one to the same place is opened. The standard
library does both steps through a copy: ``SSLSocket.session`` and
``wrap_socket(session=)`` each serialise the session and parse it back
(``i2d_SSL_SESSION``/``d2i_SSL_SESSION`` in CPython's ``_ssl.c``). The parse
includes the server's certificate, and OpenSSL 3.0 parses its public key
through its provider decoders: measured under callgrind against the
benchmark's nginx (ECDSA P-256, TLS 1.3), one copy is 1.56 M instructions,
the two copies of a connection 3.1 M, against 2.2 M for the resumed handshake
and 6.6 M for a whole new connection with a full handshake. Resuming through
the standard library thus saved 5% of a reconnect instead of half of it.

OpenSSL's own ``SSL_SESSION_dup`` copies in memory (the certificate is
shared by reference, not parsed again). This module calls it, with
``SSL_get_session`` and ``SSL_set_session``, through ``ctypes`` in the very
libssl the ``_ssl`` module is linked against, and falls back to the standard
library wherever that cannot be done safely (see :func:`native`).

Why copies at all: a connection that ends without a TLS close_notify (as
every Python socket does when closed) marks its session "not resumable"
when OpenSSL frees it (``ssl_clear_bad_session``). So the session kept is a
copy taken before the connection is freed, and each connection is offered
its own copy of it; the kept one is never attached to a connection and
never marked. That is also why nothing is shared between two connections
opened at once.

The ``SSL *`` of a socket is read from CPython's ``_ssl._SSLSocket`` object
(an ``ssl.SSLSocket`` and an ``ssl.SSLObject``, TLS over memory buffers as
inside an https:// proxy's tunnel, both hold one as ``_sslobj``):
it is the field after the weak reference to the socket, right after the
object header, in every CPython 3 release (the layout tools like sslkeylog
rely on too). Each use checks it: the ``SSL_CTX`` that OpenSSL reports for
it must be the one of the socket's ``SSLContext`` (the first field of
``_ssl._SSLContext``); if not, this module turns itself off for the process.
"""

from __future__ import annotations

import _ssl
import ssl
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import ctypes

__all__ = ["TLS", "KeptSession", "NativeSession", "copy_of", "native", "offer"]

# The C type whose layout is relied on (see the module's docstring).
_SSL_SOCKET: Any = getattr(_ssl, "_SSLSocket", None)
_HEAD = object.__basicsize__  # sizeof(PyObject): the header before the fields

TLS = ssl.SSLSocket | ssl.SSLObject
"""A client's TLS: over a socket, or over memory buffers (TLS inside a tunnel's TLS)."""


class _LibSSL:
    """The few libssl functions used, bound with their C signatures."""

    def __init__(self, lib: ctypes.CDLL) -> None:
        import ctypes

        _P = ctypes.c_void_p
        # Reads the pointer stored at an address (a field of a C object).
        self.read_pointer = _P.from_address
        self.pointer_size = ctypes.sizeof(_P)
        self.get_session = _bind(lib, "SSL_get_session", _P, [_P])
        self.set_session = _bind(lib, "SSL_set_session", ctypes.c_int, [_P, _P])
        self.get_ssl_ctx = _bind(lib, "SSL_get_SSL_CTX", _P, [_P])
        self.dup = _bind(lib, "SSL_SESSION_dup", _P, [_P])
        self.free = _bind(lib, "SSL_SESSION_free", None, [_P])
        self.is_resumable = _bind(lib, "SSL_SESSION_is_resumable", ctypes.c_int, [_P])
        self.has_ticket = _bind(lib, "SSL_SESSION_has_ticket", ctypes.c_int, [_P])
        # libcrypto's, reached through libssl's dependencies.
        self.clear_errors = _bind(lib, "ERR_clear_error", None, [])


def _bind(lib: ctypes.CDLL, name: str, restype: Any, argtypes: list[Any]) -> Any:
    function = getattr(lib, name)
    function.restype = restype
    function.argtypes = argtypes
    return function


_lib: _LibSSL | None = None
_checked = False


def native() -> bool:
    """Whether sessions are copied by OpenSSL itself (else: the standard library's way).

    Decided once per process: CPython of a release CI tests it on (3.10 to
    3.13, not free-threaded), OpenSSL 1.1.1 or later (LibreSSL and
    others keep the standard library's way), and an ``_ssl`` module whose
    libssl can be reached by name (a statically built one, or Windows, where
    symbols are not looked up through a module's dependencies, cannot).
    """
    global _lib, _checked
    if not _checked:
        _checked = True
        _lib = _load()
    return _lib is not None


# The CPython releases whose ``_ssl`` object layout CI has run this module
# on; a later one keeps the standard library's copies until it has been
# tested too (the layout check guards a changed layout, but reading a
# pointer from a moved field is not something to find out in production).
# Free-threaded builds have another object header and are left out as well.
_TESTED_PYTHONS = ((3, 10), (3, 11), (3, 12), (3, 13))


def _load() -> _LibSSL | None:
    if sys.implementation.name != "cpython" or sys.platform == "win32":
        return None
    import sysconfig

    if sys.version_info[:2] not in _TESTED_PYTHONS or sysconfig.get_config_var("Py_GIL_DISABLED"):
        return None
    if not ssl.OPENSSL_VERSION.startswith("OpenSSL ") or ssl.OPENSSL_VERSION_INFO < (1, 1, 1):
        return None
    path = getattr(_ssl, "__file__", None)
    if path is None or _SSL_SOCKET is None:
        return None
    # ctypes (3 ms to import) is loaded by the first TLS connection that
    # keeps a session, never by ``import asks``.
    import ctypes

    try:
        # The extension is loaded already: this is its handle, and symbols
        # are found in it or the libraries it was linked against.
        return _LibSSL(ctypes.CDLL(path))
    except (OSError, AttributeError):
        return None


def _disable() -> None:
    global _lib
    _lib = None


def _pointer(lib: _LibSSL, obj: object, offset: int) -> int | None:
    value: int | None = lib.read_pointer(id(obj) + offset).value
    return value


def _ssl_of(tls: TLS, lib: _LibSSL) -> int | None:
    """The ``SSL *`` of *tls*, checked against its context; None if it cannot be had."""
    sslobj = getattr(tls, "_sslobj", None)
    context = getattr(tls, "context", None)
    if type(sslobj) is not _SSL_SOCKET or not isinstance(context, ssl.SSLContext):
        return None  # closed already (or not the standard library's objects)
    handle = _pointer(lib, sslobj, _HEAD + lib.pointer_size)  # after PyObject *Socket
    if handle is None or lib.get_ssl_ctx(handle) != _pointer(lib, context, _HEAD):
        _disable()  # not the layout assumed: never look again
        return None
    return handle


class NativeSession:
    """A TLS session held as OpenSSL's own object, freed with this one.

    Args:
        lib: the bound functions.
        handle: an ``SSL_SESSION *`` this object owns (one reference).
    """

    __slots__ = ("_free", "_handle", "has_ticket")

    def __init__(self, lib: _LibSSL, handle: int) -> None:
        self._handle: int | None = handle
        self._free = lib.free
        # RFC 8446 section 4.6.1: a TLS 1.3 session is resumable only with
        # a ticket from the server.
        self.has_ticket = bool(lib.has_ticket(handle))

    @property
    def handle(self) -> int | None:
        """The ``SSL_SESSION *`` (None once freed)."""
        return self._handle

    def __del__(self) -> None:
        handle, self._handle = self._handle, None
        if handle is not None:
            self._free(handle)


KeptSession = ssl.SSLSession | NativeSession
"""What is kept for resumption: the standard library's session, or OpenSSL's."""


def copy_of(tls: TLS) -> KeptSession | None:
    """A copy of the current session of *tls*, to offer to a later connection.

    Take it before the socket is closed (see the module's docstring).

    Returns:
        the copy, or None when there is nothing resumable.
    """
    if native():
        lib = _lib
        handle = None if lib is None else _ssl_of(tls, lib)
        if lib is not None and handle is not None:
            current = lib.get_session(handle)
            if not current or not lib.is_resumable(current):
                return None
            copy = lib.dup(current)
            if not copy:
                lib.clear_errors()  # out of memory: nothing kept, nothing left queued
                return None
            return NativeSession(lib, copy)
    # The standard library's copy (None if the socket is closed already).
    return tls.session


def offer(tls: TLS, session: NativeSession) -> None:
    """Offer *session* in the handshake *tls* is about to make (its own copy of it).

    Silently offers nothing if that cannot be done: a full handshake follows,
    as when a server declines a session.
    """
    lib = _lib
    kept = session.handle
    if lib is None or kept is None:
        return
    handle = _ssl_of(tls, lib)
    if handle is None:
        return
    copy = lib.dup(kept)
    if not copy:
        lib.clear_errors()
        return
    # SSL_set_session takes a reference of its own; ours goes at once, so
    # the connection holds the only one.
    if not lib.set_session(handle, copy):
        # Refused (say, a protocol version this context no longer allows):
        # no session offered, and no error left in OpenSSL's queue for the
        # standard library to report at the next call.
        lib.clear_errors()
    lib.free(copy)
