"""Schemathesis against /api/v1/openapi.json: whatever it sends, never a 500.

Runs with an office token (sees and acts on everything) and a unit token
(the narrowest view), over a database that holds tickets in every status.
"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error

from tests.test_lifecycle import STATUSES, UNIT, bearer, make_ticket

ROLES = {"office": None, "unit": UNIT}


@pytest.fixture
def api_schema(app, db):  # noqa: ANN001, ANN201
    for n, status in enumerate(STATUSES):
        make_ticket(db, status, kind="S6" if n == 0 else "S2", openid=f"oApi{n}",
                    phone="13800138000")
    return schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)


@pytest.fixture
def tokens(db) -> list[dict[str, str]]:  # noqa: ANN001
    return [bearer(db, f"fuzz-{role}", role, unit) for role, unit in sorted(ROLES.items())]


def _operations(api_schema) -> list:  # noqa: ANN001
    return [result.ok() for result in api_schema.get_all_operations()]


def test_every_operation_is_fuzzed(api_schema) -> None:  # noqa: ANN001
    paths = {operation.path for operation in _operations(api_schema)}
    assert {"/tickets", "/tickets/{number}", "/tickets/{number}/actions"} <= paths, paths


def test_api_never_answers_500(api_schema, tokens) -> None:  # noqa: ANN001
    """pytest 9 breaks schemathesis' lazy fixture, so each operation runs its own @given."""
    for operation in _operations(api_schema):

        @given(case=operation.as_strategy())
        @settings(max_examples=60, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck))
        def fuzz(case) -> None:  # noqa: ANN001
            for headers in tokens:
                response = case.call(headers=headers)
                case.validate_response(response, checks=[not_a_server_error])
                assert response.status_code < 500

        fuzz()
