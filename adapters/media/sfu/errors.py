"""What the SFU refuses, each with a message a web layer can pass on.

Every error carries only its message, so that it crosses the pipe between an
SFU worker process and the pool by name and message and is raised again there
as the same class.
"""


class SfuError(Exception):
    """Base of everything the SFU refuses; the message is safe to log."""


class InvalidId(SfuError):
    """A room or participant ID the SFU does not accept."""


class UnknownRoom(SfuError):
    """No room with this ID runs (any more)."""


class RoomExists(SfuError):
    """A room with this ID runs already."""


class UnknownParticipant(SfuError):
    """No participant with this ID is in the room."""


class ParticipantExists(SfuError):
    """A participant with this ID is in the room already."""


class RoomFull(SfuError):
    """The room holds as many participants as it may."""


class UnusableOffer(SfuError):
    """The offer cannot be answered: wrong codecs, too many tracks, garbage."""


class WorkerGone(SfuError):
    """The SFU worker process that ran a room has ended."""


ERRORS_BY_NAME: dict[str, type[SfuError]] = {
    error.__name__: error
    for error in (
        SfuError,
        InvalidId,
        UnknownRoom,
        RoomExists,
        UnknownParticipant,
        ParticipantExists,
        RoomFull,
        UnusableOffer,
        WorkerGone,
    )
}
