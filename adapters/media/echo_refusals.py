"""Why a tech-check test call cannot start. Apart from the echo peer so the web
layer can name them without loading aiortc."""


class EchoBusy(Exception):
    """Every place for a test call is taken."""


class UnusableOffer(ValueError):
    """The offer cannot start a call (malformed, or nothing we can send back)."""
