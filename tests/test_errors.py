"""Unit tests for asks.errors: the exception tree described in its docstring."""

from __future__ import annotations

import copy
import pickle
import re
import socket
import ssl

import pytest

import asks.errors as errors
from asks.errors import (
    AsksException,
    BadHttpResponse,
    BadStatus,
    ConnectivityError,
    DecodingError,
    RequestTimeout,
    TLSError,
    TooManyRedirects,
)


def documented_tree() -> list[tuple[str, str]]:
    """(class, parent) name pairs read from the tree drawn in the module docstring.

    A name's parent is the nearest line above it whose name starts further left.
    """
    doc = errors.__doc__
    assert doc is not None
    drawing = doc.split("::", 1)[1].split("\n\n", 2)[1]
    pairs: list[tuple[str, str]] = []
    stack: list[tuple[int, str]] = [(-1, "Exception")]
    for line in drawing.splitlines():
        match = re.search(r"[A-Za-z]\w*", line)
        assert match is not None, line
        column, name = match.start(), match.group()
        while stack[-1][0] >= column:
            stack.pop()
        pairs.append((name, stack[-1][1]))
        stack.append((column, name))
    return pairs


TREE = documented_tree()
CLASSES = [getattr(errors, name) for name, _ in TREE]


def test_the_docstring_tree_is_read_correctly():
    # Guards the parser above with a few fixed facts of the drawing.
    assert TREE[0] == ("AsksException", "Exception")
    assert ("DecodingError", "BadHttpResponse") in TREE
    assert ("TLSError", "ConnectivityError") in TREE
    assert ("ConnectivityError", "AsksException") in TREE


# The TLS errors are also ssl's own exceptions (asks 2.4 let those escape),
# as the drawing says on their lines.
SSL_BASES = {
    "TLSError": (ssl.SSLError,),
    "TLSCertVerificationError": (ssl.SSLCertVerificationError,),
}


# An unreachable proxy is a failure to connect too (nothing was sent), as its
# line in the drawing says.
OTHER_BASES = {**SSL_BASES, "ProxyUnreachable": (errors.ConnectFailed,)}


@pytest.mark.parametrize(("name", "parent"), TREE, ids=[name for name, _ in TREE])
def test_each_exception_has_the_documented_parent(name, parent):
    cls = getattr(errors, name)
    expected = Exception if parent == "Exception" else getattr(errors, parent)

    assert cls.__bases__ == (expected, *OTHER_BASES.get(name, ()))


def test_the_drawing_names_the_second_base_of_an_unreachable_proxy():
    doc = errors.__doc__
    assert doc is not None
    (line,) = [line for line in doc.splitlines() if "+-- ProxyUnreachable " in line]

    assert "also a ConnectFailed" in line


@pytest.mark.parametrize("name", sorted(SSL_BASES))
def test_the_drawing_names_the_ssl_bases(name):
    doc = errors.__doc__
    assert doc is not None
    (line,) = [line for line in doc.splitlines() if f"+-- {name} " in line]

    assert f"ssl.{SSL_BASES[name][0].__name__}" in line


@pytest.mark.parametrize("cls", CLASSES, ids=[cls.__name__ for cls in CLASSES])
def test_every_exception_is_an_asks_exception(cls):
    assert issubclass(cls, AsksException)


def test_the_tree_covers_exactly_what_the_module_exports():
    assert sorted(errors.__all__) == sorted(name for name, _ in TREE)


def test_every_exported_name_is_an_exception_class():
    for name in errors.__all__:
        assert issubclass(getattr(errors, name), AsksException), name


@pytest.mark.parametrize(
    ("cls", "not_under"),
    [
        (BadStatus, ConnectivityError),
        (BadStatus, BadHttpResponse),
        (TooManyRedirects, ConnectivityError),
        (RequestTimeout, BadHttpResponse),
        (DecodingError, ConnectivityError),
        (TLSError, BadHttpResponse),
    ],
)
def test_branches_of_the_tree_do_not_overlap(cls, not_under):
    assert not issubclass(cls, not_under)


def test_asks_exceptions_are_not_value_or_type_errors():
    # Wrong arguments raise ValueError/TypeError; those must not be caught by
    # "except AsksException" nor vice versa.
    assert not issubclass(AsksException, ValueError | TypeError)


def test_asks_2_style_except_connectivity_error_catches_a_timeout():
    with pytest.raises(ConnectivityError):
        raise RequestTimeout("timed out")


# -- BadStatus -----------------------------------------------------------------------


def test_bad_status_carries_response_and_status_code():
    response = object()

    exc = BadStatus("404 Client Error", response, 404)  # type: ignore[arg-type]

    assert exc.response is response
    assert exc.status_code == 404


def test_bad_status_message_is_its_str():
    exc = BadStatus("503 Server Error: x", None, 503)  # type: ignore[arg-type]

    assert str(exc) == "503 Server Error: x"


def test_bad_status_accepts_keyword_arguments():
    exc = BadStatus("500", response="r", status_code=500)  # type: ignore[arg-type]

    assert (exc.response, exc.status_code) == ("r", 500)


def test_bad_status_built_the_asks_2_way_without_a_status_code():
    # asks 2.4's signature was BadStatus(err, response, status_code=500):
    # code that raises it itself (a mock transport, a wrapper's own checks)
    # often passes two arguments, which raised TypeError.
    response = object()

    exc = BadStatus("Server Error", response)  # type: ignore[arg-type]

    assert (str(exc), exc.response, exc.status_code) == ("Server Error", response, 500)


def test_bad_status_survives_pickling_and_copying():
    # A worker process's raise_for_status() reaches its parent pickled; a
    # BadStatus could not be rebuilt from its message alone.
    exc = BadStatus("404 Client Error: x", "the response", 404)  # type: ignore[arg-type]

    for twin in (pickle.loads(pickle.dumps(exc)), copy.copy(exc)):
        assert type(twin) is BadStatus
        assert (twin.args, twin.response, twin.status_code) == (
            ("404 Client Error: x",),
            "the response",
            404,
        )


@pytest.mark.parametrize("cls", [cls for cls in CLASSES if cls is not BadStatus])
def test_plain_exceptions_keep_their_message(cls):
    assert str(cls("what happened")) == "what happened"


@pytest.mark.parametrize("cls", [cls for cls in CLASSES if cls is not BadStatus])
def test_plain_exceptions_survive_pickling(cls):
    copy = pickle.loads(pickle.dumps(cls("msg")))

    assert (type(copy), copy.args) == (cls, ("msg",))


def test_modules_named_in_the_docstring_exist():
    import importlib

    for module in re.findall(r":mod:`([\w.]+)`", errors.__doc__ or ""):
        importlib.import_module(module)


# --------------------------------------------------------------------------
# One line for an error (asks._describe): the CLI's and fetch_many's words


def _caused_by(cause: BaseException) -> errors.ConnectFailed:
    try:
        raise errors.ConnectFailed("connecting to x.test:80: cannot resolve host") from cause
    except errors.ConnectFailed as exc:
        return exc


@pytest.mark.parametrize(
    "cause",
    [
        socket.gaierror(-2, "Name or service not known"),
        socket.herror(1, "Unknown host"),
        ssl.SSLError(1, "[SSL] record layer failure"),
    ],
    ids=["gaierror", "herror", "ssl"],
)
def test_a_code_that_is_not_an_errno_gets_no_system_words(cause: OSError) -> None:
    # getaddrinfo's EAI_* codes, h_errno and OpenSSL's kinds are not errno
    # values: os.strerror(-2) is "Unknown error -2", os.strerror(1) is
    # "Operation not permitted".
    from asks._describe import describe, explain

    text = explain(_caused_by(cause))
    assert text == "connecting to x.test:80: cannot resolve host"
    assert describe(_caused_by(cause)) == f"ConnectFailed: {text}"


def test_an_errno_gets_the_system_words() -> None:
    import errno
    import os

    from asks._describe import explain

    refused = ConnectionRefusedError(errno.ECONNREFUSED, "Connect call failed")
    assert explain(_caused_by(refused)).endswith(f"({os.strerror(errno.ECONNREFUSED)})")
