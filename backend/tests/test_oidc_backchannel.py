"""The OpenID client (``authgw.oidc``) through Authlib's public API only.

Pins what ``oidc.py`` relies on, so an Authlib upgrade that changes it fails
here: discovery fetched by us and handed to ``register`` as metadata, the
back-channel origin for server-to-server calls (compose's dev IdP), one
registry per application.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import requests

from authgw.config import DEV_IDP_CLIENT_ID, DEV_IDP_CLIENT_SECRET

from .fakes import FakeProvider, install_fake_http
from .flows import access_token_of, login, query_of, start_login


def test_dev_idp_back_channel_reaches_the_provider_on_its_internal_origin(make_app, monkeypatch):
    """The browser goes to the public origin; discovery, token and JWKS calls to the internal one."""
    internal = FakeProvider(client_id=DEV_IDP_CLIENT_ID, client_secret=DEV_IDP_CLIENT_SECRET,
                            issuer="https://dev-idp.internal.test")
    install_fake_http(monkeypatch, internal)  # any other host, the public one included, is unreachable
    seen = []
    send = requests.adapters.HTTPAdapter.send

    def recording_send(adapter, request, **kwargs):
        seen.append(urlsplit(request.url).netloc)
        return send(adapter, request, **kwargs)

    monkeypatch.setattr(requests.adapters.HTTPAdapter, "send", recording_send)
    app = make_app(GOOGLE_CLIENT_ID=None, GOOGLE_CLIENT_SECRET=None, DEV_IDP_URL="http://localhost:9000",
                   DEV_IDP_INTERNAL_URL=internal.issuer)
    client = app.test_client()
    _, url = start_login(client)
    assert query_of(url)["client_id"] == DEV_IDP_CLIENT_ID
    response = login(client, internal)
    assert access_token_of(response)
    assert seen and set(seen) == {"dev-idp.internal.test"}


def test_discovery_failure_is_retried_at_the_next_login(client, provider):
    provider.discovery_unreachable = True
    assert client.get("/api/auth/login").headers["Location"].endswith("/login?error=provider_error")
    provider.discovery_unreachable = False
    assert access_token_of(login(client, provider))
