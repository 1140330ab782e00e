"""The participant's choice of reminders on the pages: by email, or none."""

from __future__ import annotations

from collections.abc import Callable

from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from service.models import ReminderChoice
from tests.conftest import valid_signature
from tests.web.conftest import Page
from tests.web.test_session import sign_in


def signed_in(client: FlaskClient, researcher: dict[str, str], contact: dict[str, str]) -> str:
    made = client.post("/api/v1/participants", json={"contact": contact}, headers=researcher)
    made_body = made.get_json()
    own = {"Authorization": f"Bearer {made_body['token']}"}
    assert (
        client.post("/api/v1/me/consent", json=valid_signature(client), headers=own).status_code
        == 201
    )
    sign_in(client, made_body["token"])
    return str(made_body["study_id"])


def test_a_participant_can_turn_email_reminders_off_and_on(
    client: FlaskClient,
    session: Session,
    auth: Callable[..., dict[str, str]],
    read: Callable[..., Page],
) -> None:
    study_id = signed_in(client, auth("researcher"), {"email": "sam@example.org"})
    home = read(client, "/p/")
    assert "Choose whether to get reminders by email" in home.links
    page = read(client, home.href("Choose whether to get reminders by email"))
    assert page.h1 == "Reminders"
    assert "Do you want reminders by email?" in page._all("legend")
    assert 'value="email" checked' in page.html  # yes, until they say no
    assert "We do not have an email address" not in page.text

    saved = client.post("/p/reminders", data={"csrf_token": page.csrf, "reminders": "none"})
    assert saved.status_code == 200
    assert "we will not send you reminders" in Page(saved.get_data(as_text=True)).text
    assert session.get(ReminderChoice, study_id).by_email is False  # type: ignore[union-attr]
    again = client.post("/p/reminders", data={"csrf_token": page.csrf, "reminders": "email"})
    assert "we will email you reminders" in Page(again.get_data(as_text=True)).text
    session.expire_all()
    assert session.get(ReminderChoice, study_id).by_email is True  # type: ignore[union-attr]


def test_saving_without_a_choice_asks_for_one_and_no_email_is_said_plainly(
    client: FlaskClient, auth: Callable[..., dict[str, str]], read: Callable[..., Page]
) -> None:
    signed_in(client, auth("researcher"), {"name": "Sam"})
    page = read(client, "/p/reminders")
    assert "We do not have an email address for you" in page.text
    refused = client.post("/p/reminders", data={"csrf_token": page.csrf})
    assert refused.status_code == 400
    answer = Page(refused.get_data(as_text=True))
    assert answer.href("Choose whether you want reminders by email") == "#reminders"


def test_a_form_without_the_csrf_token_changes_nothing(
    client: FlaskClient, session: Session, auth: Callable[..., dict[str, str]]
) -> None:
    study_id = signed_in(client, auth("researcher"), {"email": "sam@example.org"})
    refused = client.post("/p/reminders", data={"reminders": "none"})
    assert refused.status_code == 400
    assert session.get(ReminderChoice, study_id) is None
