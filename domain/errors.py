"""Rules of the practice that a command can break.

Each error carries a message a person can act on; the web layer shows it as it
is. The messages are German because practitioners and patients read them.
"""


class DomainError(Exception):
    """A command broke a rule; the message says which and what to do."""

    status_code = 422

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidAppointmentDetails(DomainError):
    """The details of an appointment are incomplete or out of range."""


class StartInThePast(DomainError):
    """An appointment cannot start before the moment it is scheduled."""


class NonexistentLocalTime(DomainError):
    """The start time falls into the hour skipped when clocks go forward."""


class JoinWindowNotOpenYet(DomainError):
    status_code = 403


class JoinWindowClosed(DomainError):
    status_code = 410


class AppointmentNotActive(DomainError):
    """The appointment is completed, or was recorded as a no-show."""

    status_code = 409


class ConsentMissing(DomainError):
    status_code = 403


class PatientNotWaiting(DomainError):
    status_code = 409


class NoShowTooEarly(DomainError):
    status_code = 409


class UnknownPractitioner(DomainError):
    status_code = 404


class PracticeAlreadySetUp(DomainError):
    status_code = 409


class InvalidAccountDetails(DomainError):
    """Name, e-mail address or password of an account do not fit the rules."""


class AlreadyCancelled(DomainError):
    status_code = 409


class AppointmentWasCancelled(DomainError):
    status_code = 410


class CancellationTooLate(DomainError):
    status_code = 409


class InvalidPracticeSettings(DomainError):
    """A practice setting is out of range or malformed."""


class PersonalDataGone(DomainError):
    """The appointment's personal data was shredded; it can only be looked at."""

    status_code = 410


class TooManyPatients(DomainError):
    """A group appointment has room for eight patients at most."""


class UnknownPatient(DomainError):
    """No patient of this appointment has that id."""

    status_code = 404


class RemovedFromCall(DomainError):
    """The practitioner removed this patient from the group call for good."""

    status_code = 403
