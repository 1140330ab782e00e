"""A Python client generated from the live document (openapi-python-client, offline from
the installed package) completes a participant's journey and an analyst's export."""

from __future__ import annotations

import contextlib
import csv
import importlib
import io
import subprocess
import sys
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from tests.system.conftest import LiveServer

pytestmark = pytest.mark.system

PACKAGE = "psam_client"
CONFIG = f"""package_name_override: {PACKAGE}
post_hooks: []
content_type_overrides:
  application/x-pem-file: text/plain
  application/fhir+ndjson: text/plain
  application/x-ndjson: text/plain
  audio/*: application/octet-stream
  text/plain; charset=utf-8: application/octet-stream
"""
PHQ9 = {
    "phq9_1": 2,
    "phq9_2": 2,
    "phq9_3": 1,
    "phq9_4": 2,
    "phq9_5": 1,
    "phq9_6": 1,
    "phq9_7": 2,
    "phq9_8": 0,
    "phq9_9": 1,
    "phq9_10": 1,
}


@pytest.fixture(scope="module")
def generated(live_server: LiveServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The client package generated from the served document; the generator's output."""
    folder = tmp_path_factory.mktemp("client")
    document = folder / "openapi.json"
    with urllib.request.urlopen(f"{live_server.url}/api/v1/openapi.json") as answer:
        document.write_bytes(answer.read())
    (folder / "config.yaml").write_text(CONFIG)
    result = subprocess.run(
        [
            str(Path(sys.executable).parent / "openapi-python-client"),
            "generate",
            "--path",
            str(document),
            "--output-path",
            str(folder / PACKAGE),
            "--config",
            str(folder / "config.yaml"),
            "--meta",
            "none",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=folder,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    sys.path.insert(0, str(folder))
    try:
        yield output
    finally:
        sys.path.remove(str(folder))
        for name in [m for m in sys.modules if m == PACKAGE or m.startswith(PACKAGE + ".")]:
            del sys.modules[name]


def module(name: str) -> ModuleType:
    return importlib.import_module(f"{PACKAGE}.{name}")


def test_the_generator_reads_the_document_without_a_warning(generated: str) -> None:
    assert "Warning" not in generated and "Error" not in generated, generated


def test_a_participant_journey_and_an_analyst_export_run_through_the_generated_client(
    live_server: LiveServer, generated: str
) -> None:
    client_module = module("client")
    models = module("models")
    # Each client's connections are closed at the end: the server keeps them alive.
    with contextlib.ExitStack() as clients:
        researcher = clients.enter_context(
            client_module.AuthenticatedClient(
                base_url=live_server.url, token=live_server.new_token("researcher")
            )
        )
        public = clients.enter_context(client_module.Client(base_url=live_server.url))

        enrolled = module("api.participants.enrol_participant").sync(
            client=researcher, body=models.EnrolmentRequest(site="leeds")
        )
        assert isinstance(enrolled, models.Enrolment), enrolled
        assert enrolled.token.startswith("psam_p_")
        me = clients.enter_context(
            client_module.AuthenticatedClient(base_url=live_server.url, token=enrolled.token)
        )

        form = module("api.catalogue.get_consent_form").sync(client=public)
        assert isinstance(form, models.ConsentForm), form
        clauses = models.SignConsentClauses.from_dict({c.id: True for c in form.clauses})
        signing = models.SignConsent(
            form_version=form.version, form_hash=form.sha256, clauses=clauses, typed_name="Sam Lee"
        )
        sign = module("api.me.sign_consent")
        key = str(uuid.uuid4())
        receipt = sign.sync_detailed(client=me, body=signing, idempotency_key=key)
        assert receipt.status_code == 201 and isinstance(receipt.parsed, models.Receipt)
        retried = sign.sync_detailed(client=me, body=signing, idempotency_key=key)
        assert retried.headers["Idempotent-Replayed"] == "true"
        assert retried.parsed.seq == receipt.parsed.seq  # the first answer, not a second signature

        mine = module("api.me.get_me").sync(client=me)
        assert isinstance(mine, models.Me), mine
        assert mine.study_id == enrolled.study_id
        assert mine.consent.state.value == "consented"
        task = next(t for t in mine.tasks if t.instrument == "phq-9" and t.timepoint == "baseline")

        submitted = module("api.me.start_response").sync(
            client=me,
            body=models.StartResponse(
                instrument="phq-9",
                version=task.version,
                timepoint="baseline",
                answers=models.StartResponseAnswers.from_dict(PHQ9),
                submit=True,
            ),
        )
        assert isinstance(submitted, models.QuestionnaireResponse), submitted
        assert submitted.status.value == "submitted"
        total = next(s for s in submitted.scores if s.id == "phq9_total")
        assert (total.value, total.band) == (12, "moderate")
        assert [a.severity.value for a in submitted.alerts] == ["urgent"]

        stranger = clients.enter_context(public_as(client_module, live_server, "x"))
        problem = module("api.me.get_me").sync(client=stranger)
        assert isinstance(problem, models.Problem) and problem.status == 401

        analyst = clients.enter_context(
            client_module.AuthenticatedClient(
                base_url=live_server.url, token=live_server.new_token("analyst")
            )
        )
        export = module("api.exports.export_responses").sync_detailed(
            client=analyst, instrument="phq-9", timepoint="baseline"
        )
        assert export.status_code == 200, export.content
        rows = list(csv.DictReader(io.StringIO(export.content.decode("utf-8"))))
        ours = [r for r in rows if r["study_id"] == enrolled.study_id]
        assert len(ours) == 1 and ours[0]["phq9_1"] == "2"
        manifest = module("api.exports.get_export").sync(
            client=analyst, export_id=uuid.UUID(export.headers["X-Export-Id"])
        )
        assert isinstance(manifest, models.Manifest), manifest
        assert manifest.status.value == "complete" and manifest.row_count == len(rows)


def public_as(client_module: ModuleType, server: LiveServer, token: str) -> Any:
    """A client that sends a token the service never issued."""
    return client_module.AuthenticatedClient(base_url=server.url, token=token)
