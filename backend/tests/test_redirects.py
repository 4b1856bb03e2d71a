"""``next``: a signed-in user is only ever sent to a path on this origin."""

from __future__ import annotations

import pytest

from authgw.redirects import safe_next_path

from .flows import finish_login, fragment_of, query_of, start_login

OPEN_REDIRECTS = [
    "//evil.example",
    "//evil.example/path",
    "///evil.example",
    "/\\evil.example",
    "\\\\evil.example",
    "/\\/evil.example",
    "https://evil.example",
    "http:/evil.example",
    "HTTPS://evil.example/",
    "%2F%2Fevil.example",
    "/%2F/evil.example",
    "/%2f%2fevil.example",
    "/%5Cevil.example",
    "/%5cevil.example",
    "%5C%5Cevil.example",
    "/%252F%252Fevil.example",
    "/\t/evil.example",
    "/%09/evil.example",
    "/\n/evil.example",
    "/%0A/evil.example",
    "/\r\n/evil.example",
    "/%0d%0aSet-Cookie:x=1",
    "/\x00/evil.example",
    "/%00",
    "/ /evil.example",
    "javascript:alert(1)",
    "JaVaScRiPt:alert(1)",
    "data:text/html,<script>alert(1)</script>",
    "evil",
    "evil.example/path",
    "./path",
    "?next=//evil",
    "#frag",
    "",
    "/" + "a" * 5000,
]


@pytest.mark.parametrize("candidate", OPEN_REDIRECTS)
def test_unsafe_next_is_replaced_by_root(candidate):
    assert safe_next_path(candidate) == "/"


@pytest.mark.parametrize("candidate", [None, 42, b"/bytes"])
def test_non_string_next_is_replaced_by_root(candidate):
    assert safe_next_path(candidate) == "/"


@pytest.mark.parametrize("candidate", ["/", "/dashboard", "/users/42/edit", "/search?q=a%20b&page=2",
                                       "/docs#section-2", "/a/b/../c", "/caf%C3%A9", "/path:with:colons"])
def test_local_path_is_kept(candidate):
    assert safe_next_path(candidate) == candidate


def login_next(client, provider, next_value):
    _, url = start_login(client, next=next_value)
    code = provider.authorize(url)
    response = finish_login(client, code, query_of(url)["state"])
    assert response.status_code == 303
    return fragment_of(response.headers["Location"])["next"]


@pytest.mark.parametrize("candidate", ["//evil.example", "/\\evil.example", "https://evil.example",
                                       "%2F%2Fevil.example", "/%5Cevil.example", "/\t/evil.example",
                                       "/%00x", "javascript:alert(1)", "evil", "/" + "a" * 5000])
def test_unsafe_next_given_at_login_comes_back_as_root(client, provider, candidate):
    assert login_next(client, provider, candidate) == "/"


def test_local_next_given_at_login_comes_back_after_the_callback(client, provider):
    assert login_next(client, provider, "/reports?year=2024#top") == "/reports?year=2024#top"


def test_login_without_next_comes_back_to_root(client, provider):
    _, url = start_login(client)
    code = provider.authorize(url)
    response = finish_login(client, code, query_of(url)["state"])
    assert fragment_of(response.headers["Location"])["next"] == "/"
