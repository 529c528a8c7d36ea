"""Admin changes to the data set: the body of ``POST /admin/mutate``, parsed, then applied.

A mutation is validated whole before any of it is applied, so a bad id changes nothing.
"""
from __future__ import annotations

import random
from dataclasses import dataclass

from .clock import format_iso, parse_iso
from .dataset import STATUSES, StoredTicket, TicketStore
from .errors import BadRequest, NotFound
from .templates import TEMPLATES, render

UPDATABLE_FIELDS = frozenset({"subject", "message", "status", "source", "customer_id"})
KEYS = ("update", "delete", "create", "restore", "corrupt")


@dataclass(frozen=True)
class TicketUpdate:
    id: str
    fields: dict
    updated_at: str | None = None


@dataclass(frozen=True)
class Mutation:
    """Counts (seeded choice) or explicit lists for each kind of change, for one tenant."""

    tenant_id: str
    update: int | tuple[TicketUpdate, ...] = ()
    delete: int | tuple[str, ...] = ()
    create: int | tuple[dict, ...] = ()
    restore: tuple[str, ...] = ()
    corrupt: tuple[tuple[str, dict], ...] = ()


def parse_mutation(body) -> Mutation:
    """Validate the shape of a mutate body; raises BadRequest naming the field."""
    if not isinstance(body, dict):
        raise BadRequest("body must be a JSON object")
    unknown = sorted(set(body) - {"tenant_id", *KEYS})
    if unknown:
        raise BadRequest(f"unknown field(s): {', '.join(unknown)}")
    tenant_id = body.get("tenant_id")
    if not isinstance(tenant_id, str) or not tenant_id:
        raise BadRequest("tenant_id is required")
    return Mutation(
        tenant_id=tenant_id,
        update=_count_or(body.get("update", ()), "update", _parse_update),
        delete=_count_or(body.get("delete", ()), "delete", _parse_id),
        create=_count_or(body.get("create", ()), "create", _parse_create),
        restore=_list_of(body.get("restore", ()), "restore", _parse_id),
        corrupt=_list_of(body.get("corrupt", ()), "corrupt", _parse_corrupt),
    )


def apply_mutation(store: TicketStore, mutation: Mutation, now_s: float, rng: random.Random) -> dict:
    """Apply in the order update, delete, create, restore, corrupt; return the ids touched.

    Raises NotFound for an unknown tenant or id (before changing anything).
    """
    tenant = mutation.tenant_id
    if tenant not in store.tenants:
        raise NotFound(f"unknown tenant {tenant}")
    explicit = [u.id for u in _items(mutation.update)] + list(_items(mutation.delete))
    explicit += list(mutation.restore) + [ticket_id for ticket_id, _ in mutation.corrupt]
    missing = [ticket_id for ticket_id in explicit if store.find(tenant, ticket_id) is None]
    if missing:
        raise NotFound(f"unknown ticket id(s) for {tenant}: {', '.join(sorted(set(missing)))}")

    result = {key: [] for key in ("updated", "deleted", "created", "restored", "corrupted")}
    if isinstance(mutation.update, int):
        for ticket in _sample(store.live(tenant), mutation.update, rng):
            store.update(ticket, _random_edit(ticket, rng), now_s, None)
            result["updated"].append(ticket.id)
    else:
        for change in mutation.update:
            store.update(store.find(tenant, change.id), dict(change.fields), now_s, change.updated_at)
            result["updated"].append(change.id)

    if isinstance(mutation.delete, int):
        doomed = _sample(store.live(tenant), mutation.delete, rng)
    else:
        doomed = [store.find(tenant, ticket_id) for ticket_id in mutation.delete]
    for ticket in doomed:
        store.delete(ticket, now_s)
        result["deleted"].append(ticket.id)

    specs = [{}] * mutation.create if isinstance(mutation.create, int) else mutation.create
    for overrides in specs:
        fields = store.random_fields(tenant, rng)
        fields.update(overrides)
        result["created"].append(store.create(tenant, fields, now_s).id)

    for ticket_id in mutation.restore:
        store.restore(store.find(tenant, ticket_id), now_s)
        result["restored"].append(ticket_id)

    for ticket_id, fields in mutation.corrupt:
        store.corrupt(store.find(tenant, ticket_id), fields, now_s)
        result["corrupted"].append(ticket_id)
    return result


def _random_edit(ticket: StoredTicket, rng: random.Random) -> dict:
    status = rng.choice([s for s in STATUSES if s != ticket.data.get("status")])
    subject, message = render(rng.choice(TEMPLATES), rng)
    return {"status": status, "subject": subject, "message": message}


def _sample(tickets: list[StoredTicket], count: int, rng: random.Random) -> list[StoredTicket]:
    chosen = rng.sample(range(len(tickets)), min(count, len(tickets)))
    return [tickets[i] for i in sorted(chosen)]


def _items(value):
    return () if isinstance(value, int) else value


def _count_or(value, name: str, parse_item):
    if isinstance(value, int) and not isinstance(value, bool):
        if value < 0:
            raise BadRequest(f"{name} must be >= 0")
        return value
    return _list_of(value, name, parse_item)


def _list_of(value, name: str, parse_item) -> tuple:
    if value is None or value == ():
        return ()
    if not isinstance(value, list):
        raise BadRequest(f"{name} must be a list" + ("" if name in ("restore", "corrupt") else " or a count"))
    return tuple(parse_item(item, f"{name}[{i}]") for i, item in enumerate(value))


def _parse_id(value, where: str) -> str:
    if not isinstance(value, str) or not value:
        raise BadRequest(f"{where} must be a ticket id")
    return value


def _parse_update(value, where: str) -> TicketUpdate:
    if not isinstance(value, dict):
        raise BadRequest(f"{where} must be an object with id, fields, updated_at")
    unknown = sorted(set(value) - {"id", "fields", "updated_at"})
    if unknown:
        raise BadRequest(f"{where}: unknown field(s) {', '.join(unknown)}")
    fields = value.get("fields", {})
    if not isinstance(fields, dict):
        raise BadRequest(f"{where}.fields must be an object")
    for name, field_value in fields.items():
        if name not in UPDATABLE_FIELDS:
            raise BadRequest(f"{where}.fields.{name} cannot be updated (use corrupt for raw values)")
        if not isinstance(field_value, str) or not field_value:
            raise BadRequest(f"{where}.fields.{name} must be a non-empty string")
    if "status" in fields and fields["status"] not in STATUSES:
        raise BadRequest(f"{where}.fields.status must be one of {', '.join(STATUSES)}")
    updated_at = value.get("updated_at")
    if updated_at is not None:
        try:
            updated_at = format_iso(parse_iso(updated_at))
        except ValueError:
            raise BadRequest(f"{where}.updated_at must be an ISO 8601 time") from None
    return TicketUpdate(_parse_id(value.get("id"), f"{where}.id"), dict(fields), updated_at)


def _parse_create(value, where: str) -> dict:
    if not isinstance(value, dict):
        raise BadRequest(f"{where} must be an object of fields")
    for forbidden in ("id", "tenant_id"):
        if forbidden in value:
            raise BadRequest(f"{where}.{forbidden} is assigned by the upstream")
    return dict(value)


def _parse_corrupt(value, where: str) -> tuple[str, dict]:
    if not isinstance(value, dict) or not isinstance(value.get("fields"), dict):
        raise BadRequest(f"{where} must be an object with id and fields")
    return _parse_id(value.get("id"), f"{where}.id"), dict(value["fields"])
