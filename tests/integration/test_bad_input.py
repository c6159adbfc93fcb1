"""A practice's day with people who mistype, tinker and attack.

Every refusal must be a clear German message with a 4xx status (for a WebSocket:
a 4xxx close code with a reason), never a 500 or a stack trace, and whatever was
recorded before (the appointment, the patient's consent) must still be there.

Most scenarios share one real server (`sprechzimmer serve` in a subprocess) with
one practice, one consented appointment (Erika Mustermann) and one appointment
whose patient has not consented yet (Max Mustermann). Scenarios that need time to
pass run the application in-process with a clock the test moves.
"""

import email
import email.policy
import html
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from uuid import UUID

import httpx
import pytest
from starlette.testclient import TestClient
from starlette.websockets import WebSocketDisconnect
from websockets.exceptions import ConnectionClosed

from adapters.web.app import create_app
from application.config import load_settings
from application.runtime import Runtime
from domain.local_time import PRACTICE_TIMEZONE, in_practice_time
from tests.support.mailbox import Mailbox
from tests.support.practice import (
    PASSWORD,
    TERMS_VERSION,
    PracticeClient,
    cancel_link_in,
    csrf_of,
    give_consent,
    join_link_in,
    soon,
)
from tests.support.server import PROJECT_ROOT, RunningServer
from tests.support.sockets import (
    Closed,
    closing,
    next_message,
    open_socket,
    refusal,
    send,
)

FORM_ERROR = re.compile(r'<p class="error" role="alert">([^<]+)</p>')
PAGE_MESSAGE = re.compile(r'<p class="lead">([^<]+)</p>')
UNKNOWN_LINK = r"Dieser Link ist uns nicht bekannt"
# Origins a browser sends from elsewhere; {us} stands for our host and port.
FOREIGN_ORIGINS = [
    None,
    "https://evil.example",
    "null",
    "https://{us}",
    "http://{us}.evil.example",
]


# What the practice has recorded before the trouble starts


@dataclass
class PracticeDay:
    server: RunningServer
    mailbox: Mailbox
    practice: PracticeClient
    starts: datetime
    appointment_id: str
    join_link: str
    join_token: str
    cancel_token: str
    unconsented_link: str

    @property
    def patient_room(self) -> str:
        return f"/ws/j/{self.join_token}"

    @property
    def practitioner_room(self) -> str:
        return f"/ws/termine/{self.appointment_id}"


@pytest.fixture(scope="module")
def day(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PracticeDay]:
    mailbox = Mailbox()
    mailbox.start()
    try:
        data_dir = tmp_path_factory.mktemp("bad-input") / "data"
        server = RunningServer(data_dir, smtp_url=mailbox.url).start()
        try:
            yield the_morning_before_the_trouble(server, mailbox)
        finally:
            server.stop()
            print("---- server output ----\n" + server.log)
    finally:
        mailbox.stop()


def the_morning_before_the_trouble(
    server: RunningServer, mailbox: Mailbox
) -> PracticeDay:
    """Dr. Weber sets up the practice and invites Erika and Max; Erika has
    already agreed to the terms, Max has not yet."""
    practice = PracticeClient(server)
    # One refused request must not break the next: uvicorn drops a keep-alive
    # connection after an unhandled error.
    practice.http.headers["Connection"] = "close"
    practice.set_up()
    starts = soon()
    assert practice.schedule(starts=starts).status_code == 303
    max_starts = starts + timedelta(minutes=5)
    assert (
        practice.schedule(
            patient_name="Max Mustermann",
            patient_email="max@example.test",
            starts=max_starts,
        ).status_code
        == 303
    )
    erikas_mail = mailbox.wait_for(lambda m: "erika@" in str(m["To"]))
    maxs_mail = mailbox.wait_for(lambda m: "max@" in str(m["To"]))
    join_link = join_link_in(erikas_mail)
    give_consent(join_link)
    calendar = practice.http.get(f"/?datum={starts.date().isoformat()}")
    found = re.search(
        r'href="/termine/([0-9a-f-]{36})">Erika Mustermann<', calendar.text
    )
    assert found, calendar.text
    return PracticeDay(
        server=server,
        mailbox=mailbox,
        practice=practice,
        starts=starts,
        appointment_id=found.group(1),
        join_link=join_link,
        join_token=join_link.rsplit("/", 1)[1],
        cancel_token=cancel_link_in(erikas_mail).rsplit("/", 1)[1],
        unconsented_link=join_link_in(maxs_mail),
    )


def assert_nothing_lost(day: PracticeDay) -> None:
    """The server is healthy, the calendar still lists Erika's appointment, and
    her join link still leads straight into the room: her consent is kept."""
    assert httpx.get(day.server.base_url + "/healthz").status_code == 200
    calendar = day.practice.http.get(f"/?datum={day.starts.date().isoformat()}")
    assert calendar.status_code == 200
    assert f'href="/termine/{day.appointment_id}">Erika Mustermann<' in calendar.text
    room = httpx.get(day.join_link, timeout=20)
    assert room.status_code == 200
    assert f'data-ws-url="/ws/j/{day.join_token}"' in room.text
    assert "/einwilligung" not in room.text


# How a refusal must look


def shown_message(response: httpx.Response) -> str:
    """What the person reads: the error above a form, the text of an error page,
    the error of a JSON answer, or a plain-text answer."""
    content_type = response.headers.get("content-type", "")
    if content_type.startswith("application/json"):
        return str(response.json().get("error", ""))
    if content_type.startswith("text/plain"):
        return response.text
    found = FORM_ERROR.search(response.text) or PAGE_MESSAGE.search(response.text)
    assert found, f"no message shown on a {response.status_code} page"
    return html.unescape(found.group(1)).strip()


def assert_refused(
    response: httpx.Response, status: int | tuple[int, ...], says: str
) -> None:
    statuses = status if isinstance(status, tuple) else (status,)
    assert response.status_code in statuses, (
        f"{response.status_code} instead of {statuses}: {response.text[:300]}"
    )
    assert "Traceback" not in response.text and '.py", line' not in response.text
    message = shown_message(response)
    assert re.search(says, message), f"{message!r} does not say {says!r}"


def assert_socket_refused(closed: Closed, code: int, says: str) -> None:
    assert closed.code == code, closed
    assert re.search(says, closed.reason), closed


# Join links


def test_a_well_formed_join_link_that_was_never_issued_is_not_found(
    day: PracticeDay,
) -> None:
    never_issued = "Q" * 32
    patient = httpx.Client(base_url=day.server.base_url, timeout=20)

    assert_refused(patient.get(f"/j/{never_issued}"), 404, UNKNOWN_LINK)
    assert_refused(
        patient.post(f"/j/{never_issued}/einwilligung", data={"csrf_token": "x"}),
        404,
        UNKNOWN_LINK,
    )
    assert_socket_refused(
        refusal(day.server, f"/ws/j/{never_issued}"), 4404, UNKNOWN_LINK
    )
    assert_nothing_lost(day)


@pytest.mark.parametrize(
    "path",
    [
        pytest.param("/j/abc", id="too-short"),
        pytest.param("/j/" + "A" * 31 + "%21", id="bad-character"),
        pytest.param("/j/" + "A" * 31 + "%20", id="trailing-space"),
        pytest.param("/j/" + "A" * 10_000, id="very-long"),
        pytest.param("/j/%00%ff%fe%01", id="encoded-control-bytes"),
        pytest.param("/j/%2e%2e%2f%2e%2e%2fhealthz", id="encoded-traversal"),
        pytest.param("/j/%252F%2525", id="double-encoded"),
        pytest.param("/j/" + "%F0%9F%98%80" * 8, id="emoji"),
        pytest.param("/j/%3Cscript%3Ealert(1)%3C%2Fscript%3E", id="markup"),
    ],
)
def test_a_malformed_join_link_is_not_found_with_a_clear_message(
    day: PracticeDay, path: str
) -> None:
    response = httpx.get(day.server.base_url + path, timeout=20)

    assert_refused(
        response, 404, f"{UNKNOWN_LINK}|Diese Seite gibt es nicht. Bitte prüfen"
    )
    assert "<script>alert" not in response.text


def test_only_the_exact_join_link_opens_the_room(day: PracticeDay) -> None:
    patient = httpx.Client(base_url=day.server.base_url, timeout=20)
    wrong_case = day.join_token.swapcase()

    assert_refused(patient.get(f"/j/{wrong_case}"), 404, UNKNOWN_LINK)
    # The cancellation link is a different key, not a second way into the room.
    assert_refused(patient.get(f"/j/{day.cancel_token}"), 404, UNKNOWN_LINK)
    assert_refused(patient.get(f"/c/{day.join_token}"), 404, UNKNOWN_LINK)
    assert_socket_refused(
        refusal(day.server, f"/ws/j/{day.cancel_token}"), 4404, UNKNOWN_LINK
    )
    assert_nothing_lost(day)


# The same join link in two tabs


def test_the_same_join_link_in_a_second_tab_takes_over_from_the_first(
    day: PracticeDay,
) -> None:
    with open_socket(day.server, day.patient_room) as first_tab:
        assert next_message(first_tab) == {"type": "waiting"}

        with open_socket(day.server, day.patient_room) as second_tab:
            assert next_message(second_tab) == {"type": "waiting"}
            assert_socket_refused(closing(first_tab), 4001, "anderen Fenster")

            send(second_tab, {"type": "ping"})
            assert next_message(second_tab) == {"type": "pong"}
    assert_nothing_lost(day)


# Forms


def tomorrow() -> datetime:
    return (in_practice_time(datetime.now(UTC)) + timedelta(days=1)).replace(
        hour=10, minute=0, second=0, microsecond=0
    )


def schedule_form(day: PracticeDay, /, **fields: str | None) -> httpx.Response:
    """Submits the calendar's scheduling form; a field given as None is left
    out, as a tampered form would leave it out."""
    calendar = day.practice.http.get("/")
    starts = tomorrow()
    data: dict[str, str | None] = {
        "csrf_token": csrf_of(calendar),
        "patient_name": "Jana Beispiel",
        "patient_email": "jana@example.test",
        "day": starts.date().isoformat(),
        "clock": f"{starts:%H:%M}",
        "duration": "15",
        "note": "",
        **fields,
    }
    sent = {name: value for name, value in data.items() if value is not None}
    return day.practice.http.post("/termine", data=sent)


def assert_nothing_scheduled_for_jana(day: PracticeDay) -> None:
    for shown in (tomorrow(), in_practice_time(datetime.now(UTC))):
        calendar = day.practice.http.get(f"/?datum={shown.date().isoformat()}")
        assert calendar.status_code == 200
        assert ">Jana Beispiel<" not in calendar.text


@pytest.mark.parametrize(
    ("field", "says"),
    [
        ("patient_name", "Bitte geben Sie den Namen der Patientin"),
        ("patient_email", "gültige E-Mail-Adresse"),
        ("day", r"gültiges Datum an \(Datum\)"),
        ("clock", r"gültige Uhrzeit an \(Uhrzeit\)"),
        ("duration", r"ganze Zahl an \(Dauer\)"),
    ],
)
def test_a_scheduling_form_with_a_missing_field_says_what_is_missing(
    day: PracticeDay, field: str, says: str
) -> None:
    assert_refused(schedule_form(day, **{field: None}), 422, says)
    assert_nothing_scheduled_for_jana(day)
    assert_nothing_lost(day)


@pytest.mark.parametrize(
    ("fields", "says"),
    [
        pytest.param({"duration": "abc"}, "ganze Zahl", id="duration-abc"),
        pytest.param(
            {"duration": "-15"},
            "ganze Zahl|zwischen 5 und 240 Minuten",
            id="duration-negative",
        ),
        pytest.param({"duration": "²"}, "ganze Zahl", id="duration-superscript"),
        pytest.param(
            {"duration": "100000"}, "zwischen 5 und 240 Minuten", id="duration-huge"
        ),
        pytest.param({"day": "2026-13-45"}, "gültiges Datum", id="day-2026-13-45"),
        pytest.param({"day": "morgen"}, "gültiges Datum", id="day-word"),
        pytest.param(
            {"day": "0001-01-01", "clock": "00:30"},
            "Vergangenheit|gültiges Datum",
            id="day-year-one",
        ),
        pytest.param({"clock": "25:99"}, "gültige Uhrzeit", id="clock-25:99"),
        pytest.param({"clock": "10 Uhr"}, "gültige Uhrzeit", id="clock-words"),
        pytest.param(
            {"patient_email": "jana@example.test\r\nBcc: alle@example.test"},
            "E-Mail",
            id="email-header-injection",
        ),
        pytest.param(
            {"patient_name": "Jana\x00Beispiel"},
            "Steuer- oder Formatzeichen",
            id="name-nul",
        ),
    ],
)
def test_a_scheduling_form_with_a_wrong_value_says_what_is_wrong(
    day: PracticeDay, fields: dict[str, str], says: str
) -> None:
    response = schedule_form(day, **fields)

    assert_refused(response, 422, says)
    assert_nothing_scheduled_for_jana(day)
    assert_nothing_lost(day)


@pytest.mark.parametrize("length", [1_000, 10_000])
def test_an_oversized_name_is_refused_as_too_long(
    day: PracticeDay, length: int
) -> None:
    response = schedule_form(day, patient_name="J" * length)

    assert_refused(response, (413, 422), "zu lang|zu groß|höchstens")
    assert_nothing_lost(day)


def test_a_form_body_over_64_kib_is_refused_with_413(day: PracticeDay) -> None:
    response = schedule_form(day, note="x" * (65 * 1024))

    assert_refused(response, 413, "zu groß")
    assert_nothing_lost(day)


def test_a_form_body_over_64_kib_sent_without_its_length_is_refused_with_413(
    day: PracticeDay,
) -> None:
    calendar = day.practice.http.get("/")
    form_start = f"csrf_token={csrf_of(calendar)}&note=".encode()

    def chunks() -> Iterator[bytes]:
        yield form_start
        for _ in range(70):
            yield b"x" * 1024

    response = day.practice.http.post(
        "/termine",
        content=chunks(),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )

    assert "content-length" not in response.request.headers
    assert_refused(response, 413, "zu groß")
    assert_nothing_lost(day)


def test_a_form_without_or_with_a_wrong_csrf_token_is_refused_with_403(
    day: PracticeDay,
) -> None:
    expired = "Formular ist abgelaufen"
    assert_refused(schedule_form(day, csrf_token=None), 403, expired)
    assert_refused(schedule_form(day, csrf_token="nachgemacht"), 403, expired)
    assert_nothing_scheduled_for_jana(day)

    login = httpx.Client(base_url=day.server.base_url, timeout=20)
    login.get("/anmelden")
    assert_refused(
        login.post(
            "/anmelden", data={"email": "weber@praxis.test", "password": PASSWORD}
        ),
        403,
        expired,
    )

    # Max has not consented; a forged consent must not count as his.
    patient = httpx.Client(timeout=20)
    form = patient.get(day.unconsented_link)
    terms = TERMS_VERSION.search(form.text)
    assert terms
    for token in (None, "nachgemacht"):
        data = {
            "terms_version": terms.group(1),
            "name_confirmed": "on",
            "terms_accepted": "on",
        }
        if token:
            data["csrf_token"] = token
        answer = patient.post(day.unconsented_link + "/einwilligung", data=data)
        assert_refused(answer, 403, expired)
    assert "/einwilligung" in patient.get(day.unconsented_link).text
    assert_nothing_lost(day)


def test_a_consent_form_with_missing_boxes_or_old_terms_is_not_recorded(
    day: PracticeDay,
) -> None:
    patient = httpx.Client(timeout=20)
    form = patient.get(day.unconsented_link)
    terms = TERMS_VERSION.search(form.text)
    assert terms
    both_boxes = {"name_confirmed": "on", "terms_accepted": "on"}
    attempts = [
        ({**both_boxes, "terms_version": "2020-01"}, "aktualisiert"),
        ({**both_boxes, "terms_version": "9" * 50}, "zu lang|aktualisiert"),
        ({"terms_accepted": "on"}, "eingeladene Person"),
        # Only the box for the terms is missing; the message must say so.
        ({"name_confirmed": "on"}, "Nutzungsbedingungen"),
    ]
    for fields, says in attempts:
        data = {"csrf_token": csrf_of(form), "terms_version": terms.group(1), **fields}
        answer = patient.post(day.unconsented_link + "/einwilligung", data=data)
        assert_refused(answer, (403, 422), says)
    assert "/einwilligung" in patient.get(day.unconsented_link).text
    assert_nothing_lost(day)


def test_a_start_time_in_the_past_is_refused_with_a_clear_message(
    day: PracticeDay,
) -> None:
    five_minutes_ago = in_practice_time(datetime.now(UTC)) - timedelta(minutes=5)
    response = schedule_form(
        day, day=five_minutes_ago.date().isoformat(), clock=f"{five_minutes_ago:%H:%M}"
    )

    assert_refused(response, 422, "liegt in der Vergangenheit")
    assert f"{five_minutes_ago:%d.%m.%Y um %H:%M} Uhr" in shown_message(response)
    assert_nothing_scheduled_for_jana(day)
    assert_nothing_lost(day)


def test_a_start_time_skipped_when_clocks_go_forward_is_refused(
    day: PracticeDay,
) -> None:
    response = schedule_form(day, day="2027-03-28", clock="02:30")

    assert_refused(response, 422, "gibt es 02:30 Uhr nicht")
    assert "Uhren von 2 auf 3 Uhr vorgestellt" in shown_message(response)
    # What the practitioner typed is still in the form, ready to be corrected.
    assert 'value="Jana Beispiel"' in response.text
    assert 'value="2027-03-28"' in response.text
    calendar = day.practice.http.get("/?datum=2027-03-28")
    assert ">Jana Beispiel<" not in calendar.text
    assert_nothing_lost(day)


@pytest.mark.parametrize(
    "query",
    [
        "?datum=0001-01-01",
        "?datum=9999-12-31",
        "?datum=0001-01-01&ansicht=woche",
        "?datum=9999-12-31&ansicht=woche",
        "?datum=2026-02-30",
        "?datum=%00&ansicht=%ff",
    ],
)
def test_a_calendar_asked_for_an_impossible_day_is_no_server_error(
    day: PracticeDay, query: str
) -> None:
    response = day.practice.http.get("/" + query)

    assert response.status_code < 500, response.text[:300]
    assert "Traceback" not in response.text
    assert_nothing_lost(day)


# Logging in


def log_in(base_url: str, email: str, password: str) -> httpx.Response:
    browser = httpx.Client(base_url=base_url, timeout=20)
    form = browser.get("/anmelden")
    return browser.post(
        "/anmelden",
        data={"csrf_token": csrf_of(form), "email": email, "password": password},
    )


def test_a_wrong_password_is_refused_with_401(day: PracticeDay) -> None:
    base_url = day.server.base_url
    wrong = log_in(base_url, "weber@praxis.test", "Sprechstunde-2025!")
    assert_refused(wrong, 401, "E-Mail-Adresse oder Passwort ist falsch")
    unknown = log_in(base_url, "niemand@praxis.test", PASSWORD)
    assert_refused(unknown, 401, "E-Mail-Adresse oder Passwort ist falsch")

    assert log_in(base_url, "weber@praxis.test", PASSWORD).status_code == 303
    assert_nothing_lost(day)


def test_after_five_failed_logins_the_next_attempt_has_to_wait(
    server: RunningServer,
) -> None:
    PracticeClient(server).set_up()
    for _ in range(5):
        wrong = log_in(server.base_url, "weber@praxis.test", "geraten-123456")
        assert_refused(wrong, 401, "ist falsch")

    blocked = log_in(server.base_url, "weber@praxis.test", PASSWORD)
    assert_refused(blocked, 429, "Zu viele fehlgeschlagene Versuche")
    assert httpx.get(server.base_url + "/healthz").status_code == 200


# The signaling sockets


@pytest.mark.parametrize(
    ("message", "says"),
    [
        pytest.param("Hallo Praxis", "kein gültiges JSON", id="not-json"),
        pytest.param("", "kein gültiges JSON", id="empty"),
        pytest.param(b"\x00\xff\xfe", "kein gültiges JSON", id="binary"),
        pytest.param("[" * 5000 + "]" * 5000, "kein gültiges JSON", id="nested"),
        pytest.param('[{"type": "ping"}]', "JSON-Objekt", id="json-array"),
        pytest.param('"ping"', "JSON-Objekt", id="json-string"),
        pytest.param('{"type": "screenshot"}', "Unbekannter", id="unknown-type"),
        pytest.param('{"kind": "ping"}', "Unbekannter", id="no-type"),
        pytest.param('{"type": ["ping"]}', "Unbekannter", id="type-not-text"),
        pytest.param('{"type": "ping", "extra": 1}', "unerlaubte Felder", id="extra"),
        pytest.param(
            '{"type": "offer", "sdp": "v=0\\r\\na=' + "x" * 50_000 + '"}',
            "ungültiges Feld",
            id="huge-sdp",
        ),
        pytest.param(
            '{"type": "answer", "sdp": "<script>alert(1)</script>"}',
            "Sitzungsbeschreibung",
            id="not-sdp",
        ),
        pytest.param(
            '{"type": "offer", "sdp": 42}', "ungültiges Feld", id="sdp-number"
        ),
        pytest.param(
            '{"type": "candidate", "candidate": {"candidate": "x", '
            '"sdpMLineIndex": 99999999999999999999999}}',
            "Verbindungskandidat",
            id="candidate-huge-index",
        ),
        pytest.param(
            '{"type": "candidate", "candidate": "a=candidate:1"}',
            "Verbindungskandidat",
            id="candidate-not-object",
        ),
        pytest.param(
            '{"type": "media-state", "audio": "an", "video": true}',
            "Medienstatus",
            id="media-state-wrong-type",
        ),
    ],
)
def test_garbage_on_the_patient_socket_closes_it_with_4400(
    day: PracticeDay, message: str | bytes, says: str
) -> None:
    with open_socket(day.server, day.patient_room) as socket:
        assert next_message(socket) == {"type": "waiting"}

        socket.send(message)

        assert_socket_refused(closing(socket), 4400, says)
    assert_nothing_lost(day)


def another_room_message(kind: str, other_room: str) -> dict:
    """A well-formed message with one field more: the room it claims to be for."""
    messages: dict[str, dict] = {
        "offer": {"type": "offer", "sdp": "v=0\r\n", "room": other_room},
        "candidate": {
            "type": "candidate",
            "candidate": None,
            "appointmentId": other_room,
        },
        "hangup": {"type": "hangup", "to": other_room},
    }
    return messages[kind]


@pytest.mark.parametrize("kind", ["offer", "candidate", "hangup"])
def test_a_message_addressed_to_another_room_closes_the_socket_with_4400(
    day: PracticeDay, kind: str
) -> None:
    other_room = "00000000-0000-4000-8000-000000000000"
    with open_socket(day.server, day.patient_room) as patient:
        assert next_message(patient) == {"type": "waiting"}
        send(patient, another_room_message(kind, other_room))
        assert_socket_refused(closing(patient), 4400, "unerlaubte Felder")

    logged_in = day.practice.http
    with open_socket(day.server, day.practitioner_room, logged_in=logged_in) as own:
        assert next_message(own)["type"] == "presence"
        send(own, another_room_message(kind, other_room))
        assert_socket_refused(closing(own), 4400, "unerlaubte Felder")
    assert_nothing_lost(day)


def test_a_frame_over_64_kib_is_refused_and_the_server_stays_up(
    day: PracticeDay,
) -> None:
    with open_socket(day.server, day.patient_room) as socket:
        assert next_message(socket) == {"type": "waiting"}

        socket.send('{"type": "offer", "sdp": "v=0' + "x" * (70 * 1024) + '"}')

        closed = closing(socket)
    # 1009 is the protocol's own "message too big"; a 4xxx code would do too.
    assert closed.code in (1009, 4400, 4413), closed
    assert_nothing_lost(day)


def test_a_flood_of_messages_closes_the_socket_with_4429(day: PracticeDay) -> None:
    with open_socket(day.server, day.patient_room) as socket:
        assert next_message(socket) == {"type": "waiting"}

        for _ in range(400):
            try:
                socket.send('{"type": "ping"}')
            except ConnectionClosed:  # the server has hung up already
                break

        assert_socket_refused(closing(socket), 4429, "Zu viele Nachrichten")
    assert_nothing_lost(day)


@pytest.mark.parametrize(
    "origin",
    FOREIGN_ORIGINS,
    ids=["none", "foreign", "null", "other-scheme", "our-name-as-prefix"],
)
def test_a_socket_without_our_origin_is_refused_with_4403(
    day: PracticeDay, origin: str | None
) -> None:
    if origin is not None:
        origin = origin.format(us=day.server.base_url.split("://", 1)[1])
    logged_in = day.practice.http
    for path in (day.patient_room, day.practitioner_room, "/ws/praxis"):
        closed = refusal(day.server, path, origin=origin, logged_in=logged_in)
        assert closed.code == 4403, (path, closed)
        assert closed.reason, (path, closed)
    assert_nothing_lost(day)


def test_the_practitioner_sockets_without_login_are_refused_with_4403(
    day: PracticeDay,
) -> None:
    for path in (day.practitioner_room, "/ws/praxis", "/ws/termine/kein-termin"):
        assert_socket_refused(refusal(day.server, path), 4403, "melden Sie sich an")
    assert_nothing_lost(day)


def test_the_patient_socket_before_consent_is_refused_with_4403(
    day: PracticeDay,
) -> None:
    token = day.unconsented_link.rsplit("/", 1)[1]

    closed = refusal(day.server, f"/ws/j/{token}")

    assert_socket_refused(closed, 4403, "Nutzungsbedingungen")
    assert "/einwilligung" in httpx.get(day.unconsented_link, timeout=20).text
    assert_nothing_lost(day)


# Another practitioner of the same practice


def add_practitioner(
    server: RunningServer, name: str, email: str, password: str
) -> None:
    """As the operator does it: `sprechzimmer practitioner add` on the same data."""
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "adapters.cli.main",
            "practitioner",
            "add",
            "--name",
            name,
            "--email",
            email,
            "--password-stdin",
        ],
        input=password + "\n",
        cwd=PROJECT_ROOT,
        env={**os.environ, **server.tool_environment()},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr


def test_another_practitioners_appointment_is_not_found_and_not_touched(
    day: PracticeDay,
) -> None:
    add_practitioner(
        day.server, "Dr. Jonas Klein", "klein@praxis.test", "Zweite-Praxis-2026"
    )
    klein = httpx.Client(base_url=day.server.base_url, timeout=20)
    form = klein.get("/anmelden")
    logged_in = klein.post(
        "/anmelden",
        data={
            "csrf_token": csrf_of(form),
            "email": "klein@praxis.test",
            "password": "Zweite-Praxis-2026",
        },
    )
    assert logged_in.status_code == 303
    calendar = klein.get(f"/?datum={day.starts.date().isoformat()}")
    assert "Erika Mustermann" not in calendar.text
    csrf = csrf_of(calendar)
    not_yours = "Diesen Termin gibt es nicht in Ihrem Kalender"

    assert_refused(klein.get(f"/termine/{day.appointment_id}"), 404, not_yours)
    for action in ("einlassen", "beenden", "nicht-erschienen"):
        answer = klein.post(
            f"/termine/{day.appointment_id}/{action}", headers={"X-CSRF-Token": csrf}
        )
        assert_refused(answer, 404, not_yours)
    assert_socket_refused(
        refusal(day.server, day.practitioner_room, logged_in=klein), 4404, not_yours
    )

    # Erika still waits to be let in by Dr. Weber: not admitted, not ended.
    with open_socket(day.server, day.patient_room) as patient:
        assert next_message(patient) == {"type": "waiting"}
    assert day.practice.http.get(f"/termine/{day.appointment_id}").status_code == 200
    assert_nothing_lost(day)


def test_room_actions_without_the_csrf_header_are_refused_with_403(
    day: PracticeDay,
) -> None:
    for header in ({}, {"X-CSRF-Token": "nachgemacht"}):
        answer = day.practice.http.post(
            f"/termine/{day.appointment_id}/beenden", headers=header
        )
        assert_refused(answer, 403, "Sitzung abgelaufen")
    anonymous = httpx.post(
        f"{day.server.base_url}/termine/{day.appointment_id}/einlassen", timeout=20
    )
    assert_refused(anonymous, 401, "melden Sie sich an")
    assert_nothing_lost(day)


# Too early and too late: the application in-process, with a clock we move


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def set_to(self, local: str) -> None:
        self.now = datetime.fromisoformat(local).replace(tzinfo=PRACTICE_TIMEZONE)


@dataclass
class InProcessPractice:
    """Dr. Weber's browser, logged in; Erika's link is opened in it too (the
    patient's pages do not look at who is logged in), which keeps one event
    loop for the whole application."""

    browser: TestClient
    runtime: Runtime
    clock: Clock
    outbox: Path

    def log_in(self) -> None:
        form = self.browser.get("/anmelden")
        response = self.browser.post(
            "/anmelden",
            data={
                "csrf_token": csrf_of(form),
                "email": "weber@praxis.test",
                "password": PASSWORD,
            },
            follow_redirects=False,
        )
        assert response.status_code == 303, response.text

    def schedule_erika_at(self, local: str) -> str:
        """Schedules Erika Mustermann's appointment and returns her join link
        from the invitation that lands in the outbox."""
        starts = datetime.fromisoformat(local)
        form = self.browser.get("/")
        response = self.browser.post(
            "/termine",
            data={
                "csrf_token": csrf_of(form),
                "patient_name": "Erika Mustermann",
                "patient_email": "erika@example.test",
                "day": starts.date().isoformat(),
                "clock": f"{starts:%H:%M}",
                "duration": "15",
                "note": "",
            },
            follow_redirects=False,
        )
        assert response.status_code == 303, response.text
        return httpx.URL(join_link_in(self.invitation())).path

    def appointment_id(self, day: str) -> UUID:
        calendar = self.browser.get(f"/?datum={day}")
        found = re.search(
            r'href="/termine/([0-9a-f-]{36})">Erika Mustermann<', calendar.text
        )
        assert found, calendar.text
        return UUID(found.group(1))

    def invitation(self) -> EmailMessage:
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            for path in self.outbox.glob("*.eml"):
                message = email.message_from_bytes(
                    path.read_bytes(), policy=email.policy.default
                )
                assert isinstance(message, EmailMessage)
                return message
            time.sleep(0.05)
        raise AssertionError("no invitation in the outbox")

    def consent(self, join_path: str) -> httpx.Response:
        form = self.browser.get(join_path)
        terms = TERMS_VERSION.search(form.text)
        return self.browser.post(
            join_path + "/einwilligung",
            data={
                "csrf_token": csrf_of(form),
                "terms_version": terms.group(1) if terms else "",
                "name_confirmed": "on",
                "terms_accepted": "on",
            },
            follow_redirects=False,
        )

    def socket_refusal(self, join_path: str) -> Closed:
        token = join_path.rsplit("/", 1)[1]
        with (
            pytest.raises(WebSocketDisconnect) as refused,
            self.browser.websocket_connect(
                f"/ws/j/{token}", headers={"origin": "http://testserver"}
            ) as socket,
        ):
            socket.receive_json()
        return Closed(refused.value.code, str(refused.value.reason))


@contextmanager
def practice_in_process(data_dir: Path, clock: Clock) -> Iterator[InProcessPractice]:
    settings = load_settings(
        {
            "SPRECHZIMMER_DATA_DIR": str(data_dir),
            "SPRECHZIMMER_BASE_URL": "http://testserver",
        }
    )
    runtime = Runtime(settings, clock=clock)
    try:
        runtime.consultations.set_up_practice(
            practice_name="Praxis am Markt",
            name="Dr. Anna Weber",
            email="weber@praxis.test",
            password=PASSWORD,
            at=clock(),
        )
        app = create_app(runtime, announce_setup_link=False)
        with TestClient(app, raise_server_exceptions=False) as browser:
            practice = InProcessPractice(browser, runtime, clock, settings.outbox_dir)
            practice.log_in()
            yield practice
    finally:
        runtime.close()


def test_a_join_link_opened_too_early_shows_when_the_waiting_room_opens(
    tmp_path: Path,
) -> None:
    clock = Clock(datetime(2027, 2, 10, 8, 0, tzinfo=PRACTICE_TIMEZONE))
    with practice_in_process(tmp_path / "data", clock) as practice:
        join_path = practice.schedule_erika_at("2027-02-10 10:00")

        early = practice.browser.get(join_path)
        assert early.status_code == 200
        assert "Der Zugang öffnet um <strong>09:45 Uhr (MEZ)</strong>" in early.text
        assert "/einwilligung" not in early.text

        # A patient who skips the page gets the same answer, not a way in.
        refused = practice.consent(join_path)
        assert refused.status_code == 403
        assert "Der Zugang öffnet am 10.02.2027 um 09:45 Uhr" in refused.text
        assert_socket_refused(practice.socket_refusal(join_path), 4403, "09:45 Uhr")

        clock.set_to("2027-02-10 09:45")
        assert "/einwilligung" in practice.browser.get(join_path).text


def test_a_join_link_after_the_appointment_has_ended_is_gone_with_410(
    tmp_path: Path,
) -> None:
    clock = Clock(datetime(2027, 2, 10, 8, 0, tzinfo=PRACTICE_TIMEZONE))
    with practice_in_process(tmp_path / "data", clock) as practice:
        join_path = practice.schedule_erika_at("2027-02-10 10:00")
        clock.set_to("2027-02-10 09:50")
        assert practice.consent(join_path).status_code == 303
        consented_at = clock()

        clock.set_to("2027-02-10 10:15:01")
        expired = practice.browser.get(join_path)
        assert expired.status_code == 410
        assert "Der Termin ist vorbei, der Link ist nicht mehr gültig" in expired.text
        assert "Traceback" not in expired.text
        # Sending the consent form again changes nothing: the link stays gone.
        again = practice.consent(join_path)
        if again.is_redirect:
            again = practice.browser.get(join_path)
        assert again.status_code == 410
        assert_socket_refused(practice.socket_refusal(join_path), 4403, "vorbei")

        # Nothing recorded is lost: the calendar lists it, the consent is kept.
        appointment_id = practice.appointment_id("2027-02-10")
        recorded = practice.runtime.consultations.appointment(appointment_id)
        assert recorded.consent_given_at == consented_at
        assert practice.browser.get(f"/termine/{appointment_id}").status_code == 200
