"""DeliveryStatus: is alert delivery keeping up, and if not, why (for ``/health``).

A few reads of shared state (outbox counts, the backlog's two ends, the notify circuit),
so every worker tells the same story. The HTTP status of ``/health`` does not depend on
it: a stalled outbox is not a reason to take this instance out of a load balancer (it can
still serve), but the body says what is stuck and since when.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ..clock import isoformat_z
from .breaker import CLOSED, OPEN, CircuitBreaker
from .outbox import DEAD, PENDING, NotificationOutbox

# A due alert is normally claimed within a poll (NOTIFY_POLL_S); one due for this many polls,
# and at least a minute, means the senders are behind or nobody is draining the outbox.
OVERDUE_POLLS = 10
OVERDUE_MIN_S = 60.0


@dataclass(frozen=True)
class DeliveryStatus:
    pending: int
    dead: int
    oldest_pending_age_s: float | None
    longest_overdue_s: float | None
    circuit: dict[str, Any]  # CircuitBreaker.status()
    overdue_after_s: float

    def as_dict(self) -> dict[str, Any]:
        return {"pending": self.pending, "dead": self.dead, "oldest_pending_age_s": self.oldest_pending_age_s,
                "longest_overdue_s": self.longest_overdue_s, "circuit": self.circuit["state"]}

    def warnings(self) -> list[str]:
        """What is holding alerts back, in a sentence each (empty when nothing is)."""
        state, opened_at = self.circuit["state"], isoformat_z(self.circuit["opened_at"])
        if state == OPEN:
            return [f"{self.pending} alert(s) pending behind an open notify circuit since {opened_at}; "
                    f"it lets a probe through at {isoformat_z(self.circuit['retry_at'])}"]
        if state != CLOSED:
            return [f"{self.pending} alert(s) pending behind a half-open notify circuit (open since "
                    f"{opened_at}); the next call is its probe"]
        if self.longest_overdue_s is not None and self.longest_overdue_s > self.overdue_after_s:
            return [f"{self.pending} alert(s) pending; one has been due for {self.longest_overdue_s:.0f} s "
                    "without being sent: delivery is behind or no worker is draining the outbox"]
        return []


def read_delivery_status(outbox: NotificationOutbox, breaker: CircuitBreaker, now: datetime,
                         poll_s: float) -> DeliveryStatus:
    """The outbox and the notify circuit as every worker sees them now."""
    counts = outbox.counts()
    backlog = outbox.backlog(now)
    return DeliveryStatus(
        pending=counts[PENDING], dead=counts[DEAD],
        oldest_pending_age_s=backlog.oldest_pending_age_s(now), longest_overdue_s=backlog.longest_overdue_s(now),
        circuit=breaker.status(now), overdue_after_s=max(OVERDUE_MIN_S, OVERDUE_POLLS * poll_s),
    )
