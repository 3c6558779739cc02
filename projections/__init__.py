"""Read models built from the event log, each view update committed with its tracking position."""
