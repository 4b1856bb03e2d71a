"""The JSON GET both pollers use (JWK Set, revocation feed)."""

from __future__ import annotations

import pytest
import requests

from authgw_kit import JWKSClient, RevocationList
from authgw_kit._http import JSONResource
from authgw_kit.settings import url_list


class CountingSession(requests.Session):
    def __init__(self):
        super().__init__()
        self.calls = []

    def get(self, url, **kwargs):
        self.calls.append((url, kwargs))
        return super().get(url, **kwargs)


def test_document_and_headers_are_returned(http_server):
    http_server.serve("/doc", {"a": 1}, headers={"Cache-Control": "max-age=7"})
    session = CountingSession()
    document, headers = JSONResource(http_server.url("/doc"), 1.5, session).get()
    assert document == {"a": 1} and headers["cache-control"] == "max-age=7"
    assert session.calls == [(http_server.url("/doc"), {"timeout": 1.5, "headers": {"Accept": "application/json"}})]


def test_error_status_and_non_json_are_errors(http_server):
    with pytest.raises(requests.HTTPError):
        JSONResource(http_server.url("/absent"), 1).get()
    http_server.serve("/text", b"not json")
    with pytest.raises(ValueError):
        JSONResource(http_server.url("/text"), 1).get()


def test_keep_alive_holds_one_session_until_forgotten(http_server):
    http_server.serve("/doc", [])
    resource = JSONResource(http_server.url("/doc"), 1, keep_alive=True)
    resource.get()
    first = resource._own
    resource.get()
    assert first is not None and resource._own is first
    resource.forget_connections()
    assert resource._own is None
    resource.get()
    assert resource._own is not None and resource._own is not first
    plain = JSONResource(http_server.url("/doc"), 1)
    plain.get()
    assert plain._own is None  # one connection per fetch


def test_the_pollers_use_it_and_the_feed_forgets_its_connection_after_a_fork(http_server):
    http_server.serve("/rev", {"sessions": {}})
    http_server.serve("/jwks", {"keys": []})
    client = JWKSClient(http_server.url("/jwks"), http_timeout=1.5)
    assert client.url == http_server.url("/jwks") and client.fetch_data() == ({"keys": []}, None)
    assert client.resource.keep_alive is False and client.resource.timeout == 1.5
    feed = RevocationList(http_server.url("/rev"), http_timeout=0.5, background=False)
    assert feed.refresh_now() and feed.resource._own is not None
    feed._reset_after_fork()  # what os.register_at_fork runs in the child
    assert feed.resource._own is None
    assert RevocationList(fetch=dict, background=False).resource is None


# --- several backend replicas (docs/kit.md "Several backends") -------------------------

def dead_url(path: str) -> str:
    """A URL on 127.0.0.1 where nothing listens (connection refused)."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}{path}"


def test_url_lists_are_split_on_commas_and_white_space():


    assert url_list("http://a/x") == ("http://a/x",)
    assert url_list(" http://a/x, http://b/x\thttp://c/x ,") == ("http://a/x", "http://b/x", "http://c/x")
    assert url_list(["http://a/x", " ", "http://b/x"]) == ("http://a/x", "http://b/x")
    with pytest.raises(ValueError):
        JSONResource(" , ", 1)


def test_a_dead_replica_is_skipped_and_the_next_fetch_starts_at_the_one_that_answered(http_server):
    http_server.serve("/b/doc", {"replica": "b"})
    dead, good = dead_url("/a/doc"), http_server.url("/b/doc")
    session = CountingSession()
    resource = JSONResource(f"{dead}, {good}", 1, session)
    assert resource.url == dead
    assert resource.get()[0] == {"replica": "b"}
    assert resource.url == good and [url for url, _ in session.calls] == [dead, good]
    session.calls.clear()
    resource.get()
    assert [url for url, _ in session.calls] == [good]  # the dead one is not asked first again


def test_error_statuses_and_bad_bodies_fall_over_too_and_wrap_around(http_server):
    first, second = http_server.url("/a/doc"), http_server.url("/b/doc")
    http_server.serve("/a/doc", {"replica": "a"})
    http_server.serve("/b/doc", {"replica": "b"})
    resource = JSONResource([first, second], 1)
    assert resource.get()[0] == {"replica": "a"}
    http_server.serve("/a/doc", {"error": "service_unavailable"}, status=503)
    assert resource.get()[0] == {"replica": "b"} and resource.url == second
    http_server.serve("/b/doc", b"<html>not json")
    http_server.serve("/a/doc", {"replica": "a"})
    assert resource.get()[0] == {"replica": "a"} and resource.url == first  # wrapped around


def test_the_fetch_fails_only_when_every_replica_fails(http_server):
    http_server.serve("/b/doc", {"error": "service_unavailable"}, status=503)
    resource = JSONResource([dead_url("/a/doc"), http_server.url("/b/doc")], 1)
    with pytest.raises(requests.HTTPError):  # the last replica's error
        resource.get()
    assert http_server.hits["/b/doc"] == 1


def test_the_pollers_and_the_environment_take_several_urls(http_server):
    from authgw_kit import TokenVerifier

    http_server.serve("/b/rev", {"sessions": {"s1": 1}})
    feed = RevocationList([dead_url("/a/rev"), http_server.url("/b/rev")], http_timeout=0.5, background=False)
    assert feed.refresh_now() and feed.snapshot.sessions == {"s1": 1}
    jwks = [dead_url("/a/jwks"), http_server.url("/b/jwks")]
    http_server.serve("/b/jwks", {"keys": []})
    assert JWKSClient(jwks).fetch_data() == ({"keys": []}, None)
    environ = {"AUTHGW_ISSUER": "https://issuer", "AUTHGW_JWKS_URL": " , ".join(jwks),
               "AUTHGW_REVOCATIONS_URL": "http://127.0.0.1:8000/api/internal/revocations"}
    verifier = TokenVerifier.from_env(environ)
    assert verifier.keys.resource.urls == tuple(jwks)
    assert verifier.revocations.resource.urls == ("http://127.0.0.1:8000/api/internal/revocations",)
    with pytest.raises(ValueError, match="AUTHGW_JWKS_URL must be an http"):
        TokenVerifier.from_env({**environ, "AUTHGW_JWKS_URL": f"{jwks[0]}, ftp://elsewhere/jwks"})


def test_an_empty_url_list_in_the_environment_is_reported_with_its_name():
    from authgw_kit import TokenVerifier

    environ = {"AUTHGW_ISSUER": "https://issuer", "AUTHGW_JWKS_URL": " , ",
               "AUTHGW_REVOCATIONS_URL": ","}
    with pytest.raises(ValueError) as raised:
        TokenVerifier.from_env(environ)
    assert "AUTHGW_JWKS_URL must be an http" in str(raised.value)
    assert "AUTHGW_REVOCATIONS_URL must be an http" in str(raised.value)


def test_a_fall_over_is_logged_once_with_both_urls_and_a_deeply_nested_body_falls_over_too(http_server, caplog):
    http_server.serve("/a/doc", b"[" * 100000)
    http_server.serve("/b/doc", {"replica": "b"})
    first, second = http_server.url("/a/doc"), http_server.url("/b/doc")
    resource = JSONResource([first, second], 1)
    with caplog.at_level("WARNING", logger="authgw_kit"):
        assert resource.get()[0] == {"replica": "b"}
        assert resource.get()[0] == {"replica": "b"}
    lines = [r.getMessage() for r in caplog.records if "trying" in r.getMessage()]
    assert lines == [f"fetch from {first} failed (RecursionError); trying {second}"]
