"""The patient's join page, served from memory.

At the top of the hour many patients open their links at once; the page they
see (consent form or video room) depends only on their appointment as the read
model knows it, so it is rendered once and kept until the model changes. No
session is needed: the consent form's CSRF token is bound to the link token
by an HMAC, and the link token itself is the secret that reaches this page.
"""

import hashlib
import hmac
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from adapters.web.templating import templates
from application.runtime import Runtime
from application.tokens import hash_token, is_well_formed
from domain.appointment import CURRENT_TERMS_VERSION
from domain.patient_seat import PatientSeat
from projections.calendar import CalendarEntry

CACHED_PAGES = 2000


@dataclass(frozen=True)
class JoinPageContext:
    entry: CalendarEntry
    practice_name: str
    practitioner_name: str


class JoinPages:
    def __init__(self, runtime: Runtime) -> None:
        self._runtime = runtime
        self._rendered: OrderedDict[tuple[Any, ...], bytes] = OrderedDict()

    def entry(self, token: str) -> CalendarEntry | None:
        found = self.seat(token)
        return found[0] if found else None

    def seat(self, token: str) -> tuple[CalendarEntry, PatientSeat] | None:
        """The appointment and the patient whose join link this is."""
        if not is_well_formed(token):
            return None
        return self._runtime.calendar.seat_by_join_token_hash(hash_token(token))

    def consent_csrf(self, token: str) -> str:
        return self.link_csrf("consent", token)

    def link_csrf(self, form: str, token: str) -> str:
        """A CSRF token bound to a link token: it works without a session
        cookie, and only whoever holds the link can know it."""
        return hmac.new(
            self._runtime.settings.secret_key,
            f"{form}:{token}".encode(),
            hashlib.sha256,
        ).hexdigest()

    def render(
        self, template: str, token: str, entry: CalendarEntry, patient: PatientSeat
    ) -> bytes:
        """The consent form or the room page for this link, from the cache when
        nothing changed since it was rendered."""
        calendar = self._runtime.calendar
        directory = self._runtime.directory
        key = (template, token, calendar.changes, directory.changes)
        page = self._rendered.get(key)
        if page is None:
            page = (
                templates.get_template(template)
                .render(
                    appointment=entry,
                    patient=patient,
                    token=token,
                    csrf_token=self.consent_csrf(token),
                    terms_version=CURRENT_TERMS_VERSION,
                    ice_servers=self._runtime.settings.ice_servers,
                    practice={"name": directory.practice_name},
                    practitioner={
                        "name": directory.practitioner_name(entry.practitioner_id)
                    },
                    practitioner_id=None,
                )
                .encode()
            )
            self._rendered[key] = page
            if len(self._rendered) > CACHED_PAGES:
                self._rendered.popitem(last=False)
        return page
