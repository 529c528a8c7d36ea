"""The upstream's tickets: generated from a seed and a "now", then changed only by admin calls.

Order is creation order (the order tickets were generated, sorted by ``created_at``, then
appended), kept in lists so paging never depends on field values a test may corrupt.

Every change (creation, update, deletion, restore, corruption) stamps the ticket with a
change time of the store's own: strictly increasing, never earlier than the clock at the
change. The change feed is ordered by that stamp, so a change made while a client walks
the feed sorts after every ticket already served (it appears later in the same walk), and
a change made after the walk is stamped at or after its ``as_of`` (the next run sees it).
"""
from __future__ import annotations

import heapq
import math
import random
from bisect import bisect_right
from itertools import accumulate

from .clock import format_iso, parse_iso
from .config import MockConfig
from .errors import NotFound
from .templates import by_urgency, render

STATUSES = ("open", "pending", "resolved", "closed")
SOURCES = ("email", "chat", "web", "phone")
_STATUS_CUM = tuple(accumulate((35, 20, 30, 15)))
_SOURCE_CUM = tuple(accumulate((40, 25, 25, 10)))
# Drawn per ticket, then a template of that urgency: ~12% of tickets are high urgency.
_URGENCY_CUM = (("high", 0.12), ("medium", 0.50), ("low", 1.0))
_NEVER_UPDATED_SHARE = 0.4
_MEAN_UPDATE_DELAY_S = 2 * 86400
DAY_S = 86400
# The smallest step between two change stamps: keeps stamps strictly increasing when the
# clock stands still (a fake clock) or two changes fall in one clock tick.
STAMP_STEP_S = 0.001


class StoredTicket:
    """One upstream ticket. ``tenant_id``/``id`` are its key; ``data`` is what is served
    (and may be corrupted on purpose)."""

    __slots__ = ("tenant_id", "id", "data", "deleted_at", "changed_at")

    def __init__(self, tenant_id: str, ticket_id: str, data: dict, changed_at: float):
        self.tenant_id = tenant_id
        self.id = ticket_id
        self.data = data
        self.deleted_at: float | None = None
        self.changed_at = changed_at  # the store's stamp of its last change (the feed's order)

    def feed_key(self) -> tuple[float, str]:
        return (self.changed_at, self.id)

    def served(self, with_deletion: bool = False) -> dict:
        view = dict(self.data)
        if with_deletion and self.deleted_at is not None:
            view["deleted"] = True
            view["deleted_at"] = format_iso(self.deleted_at)
        return view


class TicketStore:
    """All tenants' tickets with per-tenant id numbering (ids repeat across tenants)."""

    def __init__(self, tenants: tuple[str, ...], pools: dict[str, int]):
        self.tenants = tuple(tenants)
        self._pools = dict(pools)
        self._order: list[StoredTicket] = []
        self._by_tenant: dict[str, list[StoredTicket]] = {t: [] for t in self.tenants}
        self._index: dict[tuple[str, str], StoredTicket] = {}
        self._last_number = {t: 0 for t in self.tenants}
        self._deleted = 0
        self._by_urgency = by_urgency()
        self._last_stamp = float("-inf")

    @classmethod
    def generate(cls, config: MockConfig, now_s: float) -> "TicketStore":
        """The data set for ``config.seed`` at ``now_s``: identical for identical inputs."""
        rng = random.Random(config.seed)
        rand = rng.random
        now = math.floor(now_s)
        tenants = tuple(config.tenants)
        tenant_cum = list(accumulate(config.weights()))
        total_weight = tenant_cum[-1]
        span = config.history_days * DAY_S
        recent = min(DAY_S, span)
        last_tenant = len(tenants) - 1

        draws = []
        for order in range(config.tickets):
            tenant = min(bisect_right(tenant_cum, rand() * total_weight), last_tenant)
            age = rand() * (recent if rand() < config.recent_share else span)
            draws.append((now - int(age), order, tenant))
        draws.sort()

        counts = [0] * len(tenants)
        for _, _, tenant in draws:
            counts[tenant] += 1
        # Small pools, so many customers have several tickets (analytics look for those).
        store = cls(tenants, {t: max(3, c // 4) for t, c in zip(tenants, counts)})

        for created, _, tenant_index in draws:
            tenant = tenants[tenant_index]
            if rand() < _NEVER_UPDATED_SHARE:
                updated = created
            else:
                updated = min(now, created + int(rng.expovariate(1 / _MEAN_UPDATE_DELAY_S)))
            fields = store.random_fields(tenant, rng)
            fields["status"] = STATUSES[bisect_right(_STATUS_CUM, rand() * _STATUS_CUM[-1])]
            store._append(tenant, fields, format_iso(created), format_iso(updated), changed_at=float(updated))
        store._last_stamp = max((t.changed_at for t in store._order), default=float("-inf"))
        return store

    # --- reads ------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._order)

    def page(self, page: int, page_size: int, tenant_id: str | None = None,
             include_deleted: bool = False, foreign: bool = False) -> dict:
        """One page of the listing; ``foreign`` slips one other tenant's ticket into each
        non-empty tenant-filtered page (a misbehaving upstream)."""
        source = self._order if tenant_id is None else self._by_tenant.get(tenant_id, [])
        if not include_deleted and self._deleted:
            source = [t for t in source if t.deleted_at is None]
        start = (page - 1) * page_size
        tickets = [t.served(include_deleted) for t in source[start:start + page_size]]
        if foreign and tenant_id is not None and tickets:
            intruder = self._foreign_ticket(tenant_id, page)
            if intruder is not None:
                tickets.append(intruder.served())
        return {
            "tickets": tickets,
            "next_page": page + 1 if start + page_size < len(source) else None,
            "total_count": len(source),
        }

    def get(self, ticket_id: str, tenant_id: str | None = None) -> dict:
        """The live ticket; without a tenant the first tenant (in configured order) that has
        the id. Raises NotFound if unknown or deleted."""
        tenants = (tenant_id,) if tenant_id is not None else self.tenants
        for tenant in tenants:
            ticket = self._index.get((tenant, ticket_id))
            if ticket is not None and ticket.deleted_at is None:
                return ticket.served()
        raise NotFound(f"ticket {ticket_id} not found")

    def deleted_ids(self, tenant_id: str | None = None) -> list[str]:
        source = self._order if tenant_id is None else self._by_tenant.get(tenant_id, [])
        return [t.id for t in source if t.deleted_at is not None] if self._deleted else []

    def changes(self, tenant_id: str, since_s: float, after: tuple[float, str] | None,
                limit: int) -> list[StoredTicket]:
        """Up to ``limit`` of the tenant's tickets (deleted ones too) changed at or after
        ``since_s``, after the feed position ``after``, in feed order."""
        candidates = (t for t in self._by_tenant.get(tenant_id, ())
                      if t.changed_at >= since_s and (after is None or t.feed_key() > after))
        return heapq.nsmallest(limit, candidates, key=StoredTicket.feed_key)

    def find(self, tenant_id: str, ticket_id: str) -> StoredTicket | None:
        return self._index.get((tenant_id, ticket_id))

    def live(self, tenant_id: str) -> list[StoredTicket]:
        return [t for t in self._by_tenant[tenant_id] if t.deleted_at is None]

    # --- writes (callers hold the upstream's lock) ---------------------------------------

    def random_fields(self, tenant_id: str, rng: random.Random) -> dict:
        """Seeded source, customer, subject and message for a new ticket of ``tenant_id``."""
        rand = rng.random
        source = SOURCES[bisect_right(_SOURCE_CUM, rand() * _SOURCE_CUM[-1])]
        # Skewed towards low numbers: a few customers write a lot.
        customer = f"cust-{int(self._pools[tenant_id] * rand() ** 2) + 1:04d}"
        pick = rand()
        urgency = next(u for u, bound in _URGENCY_CUM if pick < bound)
        subject, message = render(rng.choice(self._by_urgency[urgency]), rng)
        return {"source": source, "customer_id": customer, "subject": subject, "message": message}

    def create(self, tenant_id: str, fields: dict, now_s: float) -> StoredTicket:
        """Append a ticket created now; ``fields`` override the defaults as given."""
        stamp = format_iso(now_s)
        return self._append(tenant_id, {"status": "open", **fields}, stamp, stamp, changed_at=self._stamp(now_s))

    def update(self, ticket: StoredTicket, fields: dict, now_s: float, updated_at: str | None) -> None:
        """Change fields; ``updated_at`` is the given value, else now, always later than before."""
        ticket.data.update(fields)
        if updated_at is None:
            now = math.floor(now_s)
            try:
                # Two updates in one second must still look newer to a change detector.
                now = max(now, math.floor(parse_iso(ticket.data.get("updated_at"))) + 1)
            except (TypeError, ValueError):
                pass
            updated_at = format_iso(now)
        ticket.data["updated_at"] = updated_at
        ticket.changed_at = self._stamp(now_s)

    def delete(self, ticket: StoredTicket, now_s: float) -> None:
        if ticket.deleted_at is None:
            ticket.deleted_at = now_s
            ticket.changed_at = self._stamp(now_s)
            self._deleted += 1

    def restore(self, ticket: StoredTicket, now_s: float) -> None:
        if ticket.deleted_at is not None:
            ticket.deleted_at = None
            ticket.changed_at = self._stamp(now_s)
            self._deleted -= 1

    def corrupt(self, ticket: StoredTicket, fields: dict, now_s: float) -> None:
        """Store raw values as given; ``None`` removes the field."""
        for name, value in fields.items():
            if value is None:
                ticket.data.pop(name, None)
            else:
                ticket.data[name] = value
        ticket.changed_at = self._stamp(now_s)

    def _stamp(self, now_s: float) -> float:
        """The next change stamp: the clock, but always after the previous stamp."""
        self._last_stamp = max(float(now_s), self._last_stamp + STAMP_STEP_S)
        return self._last_stamp

    def _append(self, tenant_id: str, fields: dict, created_at: str, updated_at: str, *,
                changed_at: float) -> StoredTicket:
        number = self._last_number[tenant_id] + 1
        self._last_number[tenant_id] = number
        ticket_id = f"tkt-{number:06d}"
        data = {
            "id": ticket_id,
            "tenant_id": tenant_id,
            "source": fields.pop("source", None),
            "customer_id": fields.pop("customer_id", None),
            "subject": fields.pop("subject", None),
            "message": fields.pop("message", None),
            "status": fields.pop("status", None),
            "created_at": created_at,
            "updated_at": updated_at,
        }
        data.update(fields)
        ticket = StoredTicket(tenant_id, ticket_id, data, changed_at)
        self._order.append(ticket)
        self._by_tenant[tenant_id].append(ticket)
        self._index[(tenant_id, ticket_id)] = ticket
        return ticket

    def _foreign_ticket(self, tenant_id: str, page: int) -> StoredTicket | None:
        others = [t for t in self.tenants if t != tenant_id and self._by_tenant[t]]
        if not others:
            return None
        pool = self._by_tenant[others[(page - 1) % len(others)]]
        return pool[(page - 1) % len(pool)]
