"""Unit tests for asks.auth: Basic, Digest and the WWW-Authenticate parser.

Auth objects are pure: their ``async __call__`` never awaits anything real,
so the coroutines are driven by hand with :func:`run` and no event loop.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Coroutine
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from asks._headers import Headers
from asks.auth import (
    AuthBase,
    AuthRequest,
    BasicAuth,
    DigestAuth,
    PostResponseAuth,
    PreResponseAuth,
    _parse_challenges,
)


def run(coro: Coroutine[Any, Any, Any]) -> Any:
    """Drive a coroutine that never suspends and return its result."""
    try:
        coro.send(None)
    except StopIteration as e:
        return e.value
    coro.close()
    raise AssertionError("coroutine suspended; auth flows must not do I/O")


class FakeResponse:
    """The parts of a response an auth object looks at."""

    def __init__(self, *www_authenticate: str, status_code: int = 401) -> None:
        self.status_code = status_code
        self.headers = Headers([("WWW-Authenticate", value) for value in www_authenticate])


def challenges(*values: str) -> list[tuple[str, dict[str, str]]]:
    return [(c.scheme, c.params) for c in _parse_challenges(values)]


def digest_params(header: str) -> dict[str, str]:
    """Parse an ``Authorization: Digest ...`` value (same grammar as a challenge)."""
    (parsed,) = _parse_challenges([header])
    assert parsed.scheme == "digest"
    return parsed.params


def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# RFC 7616 section 3.9.1
RFC_USER = ("Mufasa", "Circle of Life")
RFC_REALM = "http-auth@example.org"
RFC_NONCE = "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v"
RFC_CNONCE = "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ"
RFC_OPAQUE = "FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS"
RFC_REQUEST = AuthRequest("GET", "http://www.example.org/dir/index.html", "/dir/index.html", b"")


def rfc_challenge(algorithm: str) -> str:
    return (
        f'Digest realm="{RFC_REALM}", qop="auth, auth-int", algorithm={algorithm}, '
        f'nonce="{RFC_NONCE}", opaque="{RFC_OPAQUE}"'
    )


def digest(cnonce: str = RFC_CNONCE, creds: tuple[str, str] = RFC_USER, **kw: Any) -> DigestAuth:
    auth = DigestAuth(creds, **kw)
    auth._cnonce = lambda: cnonce
    return auth


def answer(auth: DigestAuth, *www_authenticate: str, request: AuthRequest = RFC_REQUEST) -> Any:
    return run(auth(FakeResponse(*www_authenticate), request))  # type: ignore[arg-type]


# -- AuthRequest and the base classes ------------------------------------------


def test_auth_request_is_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        RFC_REQUEST.method = "POST"  # type: ignore[misc]


def test_class_hierarchy() -> None:
    assert issubclass(PreResponseAuth, AuthBase)
    assert issubclass(PostResponseAuth, AuthBase)
    assert isinstance(BasicAuth(("u", "p")), PreResponseAuth)
    assert not isinstance(BasicAuth(("u", "p")), PostResponseAuth)
    assert isinstance(DigestAuth(("u", "p")), PostResponseAuth)
    assert not isinstance(DigestAuth(("u", "p")), PreResponseAuth)


def test_custom_subclasses() -> None:
    class Token(PreResponseAuth):
        async def __call__(self, request: AuthRequest) -> dict[str, str]:
            return {"Authorization": f"Bearer for {request.target}"}

    class Refuse(PostResponseAuth):
        async def __call__(self, response: Any, request: AuthRequest) -> dict[str, str] | None:
            return None

    assert run(Token()(RFC_REQUEST)) == {"Authorization": "Bearer for /dir/index.html"}
    assert run(Refuse()(FakeResponse(), RFC_REQUEST)) is None


def test_base_call_not_implemented() -> None:
    with pytest.raises(NotImplementedError):
        run(PreResponseAuth()(RFC_REQUEST))
    with pytest.raises(NotImplementedError):
        run(PostResponseAuth()(FakeResponse(), RFC_REQUEST))  # type: ignore[arg-type]


# -- BasicAuth -------------------------------------------------------------------


def test_basic_header() -> None:
    auth = BasicAuth(("user", "pass"))
    assert run(auth(RFC_REQUEST)) == {"Authorization": "Basic dXNlcjpwYXNz"}
    # RFC 7617 section 2
    assert run(BasicAuth(("Aladdin", "open sesame"))(RFC_REQUEST)) == {
        "Authorization": "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ=="
    }


def test_basic_password_may_hold_colon_and_be_empty() -> None:
    assert run(BasicAuth(("a", "b:c"))(RFC_REQUEST)) == {"Authorization": "Basic YTpiOmM="}
    assert run(BasicAuth(("a", ""))(RFC_REQUEST)) == {"Authorization": "Basic YTo="}


@pytest.mark.parametrize(
    ("encoding", "expected"),
    [
        ("utf-8", "Basic asO8cmdlbjpww6Rzc3fDtnJk"),
        ("latin-1", "Basic avxyZ2VuOnDkc3N39nJk"),
    ],
)
def test_basic_non_ascii(encoding: str, expected: str) -> None:
    auth = BasicAuth(("jürgen", "pässwörd"), encoding=encoding)
    assert run(auth(RFC_REQUEST)) == {"Authorization": expected}


def test_basic_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="':'"):
        BasicAuth(("a:b", "c"))
    with pytest.raises(TypeError):
        BasicAuth(("only-one",))  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        BasicAuth((b"user", "pass"))  # type: ignore[arg-type]
    with pytest.raises(LookupError):
        BasicAuth(("u", "p"), encoding="no-such-codec")
    with pytest.raises(UnicodeEncodeError):
        BasicAuth(("ü", "p"), encoding="ascii")


def test_repr_hides_password() -> None:
    for auth in (BasicAuth(("Mufasa", "Circle of Life")), DigestAuth(RFC_USER)):
        assert "Mufasa" in repr(auth)
        assert "Circle" not in repr(auth)


# -- Digest: RFC example values ---------------------------------------------------


@pytest.mark.parametrize(
    ("algorithm", "expected"),
    [
        ("MD5", "8ca523f5e9506fed4657c9700eebdbec"),
        ("SHA-256", "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1"),
    ],
)
def test_rfc7616_examples(algorithm: str, expected: str) -> None:
    result = answer(digest(), rfc_challenge(algorithm))
    header = result["Authorization"]
    assert list(result) == ["Authorization"]
    # Quoting as in RFC 7616 section 3.4: algorithm, qop and nc are tokens.
    assert header == (
        f'Digest username="Mufasa", realm="{RFC_REALM}", nonce="{RFC_NONCE}", '
        f'uri="/dir/index.html", algorithm={algorithm}, qop=auth, nc=00000001, '
        f'cnonce="{RFC_CNONCE}", response="{expected}", opaque="{RFC_OPAQUE}"'
    )


def test_rfc2617_example() -> None:
    # RFC 2617 section 3.5 (note "Circle Of Life" with a capital O there).
    challenge = (
        'Digest realm="testrealm@host.com", qop="auth,auth-int", '
        'nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", opaque="5ccc069c403ebaf9f0171e9517f40e41"'
    )
    auth = digest(cnonce="0a4f113b", creds=("Mufasa", "Circle Of Life"))
    params = digest_params(answer(auth, challenge)["Authorization"])
    assert params["response"] == "6629fae49393a05397450978507c4ef1"
    assert params["opaque"] == "5ccc069c403ebaf9f0171e9517f40e41"
    assert "algorithm" not in params  # not in the challenge, not in the answer


# -- Digest: independent recomputation from the RFC 7616 formulas -------------------
#
#   A1       = unq(username) ":" unq(realm) ":" passwd
#   A1 -sess = H(unq(username) ":" unq(realm) ":" passwd) ":" unq(nonce) ":" unq(cnonce)
#   A2 auth     = Method ":" request-uri
#   A2 auth-int = Method ":" request-uri ":" H(entity-body)
#   response = KD(H(A1), unq(nonce) ":" nc ":" unq(cnonce) ":" unq(qop) ":" H(A2))
#   KD(secret, data) = H(secret ":" data)
#   RFC 2069 (no qop): response = H(H(A1) ":" unq(nonce) ":" H(A2))


def test_sha256_auth_int_matches_formula() -> None:
    body = b'{"answer": 42}\r\n'
    request = AuthRequest("POST", "https://h.example/api?x=1&y=2", "/api?x=1&y=2", body)
    challenge = 'Digest realm="r", nonce="n0nce", qop="auth-int", algorithm=SHA-256'
    params = digest_params(answer(digest("c"), challenge, request=request)["Authorization"])

    ha1 = sha256(b"Mufasa:r:Circle of Life")
    ha2 = sha256(b"POST:/api?x=1&y=2:" + sha256(body).encode())
    expected = sha256(f"{ha1}:n0nce:00000001:c:auth-int:{ha2}".encode())
    assert params == {
        "username": "Mufasa",
        "realm": "r",
        "nonce": "n0nce",
        "uri": "/api?x=1&y=2",
        "algorithm": "SHA-256",
        "qop": "auth-int",
        "nc": "00000001",
        "cnonce": "c",
        "response": expected,
    }


def test_md5_sess_matches_formula() -> None:
    challenge = 'Digest realm="r", nonce="abc", qop=auth, algorithm=MD5-sess'
    params = digest_params(answer(digest("xyz"), challenge)["Authorization"])
    ha1 = md5(f"{md5(b'Mufasa:r:Circle of Life')}:abc:xyz".encode())
    ha2 = md5(b"GET:/dir/index.html")
    assert params["algorithm"] == "MD5-sess"
    assert params["response"] == md5(f"{ha1}:abc:00000001:xyz:auth:{ha2}".encode())


def test_sha256_sess_matches_formula() -> None:
    challenge = 'Digest realm="r", nonce="abc", qop=auth, algorithm=SHA-256-sess'
    params = digest_params(answer(digest("xyz"), challenge)["Authorization"])
    ha1 = sha256(f"{sha256(b'Mufasa:r:Circle of Life')}:abc:xyz".encode())
    ha2 = sha256(b"GET:/dir/index.html")
    assert params["response"] == sha256(f"{ha1}:abc:00000001:xyz:auth:{ha2}".encode())


@pytest.mark.skipif(
    "sha512_256" not in hashlib.algorithms_available, reason="no SHA-512/256 in hashlib"
)
def test_sha512_256_matches_formula() -> None:
    def h(data: bytes) -> str:
        return hashlib.new("sha512_256", data).hexdigest()

    challenge = 'Digest realm="r", nonce="abc", qop=auth, algorithm=SHA-512-256'
    params = digest_params(answer(digest("xyz"), challenge)["Authorization"])
    ha1, ha2 = h(b"Mufasa:r:Circle of Life"), h(b"GET:/dir/index.html")
    assert params["response"] == h(f"{ha1}:abc:00000001:xyz:auth:{ha2}".encode())


def test_no_qop_legacy_rfc2069() -> None:
    challenge = 'Digest realm="r", nonce="abc"'
    header = answer(digest(), challenge)["Authorization"]
    params = digest_params(header)
    ha1, ha2 = md5(b"Mufasa:r:Circle of Life"), md5(b"GET:/dir/index.html")
    assert params == {
        "username": "Mufasa",
        "realm": "r",
        "nonce": "abc",
        "uri": "/dir/index.html",
        "response": md5(f"{ha1}:abc:{ha2}".encode()),
    }


def test_sess_without_qop_gives_up() -> None:
    # -sess needs a cnonce, which only a qop answer may carry (RFC 2617 3.2.2).
    assert answer(digest(), 'Digest realm="r", nonce="abc", algorithm=MD5-sess') is None


def test_encoding_used_for_hashing() -> None:
    challenge = 'Digest realm="r", nonce="abc"'
    for encoding in ("utf-8", "latin-1"):
        auth = digest(creds=("u", "pässword"), encoding=encoding)
        ha1 = md5("u:r:pässword".encode(encoding))
        ha2 = md5(b"GET:/dir/index.html")
        params = digest_params(answer(auth, challenge)["Authorization"])
        assert params["response"] == md5(f"{ha1}:abc:{ha2}".encode())


# -- Digest: qop choice -------------------------------------------------------------


def test_prefers_auth_when_both_offered() -> None:
    for qop in ('"auth,auth-int"', '"auth-int, auth"', '"AUTH-INT , Auth"'):
        challenge = f'Digest realm="r", nonce="n", qop={qop}'
        assert digest_params(answer(digest(), challenge)["Authorization"])["qop"] == "auth"


def test_auth_int_with_unknown_body_gives_up() -> None:
    request = dataclasses.replace(RFC_REQUEST, body=None)
    assert answer(digest(), 'Digest realm="r", nonce="n", qop="auth-int"', request=request) is None
    # but qop=auth does not need the body
    params = digest_params(
        answer(digest(), 'Digest realm="r", nonce="n", qop="auth-int,auth"', request=request)[
            "Authorization"
        ]
    )
    assert params["qop"] == "auth"


def test_auth_int_with_empty_body() -> None:
    params = digest_params(
        answer(digest("c"), 'Digest realm="r", nonce="n", qop="auth-int"')["Authorization"]
    )
    ha1 = md5(b"Mufasa:r:Circle of Life")
    ha2 = md5(f"GET:/dir/index.html:{md5(b'')}".encode())
    assert params["response"] == md5(f"{ha1}:n:00000001:c:auth-int:{ha2}".encode())


def test_unknown_qop_gives_up() -> None:
    assert answer(digest(), 'Digest realm="r", nonce="n", qop="auth-conf"') is None


# -- Digest: fields echoed, nonce counts, cnonce --------------------------------------


def test_opaque_echoed_only_when_sent() -> None:
    with_opaque = 'Digest realm="r", nonce="n", qop=auth, opaque="o \\"q\\" ,x"'
    header = answer(digest(), with_opaque)["Authorization"]
    assert 'opaque="o \\"q\\" ,x"' in header
    assert digest_params(header)["opaque"] == 'o "q" ,x'
    header = answer(digest(), 'Digest realm="r", nonce="n", qop=auth')["Authorization"]
    assert "opaque" not in digest_params(header)


def test_algorithm_name_is_case_insensitive_and_echoed() -> None:
    challenge = 'Digest realm="r", nonce="n", qop=auth, algorithm="sha-256"'
    params = digest_params(answer(digest("c"), challenge)["Authorization"])
    assert params["algorithm"] == "sha-256"
    ha1, ha2 = sha256(b"Mufasa:r:Circle of Life"), sha256(b"GET:/dir/index.html")
    assert params["response"] == sha256(f"{ha1}:n:00000001:c:auth:{ha2}".encode())


def test_uri_is_the_request_target() -> None:
    request = AuthRequest("DELETE", "http://h:8080/a%20b?q=%22x%22", "/a%20b?q=%22x%22", b"")
    params = digest_params(
        answer(digest(), 'Digest realm="r", nonce="n"', request=request)["Authorization"]
    )
    assert params["uri"] == "/a%20b?q=%22x%22"
    ha1, ha2 = md5(b"Mufasa:r:Circle of Life"), md5(b"DELETE:/a%20b?q=%22x%22")
    assert params["response"] == md5(f"{ha1}:n:{ha2}".encode())


def test_nonce_count_increments_per_nonce() -> None:
    auth = digest()

    def nc(nonce: str) -> str:
        challenge = f'Digest realm="r", nonce="{nonce}", qop=auth'
        return digest_params(answer(auth, challenge)["Authorization"])["nc"]

    assert nc("one") == "00000001"
    assert nc("one") == "00000002"
    assert nc("two") == "00000001"
    assert nc("one") == "00000003"
    # the count goes into the hash
    first = digest_params(answer(digest("c"), rfc_challenge("MD5"))["Authorization"])
    shared = digest("c")
    answer(shared, rfc_challenge("MD5"))
    second = digest_params(answer(shared, rfc_challenge("MD5"))["Authorization"])
    assert second["nc"] == "00000002"
    assert second["response"] != first["response"]


def test_nonce_count_is_hex() -> None:
    auth = digest()
    challenge = 'Digest realm="r", nonce="n", qop=auth'
    for _ in range(10):
        answer(auth, challenge)
    assert digest_params(answer(auth, challenge)["Authorization"])["nc"] == "0000000b"


def test_nonce_table_is_bounded() -> None:
    auth = digest()
    for i in range(5000):
        answer(auth, f'Digest realm="r", nonce="n{i}", qop=auth')
    assert len(auth._nonce_counts) <= 256
    # the most recent nonce is still counted
    params = digest_params(
        answer(auth, 'Digest realm="r", nonce="n4999", qop=auth')["Authorization"]
    )
    assert params["nc"] == "00000002"


def test_shared_object_answers_each_challenge_on_its_own() -> None:
    # Interleaved challenges from different realms/algorithms do not leak into
    # each other: each answer equals a fresh object's answer but for nc.
    shared = digest("c")
    a = 'Digest realm="a", nonce="na", qop=auth, algorithm=SHA-256'
    b = 'Digest realm="b", nonce="nb", algorithm=MD5'
    first_a = answer(shared, a)
    first_b = answer(shared, b)
    assert first_a == answer(digest("c"), a)
    assert first_b == answer(digest("c"), b)
    assert answer(shared, b) == first_b  # no qop: no nc, same answer


def test_default_cnonce_is_random() -> None:
    auth = DigestAuth(RFC_USER)
    challenge = 'Digest realm="r", nonce="n", qop=auth'
    c1 = digest_params(answer(auth, challenge)["Authorization"])["cnonce"]
    c2 = digest_params(answer(auth, challenge)["Authorization"])["cnonce"]
    assert c1 != c2
    assert len(c1) >= 16
    assert all(ch in "0123456789abcdef" for ch in c1)


def test_stale_nonce_answered_with_new_nonce() -> None:
    challenge = 'Digest realm="r", nonce="fresh", qop=auth, stale=TRUE'
    params = digest_params(answer(digest(), challenge)["Authorization"])
    assert params["nonce"] == "fresh"
    assert params["nc"] == "00000001"
    assert "stale" not in params


def test_username_quoting() -> None:
    header = answer(digest(creds=('a"b\\c', "p")), 'Digest realm="r", nonce="n"')["Authorization"]
    assert header.startswith('Digest username="a\\"b\\\\c", ')
    assert digest_params(header)["username"] == 'a"b\\c'


def test_non_ascii_username_uses_extended_notation() -> None:
    # RFC 7616 section 3.4.4 / RFC 8187: username*=UTF-8''percent-encoded
    header = answer(digest(creds=("Jäsøn Doe", "p")), 'Digest realm="r", nonce="n"')[
        "Authorization"
    ]
    assert header.startswith("Digest username*=UTF-8''J%C3%A4s%C3%B8n%20Doe, ")
    header.encode("ascii")
    params = digest_params(header)
    ha1, ha2 = md5("Jäsøn Doe:r:p".encode()), md5(b"GET:/dir/index.html")
    assert params["response"] == md5(f"{ha1}:n:{ha2}".encode())


# -- Digest: when to give up ---------------------------------------------------------


@pytest.mark.parametrize(
    "www_authenticate",
    [
        (),
        ('Basic realm="x"',),
        ('Bearer realm="x", error="invalid_token"', "Negotiate"),
        ('Digest realm="r", nonce="n", algorithm=SHA-1',),
        ('Digest realm="r", nonce="n", algorithm=UNKNOWN-sess',),
        ('Digest realm="r", qop=auth',),  # no nonce
        ('Digest nonce="n", qop=auth',),  # no realm
        ('Digest realm="r", nonce="n", qop="auth',),  # unterminated quoted-string
        ("DigestAuth realm=r, nonce=n",),  # a different scheme
    ],
)
def test_gives_up(www_authenticate: tuple[str, ...]) -> None:
    assert answer(digest(), *www_authenticate) is None


def test_non_401_gives_up() -> None:
    response = FakeResponse('Digest realm="r", nonce="n"', status_code=407)
    assert run(digest()(response, RFC_REQUEST)) is None  # type: ignore[arg-type]


def test_first_answerable_digest_challenge_is_used() -> None:
    # RFC 7616 section 3.7: one challenge per algorithm, client uses the first it supports.
    one_header = (
        'Basic realm="b", Digest realm="r", nonce="n1", algorithm=SHA-3, qop=auth, '
        'Digest realm="r", nonce="n2", algorithm=SHA-256, qop=auth, '
        'Digest realm="r", nonce="n3", algorithm=MD5, qop=auth'
    )
    params = digest_params(answer(digest(), one_header)["Authorization"])
    assert (params["nonce"], params["algorithm"]) == ("n2", "SHA-256")

    params = digest_params(
        answer(
            digest(),
            'Basic realm="b"',
            'Digest realm="r", nonce="n1", algorithm=SHA-3',
            'Digest realm="r", nonce="n3", algorithm=MD5',
        )["Authorization"]
    )
    assert (params["nonce"], params["algorithm"]) == ("n3", "MD5")


def test_case_insensitive_scheme_and_parameter_names() -> None:
    challenge = 'DIGEST Realm="r", NONCE="n", QoP="auth", Algorithm=md5, OPAQUE="o"'
    params = digest_params(answer(digest("c"), challenge)["Authorization"])
    assert params["opaque"] == "o"
    ha1, ha2 = md5(b"Mufasa:r:Circle of Life"), md5(b"GET:/dir/index.html")
    assert params["response"] == md5(f"{ha1}:n:00000001:c:auth:{ha2}".encode())


def test_a_malformed_header_does_not_hide_a_good_one() -> None:
    result = answer(digest(), 'Digest realm="r", nonce="n', 'Digest realm="r", nonce="ok"')
    assert digest_params(result["Authorization"])["nonce"] == "ok"


# -- the WWW-Authenticate parser ---------------------------------------------------------


def test_parse_several_challenges_in_one_header() -> None:
    assert challenges(
        'Basic realm="x", Digest realm="y", nonce="abc", qop="auth,auth-int", '
        "algorithm=SHA-256, Bearer"
    ) == [
        ("basic", {"realm": "x"}),
        ("digest", {"realm": "y", "nonce": "abc", "qop": "auth,auth-int", "algorithm": "SHA-256"}),
        ("bearer", {}),
    ]


def test_parse_several_headers() -> None:
    assert challenges('Basic realm="x"', 'Digest realm="y", nonce="n"', "Negotiate") == [
        ("basic", {"realm": "x"}),
        ("digest", {"realm": "y", "nonce": "n"}),
        ("negotiate", {}),
    ]


def test_parse_rfc9110_example() -> None:
    # RFC 9110 section 11.6.1
    assert challenges(
        'Newauth realm="apps", type=1, title="Login to \\"apps\\"", Basic realm="simple"'
    ) == [
        ("newauth", {"realm": "apps", "type": "1", "title": 'Login to "apps"'}),
        ("basic", {"realm": "simple"}),
    ]


def test_parse_quoted_string_with_comma_equals_and_escapes() -> None:
    assert challenges(
        'Digest realm="a, b=c \\"d\\" \\\\ e", nonce="n", opaque="\\x"', 'Basic realm=""'
    ) == [
        ("digest", {"realm": 'a, b=c "d" \\ e', "nonce": "n", "opaque": "x"}),
        ("basic", {"realm": ""}),
    ]


def test_parse_case_insensitive_names_keep_value_case() -> None:
    assert challenges('dIgEsT REALM="MiXeD", Nonce=AbC') == [
        ("digest", {"realm": "MiXeD", "nonce": "AbC"}),
    ]


@pytest.mark.parametrize(
    "text",
    [
        'Basic realm="x",Digest realm="y",nonce="n"',
        'Basic realm="x", Digest realm="y", nonce="n"',
        '  Basic   realm="x" ,   Digest   realm="y" , nonce="n"  ',
        '\tBasic\trealm\t=\t"x"\t,\tDigest realm = "y" , nonce = "n"\t',
        ',, Basic realm="x",,, Digest realm="y",, nonce="n",,',
        "Basic realm=x, Digest realm=y, nonce=n",
        'Basic realm="x" Digest realm="y" nonce="n"',  # commas left out: accepted
    ],
)
def test_parse_odd_spacing(text: str) -> None:
    assert challenges(text) == [
        ("basic", {"realm": "x"}),
        ("digest", {"realm": "y", "nonce": "n"}),
    ]


def test_parse_token68_versus_parameter() -> None:
    # "realm=" alone after a scheme is a token68 (base64-style padding), not
    # a parameter without a value.
    parsed = _parse_challenges(['Digest realm=, Basic realm=""'])
    assert [(c.scheme, c.params, c.token68) for c in parsed] == [
        ("digest", {}, "realm="),
        ("basic", {"realm": ""}, None),
    ]


def test_parse_token68() -> None:
    parsed = _parse_challenges(["Negotiate YII/+abc==, Basic realm=x", "Bearer abc"])
    assert [(c.scheme, c.params, c.token68) for c in parsed] == [
        ("negotiate", {}, "YII/+abc=="),
        ("basic", {"realm": "x"}, None),
        ("bearer", {}, "abc"),
    ]


@pytest.mark.parametrize("text", ["", " ", ",", " , ,\t"])
def test_parse_empty(text: str) -> None:
    assert challenges(text) == []


@pytest.mark.parametrize(
    ("text", "kept"),
    [
        ('Basic realm="x", Digest realm="y', [("basic", {"realm": "x"})]),
        ('Basic realm="x", Digest realm="y\\', [("basic", {"realm": "x"})]),
        ('Basic realm="x", Digest nonce="n", realm=', [("basic", {"realm": "x"})]),
        ('Basic realm="x", Digest nonce="n", realm=,', [("basic", {"realm": "x"})]),
        ('Basic realm="x", Digest realm="a", realm="b"', [("basic", {"realm": "x"})]),
        ('Basic realm="x", Digest realm="a"junk', [("basic", {"realm": "x"})]),
        ('Basic realm="x", Digest nonce=a/b', [("basic", {"realm": "x"})]),
        ('Basic realm="x", Digest nonce="a\rb"', [("basic", {"realm": "x"})]),
        ('realm="x", Basic realm="y"', []),  # parameter before any scheme
        ("Negotiate abc==, x=y", []),  # token68 takes no parameters
        ('Basic realm="x", Digest @', [("basic", {"realm": "x"})]),
        # the challenge being read when the error comes is dropped: it may be cut short
        ('Basic realm="x", @', []),
        ('Basic realm="x", Digest realm="y", nonce="n", "', [("basic", {"realm": "x"})]),
    ],
)
def test_parse_malformed_keeps_complete_challenges(
    text: str, kept: list[tuple[str, dict[str, str]]]
) -> None:
    assert challenges(text) == kept


_TCHARS = "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
_tokens = st.text(alphabet=_TCHARS, min_size=1, max_size=8)
_values = st.text(
    alphabet=st.characters(min_codepoint=0x20, max_codepoint=0xFF, exclude_characters="\x7f")
    | st.just("\t"),
    max_size=12,
)
_separators = st.sampled_from([",", ", ", " ,", " , ", ",\t", ",,", " ,, "])
_bws = st.sampled_from(["", " ", "\t", "  "])


@st.composite
def _challenge_lists(draw: st.DrawFn) -> tuple[str, list[tuple[str, dict[str, str]]]]:
    expected: list[tuple[str, dict[str, str]]] = []
    pieces: list[str] = []
    for _ in range(draw(st.integers(1, 4))):
        scheme = draw(_tokens)
        names = draw(st.lists(_tokens, max_size=4, unique_by=str.lower))
        params: dict[str, str] = {}
        rendered: list[str] = []
        for name in names:
            value = draw(_values)
            if value and all(ch in _TCHARS for ch in value) and draw(st.booleans()):
                text = value
            else:
                text = '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
            params[name.lower()] = value
            rendered.append(f"{name}{draw(_bws)}={draw(_bws)}{text}")
        sep = draw(_separators)
        pieces.append(scheme + (" " + sep.join(rendered) if rendered else ""))
        expected.append((scheme.lower(), params))
    text = draw(_bws) + draw(_separators).join(pieces) + draw(_bws)
    return text, expected


@given(_challenge_lists())
def test_parse_round_trip(case: tuple[str, list[tuple[str, dict[str, str]]]]) -> None:
    text, expected = case
    assert challenges(text) == expected
    # the same challenges split over several header lines parse the same
    assert challenges(*[text, text]) == expected + expected


@given(st.text(max_size=40))
def test_parse_never_raises(text: str) -> None:
    for challenge in _parse_challenges([text]):
        assert challenge.scheme
        assert challenge.scheme == challenge.scheme.lower()
