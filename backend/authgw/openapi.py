"""The OpenAPI 3.1 document of the API, generated from the running code.

``build_document(app)`` walks the application's URL map (apispec and its
Flask plugin turn each rule into an OpenAPI path such as
``/api/admin/users/{user_id}``), takes each operation's description from
``OPERATIONS`` (keyed by the Flask endpoint name, e.g. ``"api.me"``) and
its request and response schemas from pydantic models (``schemas.py`` and
the answer shapes below). The notes service's operations come from its own
code too: ``notes.openapi.spec_fragment()`` writes ``specs/notes.json``
(``python -m notes.openapi``), which is merged in; a unit test fails when
that file and the notes code disagree. Every path is written in full,
relative to the gateway's origin (``servers: [{"url": "/"}]``).

A route of the backend without an ``OPERATIONS`` entry fails
``tests/test_openapi.py``; docs/operations.md "API documentation" says how
to add one. Specification: OpenAPI 3.1.0; bearer tokens RFC 6750;
protected resource metadata RFC 9728.
"""

from __future__ import annotations

import copy
import json
import logging
import re
import weakref
from pathlib import Path
from typing import Any, Iterable, Literal

from apispec import APISpec
from apispec_webframeworks.flask import FlaskPlugin
from flask import Flask
from pydantic import BaseModel, ConfigDict, Field

from . import schemas

#: Version of the API described (bump on a breaking change).
API_VERSION = "2.0.0"
#: Name of the bearer security scheme in ``components.securitySchemes``.
BEARER = "bearerAuth"
#: Fragments of other services behind the gateway, merged into the document.
SERVICE_FRAGMENTS_DIR = Path(__file__).with_name("specs")
#: Endpoints that are never reachable through the gateway (it answers 404
#: for ``/api/internal/*``, docs/gateway.md) or are not API operations.
UNDOCUMENTED_ENDPOINTS = frozenset({"internal.revocations", "static"})
#: Paths the gateway rate-limits per client address (``limit_req``,
#: docs/gateway.md): their operations may answer its 429.
GATEWAY_RATE_LIMITED_PREFIX = "/api/auth/"


# -- answer shapes that are not in schemas.py ------------------------------------


class _Out(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Error(_Out):
    """Every error answer (docs/interface.md "Errors"; RFC 6749 §5.2, RFC 6750 §3.1)."""

    error: str = Field(description="short snake_case code, e.g. `invalid_token`, `not_found`",
                       examples=["invalid_token"])
    error_description: str = Field(description="human-readable explanation (never holds a token)",
                                   examples=["The access token has expired."])


class Me(_Out):
    """``GET /api/me``."""

    id: str = Field(examples=["1"])
    email: str | None = Field(examples=["ada@example.com"])
    name: str = Field(examples=["Ada Lovelace"])
    picture: str | None
    roles: list[str] = Field(examples=[["user"]])
    permissions: list[str] = Field(examples=[["notes:read", "notes:write"]])


class Whoami(_Out):
    """``GET /api/whoami``."""

    subject: str
    session_id: str
    gateway_headers: dict[str, str] = Field(description="the X-Auth-* headers as the gateway passed them")


class PublicPong(_Out):
    pong: bool


class Pong(_Out):
    pong: bool
    sub: str


class Health(_Out):
    status: str = Field(examples=["ok"])


class FeedStatus(_Out):
    status: str = Field(description="`ok` or `stale` (older than the trust window)")
    age_seconds: float | None = Field(description="seconds since the last successful read; null: never")
    trust_window: int = Field(description="seconds")


class Ready(_Out):
    """``GET /api/health/ready``: each dependency; 503 (database unreachable) adds the error fields."""

    status: str = Field(description="`ok` or `unavailable`")
    database: str = Field(description="`ok` or `unreachable`")
    redis: str = Field(description="`ok`, `unreachable` (rate limits fall back to per-process counters) or `not_used`")
    revocation_feed: FeedStatus
    error: str | None = None
    error_description: str | None = None


class PublicInfo(_Out):
    name: str
    issuer: str
    audience: str
    jwks_uri: str
    algorithms: list[str]
    access_token_ttl: int = Field(description="seconds")
    provider: str = Field(description="`dev-idp` or `openid`")
    provider_discovery_url: str | None
    password_login: bool = Field(description="whether local accounts may sign in with a password")


class JWKSet(BaseModel):
    """RFC 7517 §5 JWK Set."""

    keys: list[dict[str, Any]]


class AuthorizationURL(_Out):
    authorization_url: str


class RefreshRequest(BaseModel):
    """Non-browser clients send the refresh token in the body (the browser uses the cookie)."""

    refresh_token: str = Field(min_length=1, max_length=256)


class TokenResponse(_Out):
    """RFC 6749 §5.1 access token answer."""

    access_token: str = Field(description="JWS access token (RFC 9068), `typ: at+jwt`")
    token_type: str = Field(examples=["Bearer"])
    expires_in: int = Field(description="seconds", examples=[900])
    refresh_token: str | None = Field(default=None, description="present when the refresh token came in the body")


class SessionOut(_Out):
    id: str
    created_at: str | None = Field(description="RFC 3339")
    last_used_at: str | None = Field(description="RFC 3339")
    user_agent: str | None
    ip: str | None
    current: bool


class Sessions(_Out):
    sessions: list[SessionOut]


class AdminSessionOut(_Out):
    id: str
    created_at: str | None
    last_used_at: str | None
    user_agent: str | None
    ip: str | None


class UserDetail(schemas.UserSummary):
    sessions: list[AdminSessionOut]


class UsersPage(_Out):
    users: list[schemas.UserSummary]
    page: int
    per_page: int
    total: int


class AllowedEmailOut(_Out):
    email: str
    created_at: str | None


class AllowedEmails(_Out):
    allowed_emails: list[AllowedEmailOut]


class PermissionOut(_Out):
    name: str
    description: str | None


class RolesList(_Out):
    roles: list[schemas.RoleSummary]
    permissions: list[PermissionOut]


class AuditPage(_Out):
    events: list[schemas.AuditEventOut]
    page: int
    per_page: int
    total: int


class AuthorizationServerMetadata(BaseModel):
    """RFC 8414 §2 authorization server metadata."""

    issuer: str
    token_endpoint: str
    jwks_uri: str
    grant_types_supported: list[str]
    token_endpoint_auth_methods_supported: list[str]
    response_types_supported: list[str]
    service_documentation: str | None = None


class ClientCredentialsRequest(BaseModel):
    """RFC 6749 §4.4.2 token request (form-encoded); the client authenticates
    with HTTP Basic or with ``client_id`` + ``client_secret`` here (§2.3.1)."""

    grant_type: Literal["client_credentials"] = Field(
        description="the only grant of this endpoint; any other is `400 unsupported_grant_type`")
    client_id: str | None = None
    client_secret: str | None = None


class ClientTokenResponse(_Out):
    """RFC 6749 §4.4.3: no refresh token."""

    access_token: str
    token_type: str = Field(examples=["Bearer"])
    expires_in: int = Field(description="seconds")


class ServiceAccounts(_Out):
    service_accounts: list[schemas.ServiceAccountSummary]


class ProtectedResourceMetadata(BaseModel):
    """RFC 9728 §2 protected resource metadata."""

    resource: str
    authorization_servers: list[str]
    bearer_methods_supported: list[str]
    jwks_uri: str | None = None
    resource_documentation: str | None = None
    resource_name: str | None = None


# -- building blocks ---------------------------------------------------------------

#: Error answers shared by many operations, in ``components.responses``.
ERROR_RESPONSES: dict[int, tuple[str, str, dict[str, str]]] = {
    400: ("BadRequest", "The request is malformed (`invalid_request`).", {}),
    401: ("Unauthorized", "No valid access token (`invalid_token`, RFC 6750 §3.1).", {"WWW-Authenticate": "Bearer challenge"}),
    403: ("Forbidden", "The token lacks the needed permission (`insufficient_scope`).", {"WWW-Authenticate": "Bearer challenge"}),
    404: ("NotFound", "No such resource (`not_found`).", {}),
    405: ("MethodNotAllowed", "Method not allowed (`method_not_allowed`).",
          {"Allow": "the methods the resource answers (RFC 9110 §15.5.6)"}),
    409: ("Conflict", "The change conflicts with the current state (`conflict`).", {}),
    413: ("TooLarge", "The body is too large (`request_too_large`).", {}),
    414: ("URITooLong", "The path and query are too long (`uri_too_long`).", {}),
    431: ("HeaderTooLarge", "A request header is too large (`request_header_fields_too_large`).", {}),
    415: ("UnsupportedMediaType", "The body is not of an accepted media type (`unsupported_media_type`).", {}),
    429: ("RateLimited", "Too many requests (`rate_limited`); retry after `Retry-After` seconds.", {"Retry-After": "seconds"}),
    503: ("Unavailable", "A dependency is unavailable (`service_unavailable`); retry after `Retry-After` seconds.",
          {"Retry-After": "seconds"}),
}


#: What the gateway may answer to any request, whatever the operation
#: (docs/gateway.md "Errors written by the gateway"): a malformed request
#: (a raw non-ASCII target, a control byte in a header value, an unknown
#: transfer coding), a body over its size limit (every method), a path and
#: query over its buffers, a header over them.
GATEWAY_ERRORS = (400, 413, 414, 431)


def add_error_responses(op: dict, codes: Iterable[int]) -> None:
    """Reference the shared error answers of ``codes`` (``ERROR_RESPONSES``,
    in ``components.responses``) in operation ``op``'s responses, in order,
    unless ``op`` describes that status itself."""
    for code in codes:
        op["responses"].setdefault(str(code), {"$ref": f"#/components/responses/{ERROR_RESPONSES[code][0]}"})


def ok(model: type[BaseModel] | None, description: str, *, headers: dict[str, str] | None = None,
       example: Any = None) -> dict:
    """Return a success response object (JSON body of ``model``, or none)."""
    response: dict[str, Any] = {"description": description}
    if model is not None:
        media: dict[str, Any] = {"schema": model.__name__}
        if example is not None:
            media["example"] = example
        response["content"] = {"application/json": media}
    if headers:
        response["headers"] = {name: {"description": text, "schema": {"type": "string"}} for name, text in headers.items()}
    return response


def redirect(description: str) -> dict:
    """Return a redirect response object (``Location`` header, no JSON body)."""
    return {"description": description,
            "headers": {"Location": {"description": "where to go", "schema": {"type": "string"}}}}


def query(name: str, description: str, schema: dict, required: bool = False) -> dict:
    """Return a query parameter object."""
    return {"name": name, "in": "query", "required": required, "description": description, "schema": schema}


def operation(summary: str, *, tag: str, responses: dict[int, dict], public: bool = False,
              permission: str | None = None, body: type[BaseModel] | None = None,
              body_media_type: str = "application/json", body_example: Any = None, errors: Iterable[int] = (), parameters: Iterable[dict] = (),
              description: str | None = None) -> dict:
    """Describe one operation.

    Args:
        summary: one line, imperative.
        tag: the group Swagger UI shows it under.
        responses: status -> response object (``ok``, ``redirect``).
        public: no token needed (``security: []``); else the bearer scheme
            applies and 401 (and 503: the gateway's and the service's
            revocation-feed trust window, docs/login-and-tokens.md) are added.
        permission: the permission the token needs (adds 403 and
            ``x-permission``).
        body: pydantic model of the request body.
        body_media_type: its media type (JSON, or a form for RFC 6749 endpoints).
        body_example: an example request body.
        errors: further error statuses (see ``ERROR_RESPONSES``).
        parameters: query parameter objects (path parameters are added
            from the URL rule).
        description: longer text (Markdown).

    Returns:
        dict: an OpenAPI operation object with schema names still bare
        (``build_document`` turns them into ``$ref``).
    """
    codes = set(errors) | {503}
    if not public:
        codes.add(401)
    if permission:
        codes.add(403)
    if body is not None:
        codes |= {400, 415}
    result: dict[str, Any] = {"summary": summary, "tags": [tag],
                              "responses": {str(code): response for code, response in responses.items()}}
    add_error_responses(result, sorted(codes))
    if description:
        result["description"] = description
    if public:
        result["security"] = []
    if permission:
        result["x-permission"] = permission
        result["description"] = (description + "\n\n" if description else "") + f"Needs the permission `{permission}`."
    if parameters:
        result["parameters"] = list(parameters)
    if body is not None:
        media: dict[str, Any] = {"schema": body.__name__}
        if body_example is not None:
            media["example"] = body_example
        result["requestBody"] = {"required": True, "content": {body_media_type: media}}
    return result


_PAGE = query("page", "page number, from 1", {"type": "integer", "minimum": 1, "maximum": schemas.MAX_PAGE})
_PER_PAGE = query("per_page", "items per page", {"type": "integer", "minimum": 1, "maximum": schemas.MAX_PER_PAGE})
#: A service account's token on the session endpoints (it has no sessions).
_NO_SESSIONS = ok(Error, "a service account's token: it has no sessions (`insufficient_scope`)",
                  headers={"WWW-Authenticate": "Bearer challenge"})

#: Every documented operation of the backend, by Flask endpoint name.
OPERATIONS: dict[str, dict] = {
    # -- discovery and docs
    "docs.openapi_document": operation(
        "Get this OpenAPI document", tag="discovery", public=True,
        responses={200: {"description": "OpenAPI 3.1 document",
                         "content": {"application/json": {"schema": {"type": "object"}}}}}),
    "docs.swagger_ui": operation(
        "Open the interactive API documentation (Swagger UI)", tag="discovery", public=True,
        responses={200: {"description": "HTML page", "content": {"text/html": {"schema": {"type": "string"}}}}}),
    "docs.swagger_asset": operation(
        "Get a static file of Swagger UI", tag="discovery", public=True, errors=(404,),
        responses={200: {"description": "JavaScript, CSS or image",
                         "content": {"*/*": {"schema": {"type": "string"}}}}}),
    "docs.protected_resource_metadata": operation(
        "Get the OAuth 2.0 protected resource metadata (RFC 9728)", tag="discovery", public=True,
        responses={200: ok(ProtectedResourceMetadata, "RFC 9728 §3.2 metadata")}),
    "api.jwks": operation(
        "Get the JWK Set of the access-token signing keys (RFC 7517)", tag="discovery", public=True,
        responses={200: ok(JWKSet, "every key whose tokens may still be alive",
                           headers={"Cache-Control": "public, max-age=300"})}),
    "api.public_info": operation(
        "Get what anyone may know about this issuer", tag="discovery", public=True,
        responses={200: ok(PublicInfo, "issuer information")}),
    # -- health
    "api.health": operation("Check that the process is alive", tag="health", public=True,
                            responses={200: ok(Health, "alive", example={"status": "ok"})}),
    "api.ready": operation(
        "Check that the database answers", tag="health", public=True,
        responses={200: ok(Ready, "ready", example={
            "status": "ok", "database": "ok", "redis": "ok",
            "revocation_feed": {"status": "ok", "age_seconds": 0.4, "trust_window": 60}}),
                   503: ok(Ready, "the database is unreachable", headers={"Retry-After": "seconds"})}),
    "api.public_ping": operation("Answer without a token (benchmark baseline)", tag="health", public=True,
                                 responses={200: ok(PublicPong, "pong")}),
    # -- the caller
    "api.me": operation("Get the signed-in account", tag="account",
                        responses={200: ok(Me, "the caller's account")}),
    "api.ping": operation("Answer with the token's subject (no database)", tag="account",
                          responses={200: ok(Pong, "pong")}),
    "api.whoami": operation("Show the identity the gateway passed upstream", tag="account",
                            responses={200: ok(Whoami, "the verified subject and the X-Auth-* headers")}),
    # -- browser login and tokens
    "auth.login": operation(
        "Start the OpenID Connect sign-in", tag="auth", public=True, errors=(429,),
        description="302 to the provider's authorization endpoint (PKCE, state, nonce). "
                    "With `Accept: application/json` the URL is returned instead.",
        parameters=[query("next", "path on this origin to return to", {"type": "string"}),
                    query("login_hint", "email passed to the provider", {"type": "string"})],
        responses={200: ok(AuthorizationURL, "the authorization URL (Accept: application/json)"),
                   302: redirect("to the provider"), 303: redirect("to `/login?error=` when the provider is unreachable"),
                   502: ok(Error, "the provider is unreachable (Accept: application/json)")}),
    "auth.callback": operation(
        "Finish the sign-in (the provider redirects here)", tag="auth", public=True, errors=(429,),
        description="303 to `/auth/callback#access_token=...` with the refresh cookie, or to `/login?error=<code>`.",
        parameters=[query("code", "authorization code", {"type": "string"}),
                    query("state", "state of the sign-in", {"type": "string"}),
                    query("error", "provider error", {"type": "string"})],
        responses={303: redirect("to the SPA (token in the fragment) or to /login?error=")}),
    "auth.refresh": operation(
        "Rotate a refresh token and get an access token", tag="auth", public=True, errors=(403, 429),
        description="The refresh token comes in the `refresh_token` cookie (with a same-origin `Origin`) "
                    "or in the JSON body. Reuse of a spent token revokes the session (401 `invalid_grant`).",
        body=RefreshRequest, body_example={"refresh_token": "<opaque>"},
        responses={200: ok(TokenResponse, "a new access token (and refresh token or cookie)",
                           headers={"Cache-Control": "no-store"}),
                   401: ok(Error, "no, unknown, expired or reused refresh token (`invalid_grant`)")}),
    "auth.logout": operation(
        "Sign out of the current session", tag="auth", public=True, errors=(403,), body=RefreshRequest,
        description="The session is found by the refresh cookie, the body's refresh token, or the access token.",
        responses={204: ok(None, "signed out (or nothing to sign out of); the refresh cookie is cleared"),
                   401: ok(Error, "a malformed `Authorization: Bearer` header (`invalid_token`)")}),
    "auth.logout_all": operation("Sign out of every session of the caller", tag="auth",
                                 responses={204: ok(None, "every session revoked"), 403: _NO_SESSIONS}),
    "auth.list_sessions": operation("List the caller's live sessions", tag="auth",
                                    responses={200: ok(Sessions, "live sessions"), 403: _NO_SESSIONS}),
    "auth.delete_session": operation("Revoke one of the caller's sessions", tag="auth", errors=(404,),
                                     responses={204: ok(None, "revoked"), 403: _NO_SESSIONS}),
    # -- admin
    "admin.list_users": operation(
        "Search users", tag="admin", permission="users:read", errors=(400,),
        parameters=[query("q", "part of the email or name", {"type": "string", "maxLength": 254}), _PAGE, _PER_PAGE],
        responses={200: ok(UsersPage, "one page of users")}),
    "admin.get_user": operation("Get one user with their live sessions", tag="admin", permission="users:read",
                                errors=(404,), responses={200: ok(UserDetail, "the user")}),
    "admin.patch_user": operation(
        "Activate, deactivate or set the roles of a user", tag="admin", permission="users:write",
        errors=(404, 409, 429), body=schemas.UserPatch, body_example={"active": True, "roles": ["user"]},
        responses={200: ok(schemas.UserSummary, "the user after the change")}),
    "admin.revoke_user_session": operation("Revoke one live session of a user", tag="admin",
                                           permission="users:write", errors=(404, 429),
                                           responses={204: ok(None, "revoked")}),
    "admin.list_allowed_emails": operation("List emails allowed ahead of their first sign-in", tag="admin",
                                           permission="users:read", responses={200: ok(AllowedEmails, "the list")}),
    "admin.allow_email": operation("Allow an email to sign in", tag="admin", permission="users:write", errors=(409, 429),
                                   body=schemas.AllowEmail, body_example={"email": "grace@example.com"},
                                   responses={201: ok(AllowedEmailOut, "allowed")}),
    "admin.list_roles": operation("List roles and permissions", tag="admin", permission="roles:write",
                                  description="Also allowed with `users:read`.",
                                  responses={200: ok(RolesList, "roles and known permissions")}),
    "admin.create_role": operation(
        "Create a role", tag="admin", permission="roles:write", errors=(409, 429), body=schemas.RoleCreate,
        body_example={"name": "editor", "description": "edits notes", "permissions": ["notes:write"]},
        responses={201: ok(schemas.RoleSummary, "the new role")}),
    "admin.put_role_permissions": operation(
        "Replace a role's permissions", tag="admin", permission="roles:write", errors=(404, 409, 429),
        body=schemas.RolePermissions, body_example={"permissions": ["notes:read"]},
        responses={200: ok(schemas.RoleSummary, "the role after the change")}),
    "admin.list_service_accounts": operation(
        "List service accounts (never their secrets)", tag="admin", permission="service_accounts:write",
        responses={200: ok(ServiceAccounts, "every service account")}),
    "admin.create_service_account": operation(
        "Create a service account", tag="admin", permission="service_accounts:write", errors=(409, 429),
        description="The caller must hold every permission of the roles it hands out. "
                    "The secret appears only in this answer.",
        body=schemas.ServiceAccountCreate, body_example={"name": "billing-worker", "roles": ["user"]},
        responses={201: ok(schemas.ServiceAccountCreated, "the account and its secret",
                           headers={"Cache-Control": "no-store"})}),
    "admin.rotate_service_account_secret": operation(
        "Replace a service account's secret", tag="admin", permission="service_accounts:write", errors=(404, 429),
        responses={200: ok(schemas.ClientSecret, "the new secret", headers={"Cache-Control": "no-store"})}),
    "admin.delete_service_account": operation(
        "Delete a service account", tag="admin", permission="service_accounts:write", errors=(404, 429),
        description="Its access tokens are refused within 5 s.", responses={204: ok(None, "deleted")}),
    "machine.token": operation(
        "Get an access token for a service account (client credentials, RFC 6749 §4.4)", tag="auth",
        public=True, errors=(400, 415, 429), body=ClientCredentialsRequest,
        body_media_type="application/x-www-form-urlencoded",
        body_example={"grant_type": "client_credentials", "client_id": "sa_...", "client_secret": "..."},
        description="Client authentication by HTTP Basic (`client_secret_basic`) or in the form "
                    "(`client_secret_post`). Errors follow RFC 6749 §5.2 (`invalid_request`, "
                    "`invalid_client`, `unsupported_grant_type`, `invalid_scope`).",
        responses={200: ok(ClientTokenResponse, "an access token, no refresh token",
                           headers={"Cache-Control": "no-store"}),
                   401: ok(Error, "bad or missing client authentication (`invalid_client`)",
                           headers={"WWW-Authenticate": "Basic challenge when Basic was used"})}),
    "machine.authorization_server_metadata": operation(
        "Get the OAuth 2.0 authorization server metadata (RFC 8414)", tag="discovery", public=True,
        responses={200: ok(AuthorizationServerMetadata, "RFC 8414 §3.2 metadata")}),
    "auth.register": operation(
        "Create a local account (PASSWORD_LOGIN=on)", tag="auth", public=True, errors=(403, 404, 409, 429),
        description="404 when password sign-in is off; 403 `not_allowed` outside the allowlist; "
                    "409 when the email has an account; 400 says why a password is refused.",
        body=schemas.PasswordRegister,
        body_example={"email": "grace@example.com", "password": "correct horse battery staple", "name": "Grace"},
        responses={201: ok(Me, "the new account")}),
    "auth.password_login": operation(
        "Sign in with a local account's password (PASSWORD_LOGIN=on)", tag="auth", public=True,
        errors=(403, 404, 429), body=schemas.PasswordLogin,
        description="Needs `Origin` equal to this origin. Sets the refresh cookie like the provider sign-in.",
        body_example={"email": "grace@example.com", "password": "correct horse battery staple"},
        responses={200: ok(TokenResponse, "an access token and the refresh cookie",
                           headers={"Cache-Control": "no-store"}),
                   401: ok(Error, "wrong email or password (`invalid_grant`, the same for both)")}),
    "admin.audit": operation(
        "Read the audit log, newest first", tag="admin", permission="audit:read", errors=(400,),
        parameters=[query("user_id", "events of this user", {"type": "integer", "minimum": 1}),
                    query("event", "events of this kind, e.g. `login_succeeded`", {"type": "string"}),
                    _PAGE, _PER_PAGE],
        responses={200: ok(AuditPage, "one page of events")}),
}

#: Answer shapes referenced by name from ``OPERATIONS``.
MODELS: tuple[type[BaseModel], ...] = (
    Error, Me, Whoami, PublicPong, Pong, Health, Ready, PublicInfo, JWKSet, AuthorizationURL, RefreshRequest,
    TokenResponse, Sessions, UserDetail, UsersPage, AllowedEmails, AllowedEmailOut, RolesList, AuditPage,
    ProtectedResourceMetadata, AuthorizationServerMetadata, ClientCredentialsRequest, ClientTokenResponse,
    ServiceAccounts, schemas.ServiceAccountCreate, schemas.ServiceAccountCreated, schemas.ClientSecret,
    schemas.PasswordRegister, schemas.PasswordLogin, schemas.UserSummary, schemas.RoleSummary, schemas.UserPatch, schemas.AllowEmail,
    schemas.RoleCreate, schemas.RolePermissions,
)

_CONVERTER_SCHEMAS = {"int": {"type": "integer", "minimum": 0}, "float": {"type": "number"}}


def model_schemas(models: Iterable[type[BaseModel]]) -> dict[str, dict]:
    """Return JSON Schemas (2020-12, as OpenAPI 3.1 takes them) of ``models``
    and every model they use, by name, with ``$ref`` into ``components.schemas``."""
    result: dict[str, dict] = {}
    for model in models:
        schema = model.model_json_schema(ref_template="#/components/schemas/{model}", mode="serialization")
        for name, sub in schema.pop("$defs", {}).items():
            result.setdefault(name, sub)
        result[model.__name__] = schema
    return _drop_impossible_defaults(result)


def _drop_impossible_defaults(node: Any) -> Any:
    """Remove ``default: null`` from schemas that do not admit null (pydantic
    writes it for optional-but-not-nullable fields such as ``UserPatch.active``;
    OpenAPI validators reject a default outside its schema)."""
    if isinstance(node, dict):
        if "default" in node and node["default"] is None and node.get("type") not in (None, "null"):
            node = {key: value for key, value in node.items() if key != "default"}
        return {key: _drop_impossible_defaults(value) for key, value in node.items()}
    if isinstance(node, list):
        return [_drop_impossible_defaults(item) for item in node]
    return node


def _refs(node: Any, names: set[str]) -> Any:
    """Turn bare schema names (``"schema": "Me"``) into ``$ref`` objects."""
    if isinstance(node, dict):
        out = {}
        for key, value in node.items():
            if key == "schema" and isinstance(value, str) and value in names:
                out[key] = {"$ref": f"#/components/schemas/{value}"}
            else:
                out[key] = _refs(value, names)
        return out
    if isinstance(node, list):
        return [_refs(item, names) for item in node]
    return node


#: A variable part of a Flask URL rule, ``<converter(args):name>`` or ``<name>``.
_RULE_ARGUMENT = re.compile(r"<(?:(?P<converter>[a-zA-Z_][a-zA-Z0-9_]*)(?:\([^)]*\))?:)?(?P<name>[a-zA-Z_][a-zA-Z0-9_]*)>")


def _path_parameters(rule) -> list[dict]:
    """Return the path parameter objects of a URL rule (``int`` -> integer, else string)."""
    return [{"name": match.group("name"), "in": "path", "required": True,
             "schema": dict(_CONVERTER_SCHEMAS.get(match.group("converter"), {"type": "string"}))}
            for match in _RULE_ARGUMENT.finditer(rule.rule)]


def load_service_fragments(directory: Path = SERVICE_FRAGMENTS_DIR) -> list[dict]:
    """Read the fragments (``{"paths", "components": {"schemas"}}``) of the
    services behind the gateway, one JSON file each (``specs/*.json``)."""
    return [json.loads(path.read_text(encoding="utf-8")) for path in sorted(directory.glob("*.json"))]


def build_document(app: Flask, *, public_url: str, issuer: str,
                   fragments: Iterable[dict] | None = None, strict: bool = True) -> dict:
    """Build the OpenAPI 3.1 document of ``app`` and the services behind the gateway.

    Args:
        app: the backend application (its URL map is the list of routes).
        public_url: the gateway's origin (``PUBLIC_URL``), for descriptions.
        issuer: the tokens' ``iss``.
        fragments: service fragments; None reads ``specs/*.json``.
        strict: raise on an undocumented route (tests); False leaves it out
            with a warning in the log (the served document never fails).

    Returns:
        dict: the document (JSON-serialisable).

    Raises:
        KeyError: ``strict`` and a route of ``app`` has no ``OPERATIONS``
            entry (names every one).
    """
    spec = APISpec(
        title="authgw API", version=API_VERSION, openapi_version="3.1.0", plugins=[FlaskPlugin()],
        info={"description": (
            "Sign in with Google, JWT access tokens and the services behind the authgw gateway.\n\n"
            f"Every path is relative to the gateway's origin ({public_url}). Send the access token as "
            "`Authorization: Bearer <token>` (RFC 6750 §2.1; never in a query string). Errors are "
            "`{\"error\", \"error_description\"}`. Tokens are issued by " + issuer + "."),
            "license": {"name": "MIT", "identifier": "MIT"}},
        servers=[{"url": "/", "description": "the gateway's origin"}],
        security=[{BEARER: []}],
    )
    spec.components.security_scheme(BEARER, {
        "type": "http", "scheme": "bearer", "bearerFormat": "JWT",
        "description": "An access token (RFC 9068): the SPA's profile page shows yours; machine clients get one "
                       "from the token endpoint when it exists."})
    all_schemas = model_schemas(MODELS)
    for name, (component, text, headers) in ERROR_RESPONSES.items():
        response: dict[str, Any] = {"description": text,
                                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
        if headers:
            response["headers"] = {h: {"description": d, "schema": {"type": "string"}} for h, d in headers.items()}
        spec.components.response(component, response)

    missing = []
    rules = sorted(app.url_map.iter_rules(), key=lambda r: (r.rule, r.endpoint))
    for rule in rules:
        if rule.endpoint in UNDOCUMENTED_ENDPOINTS:
            continue
        methods = sorted((rule.methods or set()) - {"HEAD", "OPTIONS"})
        if rule.endpoint not in OPERATIONS:
            missing.append(f"{' '.join(methods)} {rule.rule} ({rule.endpoint})")
            continue
        op = copy.deepcopy(OPERATIONS[rule.endpoint])
        params = _path_parameters(rule)
        if params:
            op["parameters"] = params + op.get("parameters", [])
            add_error_responses(op, (404,))  # an unknown id
        add_error_responses(op, GATEWAY_ERRORS)
        op["operationId"] = rule.endpoint.replace(".", "_")
        if rule.rule.startswith(GATEWAY_RATE_LIMITED_PREFIX):
            add_error_responses(op, (429,))
        spec.path(view=app.view_functions[rule.endpoint], app=app,
                  operations={method.lower(): _refs(op, set(all_schemas)) for method in methods})
    if missing and not strict:
        logging.getLogger(__name__).warning("undocumented routes left out of the OpenAPI document: %s",
                                            "; ".join(missing))
    elif missing:
        raise KeyError("undocumented routes (add them to authgw.openapi.OPERATIONS, docs/operations.md): "
                       + "; ".join(missing))
    for name, schema in all_schemas.items():
        spec.components.schema(name, schema)

    document = spec.to_dict()
    for fragment in (load_service_fragments() if fragments is None else fragments):
        for path, item in fragment.get("paths", {}).items():
            if path in document["paths"]:
                raise ValueError(f"{path} is declared by the backend and by a service")
            item = copy.deepcopy(item)
            document["paths"][path] = item
            for method, op in item.items():
                if method not in ("get", "put", "post", "delete", "patch"):
                    continue
                op.setdefault("operationId", method + re.sub(r"[^A-Za-z0-9]+", "_", path).rstrip("_"))
                add_error_responses(op, GATEWAY_ERRORS)
        for name, schema in fragment.get("components", {}).get("schemas", {}).items():
            document["components"]["schemas"].setdefault(name, schema)
    document["tags"] = [{"name": name, "description": text} for name, text in (
        ("auth", "browser sign-in, refresh tokens, sessions"), ("account", "the signed-in caller"),
        ("admin", "users, roles, allowed emails, audit log"), ("notes", "the example service behind the gateway"),
        ("discovery", "metadata, keys and this documentation"), ("health", "liveness and readiness"))]
    return document


_documents: "weakref.WeakKeyDictionary[Flask, dict]" = weakref.WeakKeyDictionary()


def document_for(app: Flask) -> dict:
    """Return ``build_document(app)``, built once per application."""
    document = _documents.get(app)
    if document is None:
        from .extension import AuthGW

        settings = AuthGW.of(app).settings
        document = build_document(app, public_url=settings.public_url, issuer=settings.jwt_issuer, strict=False)
        _documents[app] = document
    return document


#: Where each service's OpenAPI code lives (importable from that folder).
SERVICE_SOURCES = {"notes": (Path(__file__).resolve().parents[2] / "services" / "notes", "notes.openapi")}


def service_fragment(name: str) -> dict:
    """Return the document service ``name`` generates from its code (``SERVICE_SOURCES``).

    Raises:
        ImportError: the service's source is not in this checkout.
    """
    import importlib
    import sys

    folder, module_name = SERVICE_SOURCES[name]
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))
    return importlib.import_module(module_name).document()


def write_service_fragments(directory: Path = SERVICE_FRAGMENTS_DIR) -> list[Path]:
    """Regenerate ``specs/<service>.json`` from each service's code; return the files written."""
    written = []
    for name in SERVICE_SOURCES:
        path = directory / f"{name}.json"
        path.write_text(json.dumps(service_fragment(name), indent=2, sort_keys=True) + "\n", encoding="utf-8")
        written.append(path)
    return written


if __name__ == "__main__":  # python -m authgw.openapi: refresh the services' fragments
    for written_path in write_service_fragments():
        print(f"wrote {written_path}")
