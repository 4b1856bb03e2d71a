"""The JSON GET both pollers use (JWK Set, revocation feed)."""

from __future__ import annotations

import pytest
import requests

from authgw_kit import JWKSClient, RevocationList
from authgw_kit._http import JSONResource


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
