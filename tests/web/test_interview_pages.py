"""Interviews on the pages: the participant's invitation, a choice of time, a confirmation;
the console's schedule, invite form, invitations and an interview's actions."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from service.services.tokens import create_staff_token
from tests.api.test_interviews import enrol, invited, make_slot, status_of
from tests.web.conftest import HTML, Page
from tests.web.test_language_pages import html_lang, main_html, switch
from tests.web.test_session import sign_in
from tests.web.test_staff_pages import sign_in as staff_sign_in

Headers = dict[str, str]


@pytest.fixture
def researcher(session: Session) -> tuple[str, Headers, str]:
    """A researcher's token (also the interviewer), its headers and its id."""
    row, token = create_staff_token(session, ["researcher"], "Interviewer Robin")
    return token, {"Authorization": f"Bearer {token}"}, str(row.id)


def post(client: FlaskClient, path: str, page: Page, **fields: str) -> Page:
    answer = client.post(path, data={"csrf_token": page.csrf, **fields}, headers=HTML)
    if answer.status_code == 303:
        answer = client.get(answer.headers["Location"], headers=HTML)
    return Page(answer.get_data(as_text=True))


def test_the_home_page_links_an_open_invitation_and_a_slot_is_chosen_and_confirmed(
    client: FlaskClient, read: Callable[..., Page], researcher: tuple[str, Headers, str]
) -> None:
    _token, staff, interviewer = researcher
    study_id, me = enrol(client, staff)
    slot = make_slot(client, staff, interviewer, days=5, mode="video")
    token = me["Authorization"].removeprefix("Bearer ")
    sign_in(client, token)
    assert "See your interview invitation" not in read(client, "/p/").text
    interview_id = invited(client, staff, study_id, "phone")
    home = read(client, "/p/")
    assert home.href("See your interview invitation") == "/p/interviews"

    page = read(client, "/p/interviews")
    assert page.h1 == "Interviews"
    assert "Would you like to take part?" in page._all("legend")
    [offered] = [label for label in page.labels if "by video call" in label]
    assert "60 minutes" in offered
    assert "Contact me to arrange a time" in page.labels
    assert "No, I do not want to take part in an interview" in page.labels

    nothing = post(client, f"/p/interviews/{interview_id}", page)
    assert nothing.href("Choose a time, ask to be contacted, or say no") == (
        f"#choice-{interview_id}"
    )
    check = post(client, f"/p/interviews/{interview_id}", page, choice=slot)
    assert check.h1 == "Check your answer"
    assert offered in check.text
    assert status_of(client, me, interview_id) == "invited"  # nothing happened yet
    done = post(client, f"/p/interviews/{interview_id}/confirm", check, choice=slot)
    assert done.h1 == "Your interview is booked"
    assert status_of(client, me, interview_id) == "scheduled"
    booked = read(client, "/p/interviews")
    assert "Can you still take part?" in booked._all("legend")
    assert f"Your interview: {offered}." in booked.text


WELSH_DAYS = (
    "Dydd Llun",
    "Dydd Mawrth",
    "Dydd Mercher",
    "Dydd Iau",
    "Dydd Gwener",
    "Dydd Sadwrn",
    "Dydd Sul",
)
ENGLISH_SLOT = re.compile(
    r"(Mon|Tues|Wednes|Thurs|Fri|Satur|Sun)day \d{1,2} [A-Z][a-z]+ \d{4} at \d\d:\d\d \(UTC\), "
    r"60 minutes, by video call"
)


def test_a_participant_who_chose_welsh_reads_the_invitation_in_welsh_and_accepts_a_time(
    client: FlaskClient, read: Callable[..., Page], researcher: tuple[str, Headers, str]
) -> None:
    _token, staff, interviewer = researcher
    study_id, me = enrol(client, staff)
    slot = make_slot(client, staff, interviewer, days=5, mode="video")
    interview_id = invited(client, staff, study_id)
    switch(client, "cy", "/p/start")
    sign_in(client, me["Authorization"].removeprefix("Bearer "))
    assert read(client, "/p/").href("Gweld eich gwahoddiad i gyfweliad") == "/p/interviews"

    page = read(client, "/p/interviews")
    assert html_lang(page) == "cy" and page.h1 == "Cyfweliadau"
    assert page.title.startswith("Cyfweliadau")
    assert "Hoffech chi gymryd rhan?" in page._all("legend")
    assert '<span lang="en">' not in main_html(page)  # every word on it is Welsh
    [offered] = [label for label in page.labels if "drwy alwad fideo" in label]
    assert offered.startswith(WELSH_DAYS) and "am " in offered and "60 munud" in offered
    assert "Cysylltwch â mi i drefnu amser" in page.labels
    assert "Na, nid wyf eisiau cymryd rhan mewn cyfweliad" in page.labels
    assert "minutes" not in page.text and "Interviews" not in page.text

    nothing = post(client, f"/p/interviews/{interview_id}", page)
    assert html_lang(nothing) == "cy"
    assert nothing.href("Dewiswch amser, gofynnwch i ni gysylltu â chi, neu dywedwch na") == (
        f"#choice-{interview_id}"
    )
    check = post(client, f"/p/interviews/{interview_id}", page, choice=slot)
    assert check.h1 == "Gwiriwch eich ateb" and offered in check.text
    done = post(client, f"/p/interviews/{interview_id}/confirm", check, choice=slot)
    assert html_lang(done) == "cy" and done.h1 == "Mae eich cyfweliad wedi’i drefnu"  # noqa: RUF001
    assert status_of(client, me, interview_id) == "scheduled"
    booked = read(client, "/p/interviews")
    assert "Allwch chi gymryd rhan o hyd?" in booked._all("legend")
    assert f"Eich cyfweliad: {offered}." in booked.text
    assert "Wedi’i drefnu" in booked.text  # noqa: RUF001 (the status tag)

    switch(client, "en", "/p/interviews")
    english = read(client, "/p/interviews")
    assert html_lang(english) == "en" and english.h1 == "Interviews"
    assert "Can you still take part?" in english._all("legend")
    found = re.search(r"Your interview: (.*?)\.", english.text)
    assert found is not None and ENGLISH_SLOT.fullmatch(found.group(1))
    assert "Booked" in english.text and "munud" not in english.text


def test_contact_me_to_arrange_and_declining_from_the_page(
    client: FlaskClient, read: Callable[..., Page], researcher: tuple[str, Headers, str]
) -> None:
    _token, staff, _ = researcher
    study_id, me = enrol(client, staff)
    sign_in(client, me["Authorization"].removeprefix("Bearer "))
    interview_id = invited(client, staff, study_id)
    page = read(client, "/p/interviews")
    check = post(client, f"/p/interviews/{interview_id}", page, choice="arrange")
    done = post(client, f"/p/interviews/{interview_id}/confirm", check, choice="arrange")
    assert done.h1 == "Thank you for saying yes"
    assert status_of(client, me, interview_id) == "accepted"
    page = read(client, "/p/interviews")
    assert "The study team will contact you to arrange a time." in page.text
    check = post(client, f"/p/interviews/{interview_id}", page, choice="decline")
    assert "We will not contact you about this interview." in check.text
    done = post(client, f"/p/interviews/{interview_id}/confirm", check, choice="decline")
    assert done.h1 == "You said no to the interview"
    assert status_of(client, me, interview_id) == "declined"
    assert "You said no" in read(client, "/p/interviews").text


def test_a_time_taken_meanwhile_comes_back_as_an_error_on_the_page(
    client: FlaskClient, read: Callable[..., Page], researcher: tuple[str, Headers, str]
) -> None:
    _token, staff, interviewer = researcher
    slot = make_slot(client, staff, interviewer)
    (first, first_me), (second, second_me) = enrol(client, staff), enrol(client, staff)
    first_id, second_id = invited(client, staff, first), invited(client, staff, second)
    sign_in(client, second_me["Authorization"].removeprefix("Bearer "))
    page = read(client, "/p/interviews")
    check = post(client, f"/p/interviews/{second_id}", page, choice=slot)
    taken = client.post(
        f"/api/v1/me/interviews/{first_id}/accept", json={"slot_id": slot}, headers=first_me
    )
    assert taken.status_code == 200
    answer = client.post(
        f"/p/interviews/{second_id}/confirm",
        data={"csrf_token": check.csrf, "choice": slot},
        headers=HTML,
    )
    assert answer.status_code == 422
    refused = Page(answer.get_data(as_text=True))
    assert refused.href("That time is no longer free: choose another") == f"#choice-{second_id}"
    assert status_of(client, second_me, second_id) == "invited"


def test_another_participant_s_invitation_is_not_found(
    client: FlaskClient, read: Callable[..., Page], researcher: tuple[str, Headers, str]
) -> None:
    _token, staff, _ = researcher
    study_id, _me = enrol(client, staff)
    interview_id = invited(client, staff, study_id)
    _other, other_me = enrol(client, staff)
    sign_in(client, other_me["Authorization"].removeprefix("Bearer "))
    page = read(client, "/p/interviews")
    assert "You have no interview invitations." in page.text
    answer = client.post(
        f"/p/interviews/{interview_id}", data={"csrf_token": page.csrf, "choice": "decline"},
        headers=HTML,
    )  # fmt: skip
    assert answer.status_code == 404


def test_the_console_offers_a_slot_invites_schedules_and_marks_done(
    app: Flask, client: FlaskClient, read: Callable[..., Page], researcher: tuple[str, Headers, str]
) -> None:
    token, staff, interviewer = researcher
    study_id, me = enrol(client, staff)
    no_contact, _ = enrol(client, staff, contact_clause=False)
    console = app.test_client()
    home = staff_sign_in(console, token)
    assert "Interviews" in home.links
    page = read(console, "/staff/interviews")
    assert page.h1 == "Interviews"
    assert page.headings[1:5] == ["Schedule", "Offer a time", "Who may be invited", "Invitations"]
    assert f"Invite {study_id}" in page._all("legend")
    assert f"Invite {no_contact}" not in page._all("legend")

    bad = post(console, "/staff/interviews/slots", page, starts_on="tomorrow", minutes="x")
    assert bad.href("Enter the date as 2026-12-01") == "#starts_on"
    assert bad.href("Enter the length in whole minutes") == "#minutes"
    # "²" is a digit to str.isdigit() but not to int(); an offset is not UTC: both refused.
    odd = post(
        console, "/staff/interviews/slots", page, starts_on="2031-03-04",
        starts_time="09:30+05:00", minutes="²", mode="phone", interviewer_id=interviewer,
    )  # fmt: skip
    assert odd.href("Enter the date as 2026-12-01") == "#starts_on"
    assert odd.href("Enter the length in whole minutes") == "#minutes"
    past = post(
        console, "/staff/interviews/slots", page, starts_on="2020-01-01", starts_time="10:00",
        minutes="60", mode="phone", interviewer_id=interviewer,
    )  # fmt: skip
    assert past.href("Starts at: must be in the future") == "#starts_on"
    made = post(
        console, "/staff/interviews/slots", page, starts_on="2031-03-04", starts_time="09:30",
        minutes="45", mode="in_person", interviewer_id=interviewer,
    )  # fmt: skip
    assert made.h1 == "Interviews"
    row = next(r for r in made.text.split("Tue 4 Mar 2031")[1:2])
    assert "45 in person Interviewer Robin" in row

    refused = post(console, "/staff/interviews/invite", made, study_id=no_contact, channel="phone")
    assert refused.href("This participant") == (f"#channel-{no_contact}")
    invited_page = post(
        console, "/staff/interviews/invite", made, study_id=study_id, channel="email"
    )
    assert f"Invite {study_id}" not in invited_page._all("legend")
    detail_href = invited_page.href(study_id)
    interview_id = detail_href.rsplit("/", 1)[1]
    detail = read(console, detail_href)
    assert detail.h1 == f"Interview with {study_id}"
    assert detail.href("Recording and transcript") == f"/staff/interviews/{interview_id}/files"
    [slot_label] = [label for label in detail.labels if "4 March 2031" in label]
    slot_id = re.search(r'name="slot_id"[^>]*value="([^"]+)"', detail.html)
    assert slot_id is not None and "in person" in slot_label
    booked = post(
        console, f"/staff/interviews/{interview_id}/schedule", detail, slot_id=slot_id.group(1)
    )
    assert "scheduled" in booked.text and "Interviewer Robin" in booked.text
    assert status_of(client, me, interview_id) == "scheduled"
    schedule = read(console, "/staff/interviews")
    assert "Booked slot of 4 Mar 09:30" in schedule.links
    finished = post(console, f"/staff/interviews/{interview_id}/done", booked)
    assert status_of(client, me, interview_id) == "done"
    again = console.post(
        f"/staff/interviews/{interview_id}/cancel", data={"csrf_token": finished.csrf}, headers=HTML
    )
    assert again.status_code == 422
    assert (
        "An interview that is done cannot be cancelled" in Page(again.get_data(as_text=True)).text
    )
