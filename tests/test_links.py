"""``response.links``: the ``Link`` header (RFC 8288) read by relation.

The parser is fed whole field values and the same values split over several
field lines (RFC 9110 section 5.3 makes them one list); end to end, httpbin
sends the header as asked and a raw server sends it over HTTP/1.1 framing.
"""

from __future__ import annotations

import pytest

import asks
from asks._links import parse_links

from .servers import canned

GITHUB_STYLE = (
    '<https://api.example.org/items?page=3>; rel="next", '
    '<https://api.example.org/items?page=50>; rel="last"'
)


def test_pagination_links_are_keyed_by_relation() -> None:
    links = parse_links([GITHUB_STYLE], "https://api.example.org/items?page=2")
    assert links == {
        "next": {"url": "https://api.example.org/items?page=3", "rel": "next"},
        "last": {"url": "https://api.example.org/items?page=50", "rel": "last"},
    }


def test_several_field_lines_are_one_list() -> None:
    one, two = GITHUB_STYLE.split(", ")
    assert parse_links([one, two], "https://x/") == parse_links([GITHUB_STYLE], "https://x/")


def test_a_relative_target_is_resolved_against_the_response_url() -> None:
    links = parse_links(["</items?page=3>; rel=next", "<prev>; rel=prev"], "http://h/a/b?page=2")
    assert links["next"]["url"] == "http://h/items?page=3"
    assert links["prev"]["url"] == "http://h/a/prev"


def test_a_rel_of_several_types_gives_an_entry_for_each() -> None:
    links = parse_links(['<https://x/1>; rel="first prev"'], "https://x/")
    assert links["first"] == {"url": "https://x/1", "rel": "first"}
    assert links["prev"] == {"url": "https://x/1", "rel": "prev"}


def test_registered_relations_compare_without_case_extension_ones_exactly() -> None:
    links = parse_links(
        ["<a>; rel=NEXT", '<b>; rel="https://example.org/rel/Custom"'], "https://x/"
    )
    assert set(links) == {"next", "https://example.org/rel/Custom"}


def test_the_first_link_of_a_relation_and_the_first_of_a_parameter_win() -> None:
    links = parse_links(
        ["<a>; rel=next; rel=prev; title=one; title=two, <b>; rel=next"], "https://x/"
    )
    assert links == {"next": {"url": "https://x/a", "rel": "next", "title": "one"}}


def test_quoted_values_keep_commas_semicolons_and_escapes() -> None:
    value = r'</a,b>; rel="next"; title="one, two; \"three\"", <c>; rel=prev'
    links = parse_links([value], "https://x/")
    assert links["next"] == {"url": "https://x/a,b", "rel": "next", "title": 'one, two; "three"'}
    assert links["prev"]["url"] == "https://x/c"


def test_an_extended_parameter_is_decoded_and_replaces_the_plain_one() -> None:
    value = "<a>; rel=next; title=plain; title*=UTF-8'de'n%c3%a4chste%20Seite"
    assert parse_links([value], "https://x/")["next"]["title"] == "nächste Seite"


def test_an_extended_parameter_that_cannot_be_decoded_is_left_out() -> None:
    value = "<a>; rel=next; title=plain; title*=no-such-charset''x, <b>; rel=prev; title*=%ff"
    links = parse_links([value], "https://x/")
    assert links["next"]["title"] == "plain"
    assert "title" not in links["prev"]


def test_a_link_without_rel_is_keyed_by_its_url() -> None:
    assert parse_links(['<https://x/about>; type="text/html"'], "https://x/") == {
        "https://x/about": {"url": "https://x/about", "type": "text/html"}
    }


@pytest.mark.parametrize(
    "value",
    [
        "",
        ",,, ,",
        "garbage",
        "<unterminated; rel=next",
        "; rel=next",
        '<a>; rel="unterminated',
        "<a>; =; ;; rel",
    ],
)
def test_what_cannot_be_read_is_skipped_never_an_error(value: str) -> None:
    links = parse_links([value, "<https://x/ok>; rel=ok"], "https://x/")
    assert links["ok"] == {"url": "https://x/ok", "rel": "ok"}
    assert "next" not in links


def test_a_broken_link_does_not_hide_the_next_one_on_its_line() -> None:
    links = parse_links(["junk; rel=prev, <https://x/2>; rel=next"], "https://x/")
    assert links == {"next": {"url": "https://x/2", "rel": "next"}}


async def test_links_of_a_response_from_httpbin(httpbin) -> None:
    async with asks.Session(httpbin.url) as s:
        r = await s.get(path="/response-headers", params={"Link": '</page/2>; rel="next"'})
        assert r.links == {"next": {"url": f"{httpbin.url}/page/2", "rel": "next"}}
        plain = await s.get(path="/get")
        assert plain.links == {}


async def test_links_of_a_streamed_response_over_several_lines(raw_server) -> None:
    response = (
        b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n"
        b"Link: </2>; rel=next\r\nLink: </9>; rel=last\r\n\r\n"
    )
    server = await raw_server(canned(response))
    port = server.port
    async with asks.Session() as s:
        r = await s.get(f"http://127.0.0.1:{port}/1", stream=True)
        async with r.body:
            pass
        assert r.links == {
            "next": {"url": f"http://127.0.0.1:{port}/2", "rel": "next"},
            "last": {"url": f"http://127.0.0.1:{port}/9", "rel": "last"},
        }
