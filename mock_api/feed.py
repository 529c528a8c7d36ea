"""The change feed (``GET /external/ticket-changes``): pages of a tenant's changes in
(change time, id) order, continued by an opaque cursor.

The cursor carries the tenant, the ``since`` of the walk and the feed position (change
stamp and id) of the last ticket served; it is base64 of JSON, and the client must not
read it. A cursor that does not decode, or was issued for another tenant, is a 400.
"""
from __future__ import annotations

import base64
import binascii
import json

from .clock import format_iso
from .dataset import TicketStore
from .errors import BadRequest


def changes_page(store: TicketStore, tenant_id: str, since_s: float, cursor: str | None, page_size: int,
                 now_s: float) -> dict:
    """One page of the feed: ``{"tickets", "next_cursor", "as_of"}``. ``as_of`` is the
    clock now: every change stamped before it is on this page, an earlier one, or a later
    one of the same walk (stamps only grow, so a later change sorts after the cursor)."""
    after = None
    if cursor is not None:
        since_s, after = decode_cursor(cursor, tenant_id)
    found = store.changes(tenant_id, since_s, after, page_size + 1)
    page = found[:page_size]
    more = len(found) > page_size
    return {
        "tickets": [ticket.served(with_deletion=True) for ticket in page],
        "next_cursor": encode_cursor(tenant_id, since_s, page[-1].feed_key()) if more else None,
        "as_of": format_iso(now_s),
    }


def encode_cursor(tenant_id: str, since_s: float, position: tuple[float, str]) -> str:
    raw = json.dumps({"t": tenant_id, "s": since_s, "c": position[0], "i": position[1]}, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str, tenant_id: str) -> tuple[float, tuple[float, str]]:
    """(since, position) from a cursor; BadRequest if it is not one of ours for this tenant."""
    try:
        data = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        if data["t"] != tenant_id:
            raise ValueError("another tenant's cursor")
        since_s, stamp, ticket_id = float(data["s"]), float(data["c"]), data["i"]
        if not isinstance(ticket_id, str):
            raise ValueError("bad position")
    except (ValueError, KeyError, TypeError, binascii.Error, UnicodeDecodeError):
        raise BadRequest("unknown cursor") from None
    return since_s, (stamp, ticket_id)
