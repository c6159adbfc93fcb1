"""Whether a decided mail still makes sense at the moment it would go out."""

from datetime import datetime

from domain.appointment import Appointment
from domain.outgoing_mail import MailKind, OutgoingMail
from domain.patient_seat import FIRST_PATIENT

ABOUT_THE_CANCELLATION = {
    MailKind.CANCELLATION_CONFIRMATION,
    MailKind.CANCELLED_BY_PRACTICE,
    MailKind.CANCELLATION_NOTICE,
}


def reason_to_skip(
    mail: OutgoingMail, appointment: Appointment, at: datetime
) -> str | None:
    if appointment.shredded_at is not None:
        return "personenbezogene Daten gelöscht"
    if mail.kind in ABOUT_THE_CANCELLATION:
        return None
    if appointment.cancelled_at is not None:
        return "Termin wurde abgesagt"
    seat = appointment.patients.get(mail.patient_id or FIRST_PATIENT)
    if seat is None or seat.is_cancelled:
        return "Patient/in hat abgesagt"
    if seat.is_removed:
        return "Patient/in wurde aus dem Termin entfernt"
    if appointment.is_finished:
        return "Termin ist beendet"
    if (
        mail.kind in (MailKind.INVITATION, MailKind.INVITATION_UPDATE)
        and at > appointment.ends_at
    ):
        return "Termin ist vorbei"
    if mail.kind is MailKind.REMINDER:
        if mail.occasion != appointment.starts_at.isoformat():
            return "Termin wurde verschoben"
        if at >= appointment.starts_at:
            return "Termin hat schon begonnen"
    if (
        mail.kind is MailKind.INVITATION_UPDATE
        and mail.occasion != f"sequence:{appointment.sequence}"
    ):
        return "eine neuere Terminänderung folgt"
    return None
