"""In-process background jobs (APScheduler 3), started by `hotline serve` only."""
from __future__ import annotations


def start_for_serve(app) -> None:
    """Start the scheduler for a serving process (jobs are added by the reminders issue)."""
    return None
