"""Helpers that play the browser in the login flow and read responses."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from .conftest import PUBLIC_URL

ORIGIN = {"Origin": PUBLIC_URL}


def query_of(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query, keep_blank_values=True).items()}


def fragment_of(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).fragment, keep_blank_values=True).items()}


def start_login(client, **params):
    """``GET /api/auth/login``; return (response, authorization URL)."""
    response = client.get("/api/auth/login", query_string=params)
    assert response.status_code == 302, response.get_data(as_text=True)
    return response, response.headers["Location"]


def finish_login(client, code: str, state: str, **extra):
    return client.get("/api/auth/callback", query_string={"code": code, "state": state, **extra})


def login(client, provider, *, next: str | None = None, sign_with=None, kid=None, **claims):
    """Run the whole browser login; return the callback response."""
    params = {"next": next} if next is not None else {}
    _, url = start_login(client, **params)
    code = provider.authorize(url, sign_with=sign_with, kid=kid, **claims)
    return finish_login(client, code, query_of(url)["state"])


def access_token_of(callback_response) -> str:
    assert callback_response.status_code == 303
    return fragment_of(callback_response.headers["Location"])["access_token"]


def set_cookies(response) -> dict[str, dict]:
    """Parse every ``Set-Cookie`` of a response: ``{name: {"value", attr: value...}}``."""
    cookies = {}
    for header in response.headers.getlist("Set-Cookie"):
        first, *attributes = [part.strip() for part in header.split(";")]
        name, _, value = first.partition("=")
        parsed = {"value": value}
        for attribute in attributes:
            key, _, attr_value = attribute.partition("=")
            parsed[key.lower()] = attr_value if attr_value else True
        cookies[name] = parsed
    return cookies


def is_cleared(cookie: dict) -> bool:
    return cookie["value"] == "" and (cookie.get("max-age") == "0" or "1970" in str(cookie.get("expires", "")))


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}
