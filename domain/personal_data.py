"""Which event fields name or reach a person, and whose data they are.

Events declare their personal fields; the store encrypts exactly those under a
key of the data's owner (an appointment, or a practitioner's account), so that
deleting that one key makes them unreadable while the event log, its IDs,
times and states stay intact.
"""

from typing import Any, ClassVar

SHREDDED = "[gelöscht]"


class HasPersonalData:
    """Mixed into an event class: `personal_fields` names the fields to encrypt;
    the owner of the data is the event's aggregate."""

    personal_fields: ClassVar[tuple[str, ...]] = ()


def personal_fields_of(event_class: type[Any]) -> tuple[str, ...]:
    return tuple(getattr(event_class, "personal_fields", ()))
