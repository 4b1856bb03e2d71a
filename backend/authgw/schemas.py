"""Request and response shapes of the admin API, as pydantic models.

One place for what a body or query may hold (types, lengths, patterns,
unknown fields refused) and for what an answer carries; ``admin.py`` keeps
the rules that need the database (unknown roles, the last admin...). The
same models describe the API in its OpenAPI document. Shapes:
docs/authorization.md "Admin API".
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictStr, ValidationError

from .exceptions import InvalidRequest

#: Role names: lower-case letter first, then letters, digits, ``-`` or ``_``.
ROLE_NAME_PATTERN = r"^[a-z][a-z0-9_-]{0,63}$"
#: Permission names ``resource:action`` (docs/authorization.md).
PERMISSION_NAME_PATTERN = r"^[a-z][a-z0-9_-]{0,30}:[a-z][a-z0-9_-]{0,30}$"
#: Largest page of a list answer.
MAX_PER_PAGE = 100
#: Largest page number accepted.
MAX_PAGE = 10**6

Model = TypeVar("Model", bound=BaseModel)


class _Input(BaseModel):
    """A request body or query: unknown fields are refused, strings kept as sent."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=False)
    #: Plain-words rule per field, used instead of pydantic's message for a bad value.
    messages: ClassVar[dict[str, str]] = {}


class UserPatch(_Input):
    """``PATCH /api/admin/users/<id>``: both fields optional, neither nullable."""

    active: StrictBool = Field(default=None, description="false deactivates the account and revokes its sessions")
    roles: list[StrictStr] = Field(default=None, description="the account's roles; `user` is always kept")


class RoleCreate(_Input):
    """``POST /api/admin/roles``."""

    name: Annotated[StrictStr, Field(pattern=ROLE_NAME_PATTERN, description="1-64 characters: a-z, 0-9, - and _")]
    description: Annotated[StrictStr, Field(max_length=255)] = ""
    permissions: list[StrictStr] = Field(default_factory=list)

    messages: ClassVar[dict[str, str]] = {
        "name": "must be 1-64 characters: lower-case letters, digits, - or _, starting with a letter",
        "description": "must be a string of at most 255 characters",
    }


class RolePermissions(_Input):
    """``PUT /api/admin/roles/<name>/permissions`` (a bare array is accepted too)."""

    permissions: list[StrictStr]


class AllowEmail(_Input):
    """``POST /api/admin/allowed-emails``."""

    email: Annotated[StrictStr, Field(max_length=254)]


class Paging(_Input):
    """``page`` (from 1) and ``per_page`` query parameters of list answers."""

    model_config = ConfigDict(extra="ignore")

    page: Annotated[int, Field(ge=1, le=MAX_PAGE, strict=False)] = 1
    per_page: Annotated[int, Field(ge=1, le=MAX_PER_PAGE, strict=False)] = 20

    messages: ClassVar[dict[str, str]] = {
        "page": f"must be between 1 and {MAX_PAGE} (a whole number)",
        "per_page": f"must be between 1 and {MAX_PER_PAGE} (a whole number)",
        "q": "must be at most 254 characters",
        "user_id": "must be a whole number",
    }


class UserSearch(Paging):
    """``GET /api/admin/users?q=&page=&per_page=``."""

    q: Annotated[str, Field(max_length=254)] = ""


class AuditSearch(Paging):
    """``GET /api/admin/audit?user_id=&event=&page=&per_page=``."""

    per_page: Annotated[int, Field(ge=1, le=MAX_PER_PAGE, strict=False)] = 50
    user_id: Annotated[int, Field(ge=1, strict=False)] | None = None
    event: str | None = None


class ServiceAccountCreate(_Input):
    """``POST /api/admin/service-accounts`` (docs/machine-clients.md)."""

    name: Annotated[StrictStr, Field(min_length=1, max_length=255, description="what the client is, for people")]
    roles: list[StrictStr] = Field(default_factory=list, description="roles whose permissions its tokens carry")

    messages: ClassVar[dict[str, str]] = {
        "name": "must be a string of 1-255 characters",
        "roles": "must be an array of role names",
    }


#: Password length bounds of local accounts (docs/local-accounts.md), in characters.
PASSWORD_MIN_LENGTH = 12
PASSWORD_MAX_LENGTH = 128


class PasswordRegister(_Input):
    """``POST /api/auth/register`` (docs/local-accounts.md); the password's
    rules that need the common-password list are checked by ``passwords.py``."""

    email: Annotated[StrictStr, Field(min_length=3, max_length=254)]
    password: Annotated[StrictStr, Field(max_length=4 * PASSWORD_MAX_LENGTH,
                                         description=f"{PASSWORD_MIN_LENGTH} to {PASSWORD_MAX_LENGTH} characters, "
                                                     "not a commonly used password")]
    name: Annotated[StrictStr, Field(max_length=255)] = ""

    messages: ClassVar[dict[str, str]] = {
        "email": "must be an email address of at most 254 characters",
        "password": f"must be a string of {PASSWORD_MIN_LENGTH} to {PASSWORD_MAX_LENGTH} characters",
        "name": "must be a string of at most 255 characters",
    }


class PasswordLogin(_Input):
    """``POST /api/auth/login/password``."""

    email: Annotated[StrictStr, Field(min_length=1, max_length=254)]
    password: Annotated[StrictStr, Field(min_length=1, max_length=PASSWORD_MAX_LENGTH)]

    messages: ClassVar[dict[str, str]] = {
        "email": "must be an email address of at most 254 characters",
        "password": f"must be a string of at most {PASSWORD_MAX_LENGTH} characters",
    }


# -- answers -------------------------------------------------------------------


class UserSummary(BaseModel):
    """The admin view of an account."""

    id: str
    email: str | None
    name: str
    picture: str | None
    active: bool
    roles: list[str]
    permissions: list[str]
    issuer: str
    created_at: str | None = Field(description="RFC 3339")
    last_login_at: str | None = Field(description="RFC 3339")


class RoleSummary(BaseModel):
    """A role and what it grants."""

    name: str
    description: str
    permissions: list[str]
    builtin: bool


class AuditEventOut(BaseModel):
    """One audit event (never a token, code or secret)."""

    id: int
    created_at: str | None
    event: str
    user_id: str | None
    actor_id: str | None
    email: str | None
    ip: str | None
    user_agent: str | None
    details: dict[str, Any] | None


class ServiceAccountSummary(BaseModel):
    """A service account as listed (never its secret)."""

    client_id: str = Field(examples=["sa_Q2hhbmdlTWUxMjM0"])
    name: str
    roles: list[str]
    permissions: list[str]
    created_at: str | None = Field(description="RFC 3339")
    created_by: str | None = Field(description="id of the user who created it; null: the CLI")
    secret_rotated_at: str | None = Field(description="RFC 3339")
    last_used_at: str | None = Field(description="RFC 3339: last token issued")


class ServiceAccountCreated(BaseModel):
    """``201`` of ``POST /api/admin/service-accounts``: the only time the secret is shown."""

    client_id: str
    client_secret: str
    name: str
    roles: list[str]
    created_at: str | None = Field(description="RFC 3339")


class ClientSecret(BaseModel):
    """``200`` of ``POST /api/admin/service-accounts/<client_id>/secret``."""

    client_secret: str


Item = TypeVar("Item")


class Page(BaseModel, Generic[Item]):
    """Paging fields every list answer carries."""

    page: int
    per_page: int
    total: int


def parse(model: type[Model], data: Any) -> Model:
    """Validate ``data`` (a JSON body or a query mapping) as ``model``.

    Args:
        model: one of the input models above.
        data: the decoded JSON value or ``request.args``.

    Returns:
        the validated model instance.

    Raises:
        InvalidRequest: not an object, an unknown field or a bad value; the
            description starts with the offending field (``roles.0: ...``),
            every problem listed.
    """
    if not isinstance(data, dict):
        if hasattr(data, "to_dict"):
            data = data.to_dict()
        else:
            raise InvalidRequest("The body must be a JSON object.")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems = []
        for error in exc.errors(include_url=False):
            field = ".".join(str(part) for part in error["loc"]) or "body"
            rule = model.messages.get(field)
            if error["type"] == "extra_forbidden":
                problems.append(f"{field}: unknown field")
            elif rule and error["type"] != "missing":
                problems.append(f"{field} {rule}")
            else:
                problems.append(f"{field}: {error['msg']}")
        raise InvalidRequest("; ".join(problems) + ".") from None
