"""Schemathesis against the app's own OpenAPI schema, as a signed-in user.

Generated requests, valid and invalid, for every operation: none may answer `5xx`, a
status the schema does not list, or a response that breaks its documented schema, and
none that breaks the schema may be accepted. (A request the schema allows may still be
refused with a documented `422`: a schema cannot say which phone numbers exist.)
"""

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import (
    content_type_conformance,
    negative_data_rejection,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.conftest import Account

EXAMPLES_PER_OPERATION = 25
RESPONSE_CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
]
MODES = {
    schemathesis.GenerationMode.POSITIVE: RESPONSE_CHECKS,
    schemathesis.GenerationMode.NEGATIVE: [*RESPONSE_CHECKS, negative_data_rejection],
}


def takes_input(operation: schemathesis.APIOperation) -> bool:
    return bool(operation.path_parameters or operation.query or operation.body)


@pytest.mark.parametrize("mode", list(MODES), ids=lambda mode: mode.value)
def test_the_api_keeps_to_its_schema(
    app: FastAPI, account: Account, mode: schemathesis.GenerationMode
) -> None:
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    for result in schema.get_all_operations():
        operation = result.ok()
        if mode is schemathesis.GenerationMode.NEGATIVE and not takes_input(operation):
            continue  # nothing a client sends could break the schema

        @given(case=operation.as_strategy(generation_mode=mode, headers=account.headers))
        @settings(
            max_examples=EXAMPLES_PER_OPERATION,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def call(case: schemathesis.Case) -> None:
            case.call_and_validate(checks=MODES[mode])

        call()
