"""Unit tests for asks._headers: the case-insensitive, multi-value header mapping."""

from __future__ import annotations

import pytest
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from asks._headers import Headers, check_header_text

# -- construction -------------------------------------------------------------


def test_empty_headers_have_no_items():
    headers = Headers()

    assert len(headers) == 0
    assert headers.multi_items() == []


def test_none_builds_empty_headers():
    assert Headers(None).multi_items() == []


def test_built_from_a_mapping():
    headers = Headers({"Accept": "text/html", "X-Id": "7"})

    assert headers.multi_items() == [("Accept", "text/html"), ("X-Id", "7")]


def test_built_from_pairs_keeps_repeated_names():
    headers = Headers([("Accept", "a"), ("accept", "b")])

    assert headers.get_list("ACCEPT") == ["a", "b"]


def test_built_from_another_headers_keeps_every_value():
    original = Headers([("Via", "1"), ("Via", "2")])

    assert Headers(original).multi_items() == [("Via", "1"), ("Via", "2")]


def test_values_given_to_the_constructor_are_converted_to_str():
    headers = Headers({"Content-Length": 12})

    assert headers["content-length"] == "12"


def test_a_value_of_none_is_a_removal_not_a_header():
    h = Headers({"User-Agent": None, "X-A": "1"})
    assert "user-agent" not in h and list(h) == ["X-A"]
    assert h.removes("USER-AGENT") and h.declares("user-agent") and h.declares("x-a")
    assert not h.declares("accept")
    assert h.encoded() == ((b"X-A", b"1"),)


def test_a_removal_travels_with_copies_and_merges_and_a_value_takes_it_back():
    h = Headers([("Accept", None)])
    assert h.copy().removes("accept")
    merged = Headers({"Accept": "text/plain", "X-B": "2"})
    merged.extend(h)
    assert "accept" not in merged and merged.removes("accept")
    merged.add("Accept", "*/*")
    assert merged["accept"] == "*/*" and not merged.removes("accept")
    merged["X-B"] = None
    assert "x-b" not in merged and merged.removes("x-b")
    del merged["x-b"]
    assert not merged.declares("x-b")
    with pytest.raises(KeyError):
        del merged["x-b"]


def test_encoded_changes_with_a_removal():
    # The wire cache keys on the encoded tuple's identity: a removal must
    # give a new one, or a cached header block would still carry the default.
    h = Headers({"X-A": "1"})
    before = h.encoded()
    h["User-Agent"] = None
    assert h.encoded() is not before


def test_from_raw_decodes_names_and_values_as_latin1():
    headers = Headers.from_raw([(b"X-Name", b"caf\xe9")])

    assert headers.multi_items() == [("X-Name", "café")]


def test_from_raw_never_fails_on_any_byte():
    every_byte = bytes(range(256))

    headers = Headers.from_raw([(b"X-Bytes", every_byte)])

    assert headers["x-bytes"].encode("latin-1") == every_byte


def test_from_raw_groups_repeated_names_case_insensitively():
    headers = Headers.from_raw([(b"Set-Cookie", b"a=1"), (b"set-cookie", b"b=2")])

    assert headers.get_list("SET-COOKIE") == ["a=1", "b=2"]
    assert len(headers) == 1


# -- lookups ignore case, names keep theirs -----------------------------------


def test_lookup_ignores_case():
    headers = Headers({"Content-Type": "text/plain"})

    assert headers["content-type"] == "text/plain"
    assert headers["CONTENT-TYPE"] == "text/plain"


def test_contains_ignores_case():
    headers = Headers({"Content-Type": "text/plain"})

    assert "content-TYPE" in headers


def test_contains_is_false_for_non_strings():
    headers = Headers({"1": "one"})

    assert 1 not in headers


def test_missing_name_raises_key_error():
    with pytest.raises(KeyError):
        Headers()["X-Missing"]


def test_get_returns_default_for_missing_name():
    assert Headers().get("X-Missing", "fallback") == "fallback"


def test_iteration_yields_names_as_first_given_in_insertion_order():
    headers = Headers([("X-B", "1"), ("x-a", "2"), ("x-b", "3")])

    assert list(headers) == ["X-B", "x-a"]


def test_len_counts_distinct_names_not_values():
    headers = Headers([("Via", "1"), ("VIA", "2"), ("Host", "h")])

    assert len(headers) == 2


# -- repeated names -----------------------------------------------------------


def test_repeated_name_reads_as_values_joined_by_comma_space():
    headers = Headers([("Accept", "text/html"), ("Accept", "application/json")])

    assert headers["accept"] == "text/html, application/json"


def test_add_appends_without_replacing():
    headers = Headers({"Via": "1.1 a"})

    headers.add("via", "1.1 b")

    assert headers.get_list("Via") == ["1.1 a", "1.1 b"]


def test_add_to_a_new_name_creates_it():
    headers = Headers()

    headers.add("X-New", "v")

    assert headers.multi_items() == [("X-New", "v")]


def test_get_list_of_missing_name_is_empty():
    assert Headers().get_list("X-Missing") == []


def test_get_list_returns_a_copy():
    headers = Headers({"Via": "1"})

    headers.get_list("via").append("2")

    assert headers.get_list("via") == ["1"]


def test_multi_items_keeps_each_value_apart_in_order():
    headers = Headers([("A", "1"), ("B", "2"), ("a", "3")])

    assert headers.multi_items() == [("A", "1"), ("A", "3"), ("B", "2")]


def test_extend_keeps_values_already_present():
    headers = Headers({"Via": "1"})

    headers.extend([("via", "2")])

    assert headers.get_list("Via") == ["1", "2"]


def test_extend_with_none_changes_nothing():
    headers = Headers({"Via": "1"})

    headers.extend(None)

    assert headers.multi_items() == [("Via", "1")]


# -- setting and deleting -----------------------------------------------------


def test_setitem_replaces_every_value():
    headers = Headers([("Via", "1"), ("Via", "2")])

    headers["VIA"] = "3"

    assert headers.get_list("via") == ["3"]


def test_setitem_takes_the_new_spelling_of_the_name():
    headers = Headers({"x-token": "a"})

    headers["X-Token"] = "b"

    assert headers.multi_items() == [("X-Token", "b")]


def test_setitem_converts_the_value_to_str():
    headers = Headers()

    headers["Content-Length"] = 5  # type: ignore[assignment]

    assert headers.get_list("content-length") == ["5"]


def test_delitem_ignores_case_and_removes_every_value():
    headers = Headers([("Via", "1"), ("via", "2")])

    del headers["VIA"]

    assert "via" not in headers
    assert headers.multi_items() == []


def test_delitem_of_missing_name_raises_key_error():
    with pytest.raises(KeyError):
        del Headers()["X-Missing"]


def test_pop_removes_and_returns_joined_value():
    headers = Headers([("Via", "1"), ("Via", "2")])

    assert headers.pop("via") == "1, 2"
    assert "Via" not in headers


# -- copy ---------------------------------------------------------------------


def test_copy_is_equal():
    headers = Headers([("A", "1"), ("a", "2")])

    assert headers.copy() == headers


def test_copy_is_independent_of_the_original():
    original = Headers({"Via": "1"})
    copy = original.copy()

    copy.add("via", "2")
    copy["X-New"] = "n"

    assert original.multi_items() == [("Via", "1")]


def test_original_changes_do_not_reach_the_copy():
    original = Headers({"Via": "1"})
    copy = original.copy()

    original.add("via", "2")

    assert copy.get_list("via") == ["1"]


def test_copy_module_copies_are_independent_too():
    # asks 2's session headers were a dict, and code copies them with
    # copy.copy before adding a header for one call; the copy shared its
    # values with the session's, so the header went on every later request.
    import copy

    original = Headers({"Via": "1"})
    copied = copy.copy(original)

    copied["Authorization"] = "Bearer once"
    copied.add("via", "2")

    assert original.multi_items() == [("Via", "1")]
    assert copy.deepcopy(original) == original


def test_a_copy_of_response_headers_keeps_set_cookie_a_list():
    # r.headers.copy() (or copy.copy) gave plain Headers, which join a
    # repeated Set-Cookie with commas (ambiguous: cookie dates hold commas)
    # where the response's own headers give the list asks always gave.
    import copy

    from asks._headers import ResponseHeaders

    raw = [(b"Set-Cookie", b"a=1; Expires=Wed, 21 Oct 2037 07:28:00 GMT"), (b"Set-Cookie", b"b=2")]
    lazy = ResponseHeaders.from_raw(raw)
    built = ResponseHeaders.from_raw(raw)
    built.multi_items()  # the mapping made, as after any lookup of more than one value
    for headers in (lazy, built):
        for copied in (headers.copy(), copy.copy(headers)):
            assert copied["set-cookie"] == ["a=1; Expires=Wed, 21 Oct 2037 07:28:00 GMT", "b=2"]
            copied["X-New"] = "1"
            assert "x-new" not in headers


# -- equality -----------------------------------------------------------------


def test_equality_ignores_name_case():
    assert Headers({"Content-Type": "a"}) == Headers({"content-type": "a"})


def test_equality_ignores_order_of_names():
    assert Headers([("A", "1"), ("B", "2")]) == Headers([("B", "2"), ("A", "1")])


def test_equality_compares_values_case_sensitively():
    assert Headers({"A": "x"}) != Headers({"A": "X"})


def test_equality_with_a_plain_dict_ignores_name_case():
    assert Headers({"Content-Type": "a"}) == {"CONTENT-TYPE": "a"}


def test_repeated_values_equal_a_dict_of_the_joined_value():
    assert Headers([("Via", "1"), ("Via", "2")]) == {"via": "1, 2"}


def test_headers_with_different_names_are_unequal():
    assert Headers({"A": "1"}) != Headers({"B": "1"})


def test_not_equal_to_a_non_mapping():
    assert Headers() != [("A", "1")]
    assert Headers() != 0


def test_headers_are_unhashable():
    with pytest.raises(TypeError):
        hash(Headers())


def test_repr_shows_every_pair():
    assert repr(Headers([("A", "1"), ("a", "2")])) == "Headers([('A', '1'), ('A', '2')])"


# -- check_header_text --------------------------------------------------------


@pytest.mark.parametrize("bad", ["a\rb", "a\nb", "a\0b", "value\r\nX-Injected: yes"])
def test_check_header_text_refuses_cr_lf_nul(bad):
    with pytest.raises(ValueError, match="CR, LF or NUL"):
        check_header_text("header value", bad)


def test_check_header_text_names_what_was_checked():
    with pytest.raises(ValueError, match=r"^X-Thing must not"):
        check_header_text("X-Thing", "\n")


@pytest.mark.parametrize("good", ["", "text/html; charset=utf-8", "tab\tis fine", "café"])
def test_check_header_text_accepts_ordinary_text(good):
    assert check_header_text("header value", good) is None


# -- property: Headers behaves like a case-insensitive multi-dict model -------

_names = st.sampled_from(["Accept", "accept", "ACCEPT", "Via", "via", "X-Id", "x-ID", "Host"])
_values = st.text(alphabet="abc ,;=", max_size=5)


class HeadersModel(RuleBasedStateMachine):
    """Compare Headers with a dict of lower-case name -> (first spelling, values)."""

    def __init__(self) -> None:
        super().__init__()
        self.headers = Headers()
        self.model: dict[str, tuple[str, list[str]]] = {}

    @rule(name=_names, value=_values)
    def add(self, name, value):
        self.headers.add(name, value)
        if name.lower() in self.model:
            self.model[name.lower()][1].append(value)
        else:
            self.model[name.lower()] = (name, [value])

    @rule(name=_names, value=_values)
    def set(self, name, value):
        self.headers[name] = value
        self.model[name.lower()] = (name, [value])

    @precondition(lambda self: self.model)
    @rule(data=st.data())
    def delete(self, data):
        key = data.draw(st.sampled_from(sorted(self.model)))
        spelling = data.draw(st.sampled_from([key, key.upper(), key.title()]))
        del self.headers[spelling]
        del self.model[key]

    @rule(name=_names)
    def delete_missing_raises(self, name):
        if name.lower() not in self.model:
            with pytest.raises(KeyError):
                del self.headers[name]

    @rule()
    def copy(self):
        copied = self.headers.copy()
        assert copied == self.headers
        self.headers = copied

    @invariant()
    def lookups_match_the_model(self):
        for name in ["accept", "Via", "X-ID", "host", "absent"]:
            entry = self.model.get(name.lower())
            assert (name in self.headers) == (entry is not None)
            assert self.headers.get_list(name) == (list(entry[1]) if entry else [])
            assert self.headers.get(name) == (", ".join(entry[1]) if entry else None)

    @invariant()
    def iteration_matches_the_model(self):
        assert len(self.headers) == len(self.model)
        assert list(self.headers) == [spelling for spelling, _ in self.model.values()]
        assert self.headers.multi_items() == [
            (spelling, v) for spelling, values in self.model.values() for v in values
        ]


TestHeadersModel = HeadersModel.TestCase
