"""Background work on arq workers when SPRECHZIMMER_REDIS_URL is set.

Jobs carry IDs only, never personal data: a worker loads what it needs from
the event store, whose personal fields are encrypted per appointment.
"""
