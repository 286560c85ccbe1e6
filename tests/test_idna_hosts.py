"""International host names: IDNA 2008 with the UTS 46 mapping, non-transitional.

The ``idna`` package ships no test vectors (its wheel and sdist carry no
``IdnaTestV2.txt``), so the vectors here are a representative set written
for asks: each UTS 46 processing step (mapping, deviation characters,
normalisation, label separators), the IANA IDN test domains in ten scripts,
and names that IDNA 2008 refuses, one per rule. Their A-labels are the
published ones (the IANA test domains, UTS 46's own examples for ``βόλος``
and ``ශ්‍රී``); no file is read or downloaded at test time.
"""

from __future__ import annotations

import re
import ssl
import subprocess
import sys

import pytest

import asks
import asks._transport.backend
from asks._transport.connect import Dialer
from asks._urls import parse_url
from tests.servers import canned, read_request

# (host as written in a URL, the host asks sends)
VECTORS = [
    # Deviation characters: kept (non-transitional), where IDNA 2003 and the
    # transitional mapping turn them into other names (fass.de, xn--nxasmq6b).
    ("faß.de", "xn--fa-hia.de"),
    ("FAß.DE", "xn--fa-hia.de"),
    ("βόλος.com", "xn--nxasmm1c.com"),
    ("ශ්\u200dරී.lk", "xn--10cl1a0b660p.lk"),  # ZWJ after a virama (CONTEXTJ)
    # Case and compatibility mapping.
    ("ÖBB.at", "xn--bb-eka.at"),
    ("öbb.at", "xn--bb-eka.at"),
    ("Bücher.example", "xn--bcher-kva.example"),
    ("\uff21\uff22\uff23.ü.de", "abc.xn--tda.de"),  # full-width ABC
    ("ﬁ.ü.de", "fi.xn--tda.de"),  # a ligature
    ("Ⅻ.ü.de", "xii.xn--tda.de"),  # a Roman numeral
    ("e\u0301.example", "xn--9ca.example"),  # decomposed: normalised to NFC
    ("\u00e9.example", "xn--9ca.example"),
    # Label separators and the root.
    ("日本語。\uff2a\uff30", "xn--wgv71a119e.jp"),  # ideographic full stop, full-width JP
    ("faß.de.", "xn--fa-hia.de."),  # a trailing dot is kept, as for ASCII names
    # A-labels among U-labels are checked and kept.
    ("ÖBB.xn--fa-hia.de", "xn--bb-eka.xn--fa-hia.de"),
    ("ÖBB.XN--FA-HIA.DE", "xn--bb-eka.xn--fa-hia.de"),
    ("xn--bb-eka.ß.de", "xn--bb-eka.xn--zca.de"),
    # The IANA IDN test domains.
    ("مثال.إختبار", "xn--mgbh0fb.xn--kgbechtv"),  # Arabic, right to left
    ("उदाहरण.परीक्षा", "xn--p1b6ci4b4b3a.xn--11b5bs3a9aj6g"),  # Devanagari
    ("例子.测试", "xn--fsqu00a.xn--0zwm56d"),  # simplified Chinese
    ("пример.испытание", "xn--e1afmkfd.xn--80akhbyknj4f"),  # Cyrillic
    ("παράδειγμα.δοκιμή", "xn--hxajbheg2az3al.xn--jxalpdlp"),  # Greek
    ("例え.テスト", "xn--r8jz45g.xn--zckzah"),  # Japanese
    ("실례.테스트", "xn--9n2bp8q.xn--9t4b11yi5a"),  # Korean
    ("ü.ü.ü.ü.ü.ü", "xn--tda.xn--tda.xn--tda.xn--tda.xn--tda.xn--tda"),
]

# (host, why IDNA 2008 / UTS 46 refuses it)
REFUSED = [
    ("a..ü.de", "an empty label"),
    ("ü.de..", "an empty label before the root"),
    ("-ü.de", "a leading hyphen"),
    ("ü-.de", "a trailing hyphen"),
    ("ab--c.ü.de", "hyphens in the 3rd and 4th positions"),
    ("ü" * 64 + ".de", "a label over 63 octets"),
    (".".join(["ü" * 60] * 5) + ".de", "a name over 253 octets"),
    ("💩.la", "a symbol (disallowed)"),
    ("ü\u2488.de", "a character mapped to one with a dot (disallowed)"),
    ("ü_x.de", "an underscore (not LDH)"),
    ("ü\u00a0.de", "a no-break space (mapped to a space)"),
    ("a\u200cb.ü", "a ZWNJ outside its context (CONTEXTJ)"),
    ("a\u200db.ü", "a ZWJ outside its context (CONTEXTJ)"),
    ("\u0300ü.de", "a leading combining mark"),
    ("\u0661\u0662a.de", "a label breaking the bidi rule"),  # Arabic-Indic digits
    ("xn--a.ü.de", "an A-label that does not decode"),
]


@pytest.mark.parametrize(("host", "encoded"), VECTORS, ids=[v[1] for v in VECTORS])
def test_an_international_host_is_encoded_per_uts46_non_transitional(host, encoded):
    url = parse_url(f"http://{host}/path")

    assert url.host == encoded
    assert url.host_header == encoded
    assert url.origin.host == encoded
    assert str(url) == f"http://{encoded}/path"


def test_the_vector_count():
    # The count the report quotes; a vector lost in an edit shows here.
    assert (len(VECTORS), len(REFUSED)) == (25, 16)


def test_fass_is_not_where_fass_de_goes():
    # The bug this replaced: Python's "idna" codec (IDNA 2003) maps ß to ss.
    assert "faß.de".encode("idna") == b"fass.de"
    assert parse_url("https://faß.de/").host == "xn--fa-hia.de"


def test_the_port_and_userinfo_stay_around_an_international_host():
    url = parse_url("https://user:pw@ÖBB.at:8443/x?q=1")

    assert (url.host, url.port, url.userinfo, url.target) == (
        "xn--bb-eka.at",
        8443,
        "user:pw",
        "/x?q=1",
    )
    assert url.host_header == "xn--bb-eka.at:8443"


@pytest.mark.parametrize(("host", "why"), REFUSED, ids=[r[1] for r in REFUSED])
def test_a_host_that_is_not_idna_2008_is_a_value_error_naming_it(host, why):
    with pytest.raises(ValueError, match="not a valid IDNA 2008 name") as info:
        parse_url(f"http://{host}/")

    assert repr(host) in str(info.value)


@pytest.fixture
def connect_attempts(monkeypatch) -> list:
    attempts: list = []

    async def refuse(self, origin, timeout):  # pragma: no cover - must not run
        attempts.append((origin.host, origin.port))
        raise AssertionError("a socket was opened")

    monkeypatch.setattr(Dialer, "open_stream", refuse)
    return attempts


async def test_a_refused_host_fails_before_any_socket_is_opened(connect_attempts):
    async with asks.Session() as s:
        with pytest.raises(ValueError, match=re.escape("'a..ü.de'")):
            await s.get("http://a..ü.de/")
    with pytest.raises(ValueError, match=re.escape("'💩.la'")):
        await asks.get("https://💩.la/")
    assert connect_attempts == []


@pytest.mark.parametrize(
    ("url", "host"),
    [
        ("http://example.com/", "example.com"),
        ("http://EXAMPLE.com:8080/", "example.com"),
        ("http://user@Example.COM/", "example.com"),  # the general parse
        ("http://XN--FA-HIA.DE/", "xn--fa-hia.de"),
        # An ASCII host is what the caller means: sent as written (lower-cased),
        # not checked, even when an A-label in it would not decode.
        ("http://xn--a.de/", "xn--a.de"),
        ("http://under_score.example/", "under_score.example"),
    ],
)
def test_an_ascii_host_is_never_re_encoded(url, host, monkeypatch):
    import idna

    def fail(*args, **kwargs):  # pragma: no cover - must not run
        raise AssertionError("idna.encode was called for an ASCII host")

    monkeypatch.setattr(idna, "encode", fail)

    # A query of its own: parse_url caches, and this must be a fresh parse.
    assert parse_url(url + "?fresh=" + host).host == host


def test_idna_is_imported_only_for_an_international_host():
    code = (
        "import sys, asks\n"
        "from asks._urls import parse_url\n"
        "parse_url('http://example.com/'); parse_url('http://u@example.com:81/')\n"
        "assert 'idna' not in sys.modules, 'imported for ASCII'\n"
        "parse_url('http://faß.de/')\n"
        "assert 'idna' in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


# -- end to end: DNS, Host, the pool, redirects and cookies see one name ----------------


@pytest.fixture
def resolved(monkeypatch) -> list[str]:
    """Names asks resolves; every one is answered with 127.0.0.1."""
    names: list[str] = []
    real = asks._transport.backend.resolve

    async def resolve(host, port):
        names.append(host)
        return await real("127.0.0.1", port)

    monkeypatch.setattr(asks._transport.backend, "resolve", resolve)
    return names


async def test_dns_host_pool_redirects_and_cookies_all_see_the_encoded_host(raw_server, resolved):
    seen: list = []

    async def handler(sock):
        port = server.port
        answers = [
            # A host-only cookie, and a redirect spelled with the A-label.
            b"HTTP/1.1 302 Found\r\nSet-Cookie: a=1; Path=/\r\n"
            b"Location: http://xn--fa-hia.de:%d/next\r\nContent-Length: 0\r\n\r\n" % port,
            b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
            b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
        ]
        for answer in answers:
            received = await read_request(sock)
            assert received is not None
            seen.append(received[0])
            await sock.sendall(answer)
        await read_request(sock)

    server = await raw_server(handler)
    port = server.port
    async with asks.Session(persist_cookies=True) as s:
        first = await s.get(f"http://faß.de:{port}/")
        again = await s.get(f"http://FAß.DE:{port}/again")

    assert first.status_code == 200
    assert str(first.url) == f"http://xn--fa-hia.de:{port}/next"
    assert again.status_code == 200
    assert [r.target for r in seen] == [b"/", b"/next", b"/again"]
    headers = [dict(r.headers) for r in seen]
    assert {h[b"host"] for h in headers} == {b"xn--fa-hia.de:%d" % port}
    # The cookie set for faß.de goes to its A-label spelling and back.
    assert [h.get(b"cookie") for h in headers] == [None, b"a=1", b"a=1"]
    # One name resolved, one connection: the pool key is the same for all.
    assert set(resolved) == {"xn--fa-hia.de"}
    assert server.accepted == 1


async def test_tls_verifies_the_certificate_for_the_encoded_host(
    raw_server, resolved, ca, client_ssl_context
):
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("xn--fa-hia.de").configure_cert(context)
    server = await raw_server(
        canned(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"), ssl_context=context
    )

    r = await asks.get(f"https://faß.de:{server.port}/", ssl_context=client_ssl_context)

    # SNI and the certificate check used the A-label (the certificate names
    # nothing else), and so did the resolver.
    assert r.text == "ok"
    assert resolved == ["xn--fa-hia.de"]
