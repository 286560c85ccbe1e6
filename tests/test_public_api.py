"""The public facade: what ``import asks`` offers, and nothing by accident."""

from __future__ import annotations

import inspect

import asks
import asks.errors
import asks.response_objects
import asks.sessions

EXPECTED = {
    "AuthBase",
    "BasicAuth",
    "DigestAuth",
    "FetchResult",
    "FetchResults",
    "Headers",
    "NetRCAuth",
    "PoolStats",
    "PostResponseAuth",
    "PreResponseAuth",
    "Proxy",
    "RateLimit",
    "Request",
    "Response",
    "Retry",
    "Session",
    "StreamBody",
    "StreamResponse",
    "__version__",
    "delete",
    "errors",
    "fetch_many",
    "get",
    "head",
    "init",
    "options",
    "patch",
    "post",
    "put",
    "request",
}


def test_all_is_exactly_the_public_surface():
    assert set(asks.__all__) == EXPECTED
    for name in asks.__all__:
        assert hasattr(asks, name), name


def test_no_public_name_leaks_outside_all():
    public = {n for n in vars(asks) if not n.startswith("_")}
    # Submodules imported as a side effect are attributes too; they are
    # reachable as asks.<module> by design.
    modules = {n for n in public if inspect.ismodule(getattr(asks, n))}
    assert public - modules - set(asks.__all__) == set()


def test_version_is_4x():
    assert asks.__version__.startswith("4.")


def test_init_is_a_no_op_for_old_code():
    assert asks.init("curio") is None
    assert asks.init("trio") is None


def test_session_signature_keeps_asks_positional_order():
    params = list(inspect.signature(asks.Session).parameters)
    assert params[:7] == [
        "base_location",
        "endpoint",
        "headers",
        "encoding",
        "persist_cookies",
        "ssl_context",
        "connections",
    ]


def test_session_needs_no_kernel():
    s = asks.Session("https://example.org", connections=5)
    assert s.connections == 5
    assert s.base_location == "https://example.org"


def test_public_api_has_docstrings():
    for obj in (asks.Session, asks.Session.request, asks.request, asks.Response):
        assert obj.__doc__ and obj.__doc__.strip()


def test_error_tree():
    e = asks.errors
    assert issubclass(e.RequestTimeout, e.ConnectivityError)
    assert issubclass(e.ServerClosedConnectionError, e.ConnectivityError)
    assert issubclass(e.TLSError, e.ConnectivityError)
    for cls in (e.TooManyRedirects, e.BadHttpResponse, e.BadStatus, e.ConnectivityError):
        assert issubclass(cls, e.AsksException)


def test_session_headers_may_be_replaced_with_a_plain_dict():
    s = asks.Session(headers={"A": "1"})
    s.headers = {"B": "2"}
    assert isinstance(s.headers, asks.Headers)
    assert dict(s.headers) == {"B": "2"}
    assert s.headers["b"] == "2"


def test_the_auth_base_classes_are_where_asks_2_exported_them():
    # asks 2.4 code subclasses asks.AuthBase (or the Pre/PostResponseAuth
    # kinds) for its own auth: the same classes as asks.auth's.
    import asks.auth

    assert asks.AuthBase is asks.auth.AuthBase
    assert asks.PreResponseAuth is asks.auth.PreResponseAuth
    assert asks.PostResponseAuth is asks.auth.PostResponseAuth
