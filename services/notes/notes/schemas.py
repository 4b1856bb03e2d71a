"""Request shapes of the notes API, validated with pydantic.

Strict: JSON strings only (no coercion from numbers), unknown fields are
refused, lengths count Unicode code points. A failure becomes ``400
invalid_request`` naming the field (docs/notes.md, "Limits").
"""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StrictStr, ValidationError, model_validator

from .models import BODY_MAX, TITLE_MAX


def _encodable(value: str) -> str:
    # JSON allows lone surrogates ("\ud800"); they are not text and no
    # database can store them.
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("must be valid Unicode text (no lone surrogates)") from None
    return value


def _not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be blank")
    return value


Title = Annotated[StrictStr, Field(min_length=1, max_length=TITLE_MAX), AfterValidator(_encodable), AfterValidator(_not_blank)]
Body = Annotated[StrictStr, Field(max_length=BODY_MAX), AfterValidator(_encodable)]


class NoteCreate(BaseModel):
    """``POST /api/notes``: ``{"title": 1-200 chars, "body": <= 10,000 chars, optional}``."""

    model_config = ConfigDict(extra="forbid")

    title: Title
    body: Body = ""


class NoteUpdate(BaseModel):
    """``PATCH /api/notes/<id>``: ``title`` and/or ``body``, at least one."""

    model_config = ConfigDict(extra="forbid")

    title: Title | None = None
    body: Body | None = None

    @model_validator(mode="before")
    @classmethod
    def _no_nulls(cls, data):
        if isinstance(data, dict):
            for name in ("title", "body"):
                if name in data and data[name] is None:
                    raise ValueError(f"{name} must be a string, not null")
        return data

    @model_validator(mode="after")
    def _something(self):
        if not self.model_fields_set:
            raise ValueError("give title and/or body")
        return self


#: Problems ``describe`` names, at most.
MAX_PROBLEMS_NAMED = 5
#: Characters of a field name ``describe`` quotes, at most.
MAX_FIELD_NAME = 64


def describe(error: ValidationError) -> str:
    """Say in one sentence what is wrong with a request body.

    Args:
        error: pydantic's error for a :class:`NoteCreate` or :class:`NoteUpdate`.

    Returns:
        str: e.g. ``title: String should have at most 200 characters``;
        several problems are joined with ``; ``, the first
        ``MAX_PROBLEMS_NAMED`` of them (then how many more), each field name
        cut to ``MAX_FIELD_NAME`` characters: a body of a thousand unknown
        fields gets a short answer. Input values are not echoed.
    """
    problems = []
    items = error.errors(include_input=False, include_url=False)
    for item in items[:MAX_PROBLEMS_NAMED]:
        field = ".".join(str(part) for part in item["loc"])
        if len(field) > MAX_FIELD_NAME:
            field = field[:MAX_FIELD_NAME] + "..."
        message = item["msg"].removeprefix("Value error, ")
        if item["type"] == "extra_forbidden":
            message = "unknown field"
        problems.append(f"{field}: {message}" if field else message)
    if len(items) > MAX_PROBLEMS_NAMED:
        problems.append(f"and {len(items) - MAX_PROBLEMS_NAMED} more problems")
    return "; ".join(problems)

