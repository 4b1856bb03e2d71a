"""The conformance check of tests/stack/conftest.py can fail (docs/operations.md "API documentation").

Every answer the stack tests receive from the gateway is validated against
``/api/openapi.json``; these tests prove the check sees a real answer and
reports a doctored one by method, path, status and problem.
"""

from __future__ import annotations

import requests
import schemathesis

import conftest


def _schema(base_url: str):
    return schemathesis.openapi.from_dict(requests.get(f"{base_url}/api/openapi.json", timeout=10).json())


def test_real_answers_are_checked_and_conform(base_url):
    before = conftest.checked_answers
    answer = requests.get(f"{base_url}/api/me", timeout=10)
    assert answer.status_code == 401
    assert conftest.checked_answers == before + 1
    assert conftest._conformance_problems(_schema(base_url), answer) == []


def test_answers_outside_the_document_are_not_checked(base_url):
    before = conftest.checked_answers
    assert requests.get(f"{base_url}/api/no-such-route", timeout=10).status_code in (401, 404)
    assert requests.get(f"{base_url}/metrics", timeout=10).status_code == 404
    assert conftest.checked_answers == before


def test_a_doctored_answer_is_reported(base_url):
    schema = _schema(base_url)
    undocumented = requests.get(f"{base_url}/api/me", timeout=10)
    undocumented.status_code = 418
    assert conftest._conformance_problems(schema, undocumented) == [
        "status 418 is not documented for GET /api/me (documented: 200, 400, 401, 413, 414, 431, 503)"]

    wrong_type = requests.get(f"{base_url}/api/me", timeout=10)
    wrong_type.headers["Content-Type"] = "text/html"
    assert conftest._conformance_problems(schema, wrong_type) == [
        "Content-Type text/html is not one of application/json"]

    wrong_body = requests.get(f"{base_url}/api/health", timeout=10)
    wrong_body.request.url = f"{base_url}/api/me"  # a health body where /api/me's 200 is documented
    problems = conftest._conformance_problems(schema, wrong_body)
    assert any('"id" is a required property' in problem for problem in problems), problems
