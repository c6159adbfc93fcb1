"""Who the practice and its practitioners are, as patients' pages name them."""

from functools import singledispatchmethod
from typing import Any
from uuid import UUID

from domain.practice import Practice, Practitioner


class PracticeDirectory:
    def __init__(self) -> None:
        self.practice_name = ""
        self._practitioner_names: dict[UUID, str] = {}
        self.changes = 0

    def practitioner_name(self, practitioner_id: UUID) -> str:
        return self._practitioner_names.get(practitioner_id, "")

    def apply(self, domain_event: Any) -> None:
        self._apply(domain_event)

    @singledispatchmethod
    def _apply(self, domain_event: Any) -> None:
        """Events that name nobody."""

    @_apply.register
    def _(self, domain_event: Practice.Founded) -> None:
        self.practice_name = domain_event.name
        self.changes += 1

    @_apply.register
    def _(self, domain_event: Practice.SettingsChanged) -> None:
        self.practice_name = domain_event.name
        self.changes += 1

    @_apply.register
    def _(self, domain_event: Practitioner.Registered) -> None:
        self._practitioner_names[domain_event.originator_id] = domain_event.name
        self.changes += 1
