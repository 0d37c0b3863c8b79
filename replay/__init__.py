"""Point-in-time replay and audit of the log (as of a position, a recorded or effective time)."""
