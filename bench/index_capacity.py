"""Index sizes per million documents, computed from the specs in ticketsvc/storage/indexes.py
(a calculation, not a measurement: no MongoDB server is needed or used).

Each index entry is costed in MongoDB's KeyString format: one type byte per field plus the
value (a string's bytes and a terminator, 8 bytes for a date, 12 for an ObjectId, nothing
more for a boolean or null), an end byte, the RecordId (~5 bytes below a trillion records)
and ~8 bytes of WiredTiger cell overhead. ``raw`` is that sum; ``prefix-compressed`` drops
the leading fields that repeat between neighbouring entries (WiredTiger's prefix
compression, on by default for indexes): tenant_id always, and a low-cardinality field
right after it (status, urgency, ...). Leaf pages are assumed 80 % full. Field sizes are
the typical ones below; pass --tenant-chars etc. for yours.

A multikey index (on ``keywords`` or ``signals``, lists) holds one entry per element of a
document's list, and one for an empty list: ``--keywords-per-ticket`` and
``--signals-per-ticket`` are those entries per ticket (defaults: the mock's 10,000 default
tickets under the packaged classifier: 1.92 and 1.24, elements ~14 characters).

    .venv/bin/python bench/index_capacity.py [--tenant-chars 12] [--id-chars 12]
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ticketsvc.config import Settings  # noqa: E402
from ticketsvc.storage.indexes import wanted_indexes  # noqa: E402

CELL_OVERHEAD = 8
RECORD_ID = 5
FILL = 0.8
# Fields whose value repeats across many neighbouring entries after tenant_id.
LOW_CARDINALITY = {"deleted_at", "urgency", "status", "sentiment", "source", "requires_action"}
# List fields: their indexes hold one entry per element (see --keywords-per-ticket).
MULTIKEY = ("keywords", "signals")


def field_bytes(field: str, sizes: dict[str, int], collection: str = "") -> int:
    if field in ("created_at", "recorded_at", "started_at", "ended_at", "delivered_at", "next_attempt_at",
                 "heartbeat_at"):
        return 1 + 8
    if field == "_id":
        # history ids are strings ("<tenant>:<ticket>:<action>:<updated_at>:<rules>"); others ObjectIds
        return 1 + sizes["history_id"] + 1 if collection == "ticket_history" else 1 + 12
    if field in ("requires_action", "deleted_at"):
        return 1  # a boolean, or null for a live ticket: the type byte says it all
    return 1 + sizes.get(field, 8) + 1


def entry_bytes(keys: list[str], sizes: dict[str, int], collection: str) -> tuple[int, int]:
    raw = sum(field_bytes(k, sizes, collection) for k in keys) + 1 + RECORD_ID + CELL_OVERHEAD
    shared = 0
    if keys and keys[0] == "tenant_id":
        shared += field_bytes("tenant_id", sizes)
        if len(keys) > 1 and keys[1] in LOW_CARDINALITY:
            shared += field_bytes(keys[1], sizes)
    return raw, raw - shared


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tenant-chars", type=int, default=12)
    parser.add_argument("--id-chars", type=int, default=12, help="external ticket id length")
    parser.add_argument("--customer-chars", type=int, default=10)
    parser.add_argument("--keywords-per-ticket", type=float, default=1.92)
    parser.add_argument("--signals-per-ticket", type=float, default=1.24)
    args = parser.parse_args()
    entries = {"keywords": args.keywords_per_ticket, "signals": args.signals_per_ticket}
    sizes = {"keywords": 14, "signals": 14, "tenant_id": args.tenant_chars, "external_id": args.id_chars, "ticket_id": args.id_chars,
             "customer_id": args.customer_chars, "status": 7, "urgency": 6, "sentiment": 8, "source": 5,
             "job_id": 32, "dedupe_key": args.tenant_chars + args.id_chars + 30, "key_hash": 64, "key_id": 20,
             # history _id: "<tenant>:<ticket>:<action>:<updated_at>:<rules version>"
             "history_id": args.tenant_chars + args.id_chars + 45}
    print("MiB per million documents (entry bytes raw / prefix-compressed; leaf pages 80 % full)")
    for collection, models in wanted_indexes(Settings.from_env({})).items():
        if not models:
            continue
        total_raw = total_packed = 0.0
        print(f"\n{collection}")
        for name, keys in [(m.document["name"], list(m.document["key"])) for m in models] + [("_id_", ["_id"])]:
            raw, packed = entry_bytes(keys, sizes, collection)
            per_document = next((entries[k] for k in keys if k in MULTIKEY), 1.0)
            mib_raw, mib_packed = (raw * per_document * 1e6 / FILL / 2**20, packed * per_document * 1e6 / FILL / 2**20)
            total_raw, total_packed = total_raw + mib_raw, total_packed + mib_packed
            print(f"  {name:<28} {raw:>4} / {packed:>4} B   {mib_raw:7.1f} / {mib_packed:7.1f} MiB")
        print(f"  {'all indexes':<28} {'':>13}   {total_raw:7.1f} / {total_packed:7.1f} MiB")


if __name__ == "__main__":
    main()
