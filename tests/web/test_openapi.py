"""The OpenAPI document, and schemathesis-generated requests that must never cause a server error."""

import pytest

schemathesis = pytest.importorskip("schemathesis", reason="schemathesis is not installed")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from schemathesis.checks import not_a_server_error  # noqa: E402

pytestmark = pytest.mark.model


@pytest.fixture(scope="session")
def api_schema(app):
    """The served document, loaded through the app itself (in-process WSGI)."""
    return schemathesis.openapi.from_wsgi("/api/openapi.json", app)


def test_generated_requests_never_cause_a_server_error(api_schema):
    # Each operation's cases come from its own Hypothesis strategy (the pytest plugin is not used).
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) >= 7
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def run(case):
            case.call_and_validate(checks=[not_a_server_error])

        run()


def test_document_lists_every_endpoint(client):
    doc = client.get("/api/openapi.json").get_json()
    assert doc["openapi"].startswith("3.")
    assert set(doc["paths"]) >= {"/api/search", "/api/similar", "/api/compare", "/api/passages/{passage_id}",
                                 "/api/documents", "/api/documents/{doc_id}", "/api/health"}
