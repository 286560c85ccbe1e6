"""The host partition of a bulk fetch: stable, by host, and strict about K/N."""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys

import pytest
from hypothesis import given
from hypothesis import strategies as st

from asks._partition import host_key, parse_shard, shard_of
from asks._urls import parse_url


def test_every_url_of_a_host_lands_in_the_same_shard_whatever_the_port_path_or_case() -> None:
    urls = [
        "http://Example.COM/a",
        "https://example.com:8443/b?q=1",
        "http://example.com./c",
        "http://user@example.com/d",
    ]
    assert {host_key(u) for u in urls} == {"example.com"}
    for count in (2, 3, 7, 64):
        assert len({shard_of(u, count) for u in urls}) == 1


def test_an_idn_host_and_its_punycode_form_are_one_host() -> None:
    # The session knows both as xn--bcher-kva.example (one pool, one rate
    # limit, one robots.txt), so they must go to one worker and one shard.
    urls = [
        "http://bücher.example/a",
        "http://xn--bcher-kva.example/b",
        "https://BÜCHER.example:443/c",
        "http://user@bücher.example./d",
    ]
    assert {host_key(u) for u in urls} == {"xn--bcher-kva.example"}
    assert {parse_url(u).host.rstrip(".") for u in urls} == {"xn--bcher-kva.example"}
    for count in (2, 3, 7, 64):
        assert len({shard_of(u, count) for u in urls}) == 1


def test_an_address_in_any_spelling_is_one_host() -> None:
    # asks._urls sends 127.1, 2130706433 and 0x7f.0.0.1 to 127.0.0.1, and
    # [0:0::1] to [::1] (one pool, one rate limit): one worker, one shard.
    v4 = [
        "http://127.0.0.1/a",
        "http://127.1/b",
        "http://2130706433:8080/c",
        "http://0x7f.0.0.1/d",
    ]
    v6 = ["http://[::1]/a", "http://[0:0::1]:8080/b", "http://[0:0:0:0:0:0:0:1]/c"]
    assert {host_key(u) for u in v4} == {"127.0.0.1"}
    assert {host_key(u) for u in v6} == {"::1"}
    for count in (2, 3, 7, 64):
        assert len({shard_of(u, count) for u in v4}) == 1
        assert len({shard_of(u, count) for u in v6}) == 1


def test_shards_are_the_same_in_another_process_with_another_hash_seed() -> None:
    urls = [f"http://host{i}.test/x" for i in range(200)]
    here = [shard_of(u, 5) for u in urls]
    code = (
        "import sys, json; from asks._partition import shard_of; "
        "print(json.dumps([shard_of(u, 5) for u in json.load(sys.stdin)]))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        input=json.dumps(urls),
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONHASHSEED": "12345", "PATH": ""},
    )
    assert json.loads(out.stdout) == here


def test_hosts_spread_over_every_shard() -> None:
    counts = [0] * 4
    for i in range(4000):
        counts[shard_of(f"http://10.0.{i // 250}.{i % 250}/", 4)] += 1
    assert min(counts) > 800, counts


def test_a_line_that_is_not_a_url_still_has_exactly_one_shard() -> None:
    assert host_key("  not a url  ") == "not a url"
    assert host_key("http://[::1") == "http://[::1"
    assert shard_of("http://[::1", 3) in (0, 1, 2)
    assert shard_of("anything", 1) == 0


@pytest.mark.parametrize(("text", "expected"), [("1/1", (0, 1)), ("3/8", (2, 8)), ("8/8", (7, 8))])
def test_shard_k_of_n_counts_from_one(text: str, expected: tuple[int, int]) -> None:
    assert parse_shard(text) == expected


@pytest.mark.parametrize("text", ["0/2", "3/2", "1/0", "2", "a/b", "1/2/3", "-1/2", ""])
def test_a_shard_outside_one_to_n_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="K/N"):
        parse_shard(text)


def test_a_shard_count_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        shard_of("http://a/", 0)


def _general_host_key(url: str) -> str:
    """host_key's definition, through urlsplit alone (its fast path must agree)."""
    from urllib.parse import urlsplit

    try:
        host = urlsplit(url.strip()).hostname
    except ValueError:
        host = None
    if host and (not host.isascii() or ":" in host or host[-1:].isdigit()):
        with contextlib.suppress(ValueError):
            host = parse_url(url.strip()).host
    return host.rstrip(".") if host else url.strip()


_URLISH = st.builds(
    lambda scheme, host, port, rest: f"{scheme}://{host}{port}{rest}",
    st.sampled_from(["http", "HTTPS", "a+b", "x-y.z", "1http", ""]),
    st.text(alphabet="abcXYZ09.-_@[]:% \t", max_size=12),
    st.sampled_from(["", ":", ":80", ":8x", ":99999"]),
    st.text(alphabet="/?#a:@ ", max_size=6),
)


@given(st.one_of(_URLISH, st.text(max_size=30)))
def test_the_fast_host_key_agrees_with_urlsplit(url: str) -> None:
    assert host_key(url) == _general_host_key(url)
