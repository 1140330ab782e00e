"""The OpenAPI document describes every route, closed request bodies and problem errors."""

from flask.testing import FlaskClient


def test_the_openapi_document_lists_every_operation(client: FlaskClient) -> None:
    spec = client.get("/api/v1/openapi.json").get_json()
    assert spec["openapi"].startswith("3.")
    assert {
        "/healthz",
        "/readyz",
        "/api/v1/instruments",
        "/api/v1/consent/form",
        "/api/v1/instruments/{instrument_id}/versions/{version}",
        "/api/v1/tokens",
        "/api/v1/tokens/{token_id}/revoke",
        "/api/v1/problems",
        "/api/v1/problems/{code}",
        "/api/v1/participants",
        "/api/v1/participants/{study_id}/withdrawal",
        "/api/v1/me",
        "/api/v1/me/consent",
        "/api/v1/me/withdrawal",
        "/api/v1/audit/consent-log",
        "/api/v1/audit/consent-log/verify",
        "/api/v1/audit/access-log",
        "/api/v1/audit/access-log/verify",
        "/api/v1/audit/checkpoints",
        "/api/v1/audit/public-key",
        "/api/v1/audit/checkpoints/{checkpoint_id}/cosign",
        "/api/v1/audit/witnesses",
        "/api/v1/audit/witnesses/{witness_id}/approve",
        "/api/v1/enrolments",
        "/api/v1/participants/{study_id}",
        "/api/v1/participants/{study_id}/contact",
        "/api/v1/participants/{study_id}/messages",
        "/api/v1/participants/{study_id}/token",
        "/api/v1/me/responses",
        "/api/v1/me/responses/{response_id}",
        "/api/v1/me/responses/{response_id}/submit",
        "/api/v1/alerts",
        "/api/v1/alerts/{alert_id}/ack",
        "/api/v1/exports",
        "/api/v1/exports/responses",
        "/api/v1/exports/codebook",
        "/api/v1/exports/{export_id}",
        "/api/v1/exports/quotes",
        "/api/v1/interviews/{interview_id}/audio",
        "/api/v1/interviews/{interview_id}/transcript",
        "/api/v1/interviews/{interview_id}/transcript/verify",
        "/fhir/r4/metadata",
        "/fhir/r4/Questionnaire",
        "/fhir/r4/Questionnaire/{instrument_id}",
        "/fhir/r4/Questionnaire/{instrument_id}/_history/{version}",
        "/fhir/r4/QuestionnaireResponse/$export",
        "/fhir/r4/Consent",
        "/fhir/r4/Consent/{resource_id}",
        "/api/v1/participants/{study_id}/interviews",
        "/api/v1/interviews",
        "/api/v1/interviews/eligible",
        "/api/v1/interviews/{interview_id}/schedule",
        "/api/v1/interviews/{interview_id}/done",
        "/api/v1/interviews/{interview_id}/cancel",
        "/api/v1/interview-slots",
        "/api/v1/interview-slots/{slot_id}/cancel",
        "/api/v1/me/interviews",
        "/api/v1/me/interviews/{interview_id}/accept",
        "/api/v1/me/interviews/{interview_id}/decline",
    } == set(spec["paths"])


def test_request_bodies_refuse_additional_properties(client: FlaskClient) -> None:
    schemas = client.get("/api/v1/openapi.json").get_json()["components"]["schemas"]
    assert schemas["TokenCreate"]["additionalProperties"] is False


def test_errors_are_documented_as_problem_json_and_each_route_names_its_kind_of_token(
    client: FlaskClient,
) -> None:
    spec = client.get("/api/v1/openapi.json").get_json()
    default = spec["components"]["responses"]["DEFAULT_ERROR"]
    assert list(default["content"]) == ["application/problem+json"]
    assert spec["paths"]["/api/v1/tokens"]["get"]["security"] == [{"staffToken": []}]
    assert spec["paths"]["/api/v1/me"]["get"]["security"] == [{"participantToken": []}]
    assert "security" not in spec["paths"]["/api/v1/instruments"]["get"]
    schemes = spec["components"]["securitySchemes"]
    assert set(schemes) == {"staffToken", "participantToken"}
    assert "psam_s_" in schemes["staffToken"]["description"]
    assert "psam_p_" in schemes["participantToken"]["description"]
