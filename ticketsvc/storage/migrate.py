"""The one-off storage step of a deployment: build what ``storage/indexes.py`` declares.

``migrate`` makes the database's indexes match the declaration and reports every step:
it builds missing indexes (all of a collection's in one ``createIndexes``, so one scan),
changes a TTL in place when only the retention moved (``collMod``), rebuilds an index of
ours whose spec changed under its name, and drops retired ones after their replacements
exist. Indexes it does not own are left alone. Run twice, the second run only reports
``kept``. ``shard=True`` then shards the tenant-data collections (``SHARDED``) on a cluster.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable

from pymongo import IndexModel

from .indexes import SHARDED, ShardPlan, owned_names, wanted_indexes

if TYPE_CHECKING:
    from .database import Database


class MigrationError(RuntimeError):
    """The migration cannot go on; the message says why and what to do."""


@dataclass(frozen=True)
class Step:
    """One thing ``migrate`` did (or found already done)."""

    action: str  # created | kept | retimed | rebuilt | dropped | sharded | skipped
    collection: str
    name: str
    detail: str = ""

    def __str__(self) -> str:
        return f"{self.action:<8} {self.collection}.{self.name}" + (f"  ({self.detail})" if self.detail else "")


Report = Callable[[Step], None]


def migrate(database: "Database", *, shard: bool = False, report: Report | None = None,
            cluster: "Cluster | None" = None) -> list[Step]:
    """Bring the indexes (and with ``shard``, the shard keys) in line; idempotent.

    Raises ``MigrationError`` when ``shard`` is asked of anything but a mongos, and lets
    pymongo's errors through (e.g. a unique index that existing documents violate)."""
    if shard and cluster is None and database.settings.embedded:
        raise MigrationError("--shard needs a sharded cluster; MONGO_URL is the embedded engine")
    steps: list[Step] = []

    def record(step: Step) -> None:
        steps.append(step)
        if report is not None:
            report(step)

    for name, models in wanted_indexes(database.settings).items():
        _migrate_collection(database, name, models, record)
    if shard:
        shard_collections(cluster or Cluster(database.client), database, record)
    return steps


def missing_indexes(database: "Database") -> dict[str, list[str]]:
    """The declared indexes absent from the database (or present with another spec), by
    collection: what a worker on a real server logs instead of building."""
    missing: dict[str, list[str]] = {}
    for name, models in wanted_indexes(database.settings).items():
        if not models:
            continue
        existing = _existing(database, name)
        absent = [m.document["name"] for m in models
                  if _spec(existing.get(m.document["name"])) != _spec(m.document)]
        if absent:
            missing[name] = absent
    return missing


def _existing(database: "Database", collection: str) -> dict[str, dict]:
    return {ix["name"]: dict(ix) for ix in database[collection].list_indexes()}


def _spec(index: dict | None, *, with_ttl: bool = True) -> tuple | None:
    """What makes two indexes the same index (``name`` and server bookkeeping aside)."""
    if index is None:
        return None
    keys = tuple((field, int(direction) if isinstance(direction, (int, float)) else direction)
                 for field, direction in dict(index["key"]).items())
    ttl = index.get("expireAfterSeconds") if with_ttl else None
    return (keys, bool(index.get("unique")), bool(index.get("sparse")),
            _plain(index.get("partialFilterExpression")), None if ttl is None else int(ttl))


def _plain(value: Any) -> Any:
    return None if value is None else repr(sorted(dict(value).items()))


def _migrate_collection(database: "Database", collection: str, models: list[IndexModel], record: Report) -> None:
    handle = database[collection]
    existing = _existing(database, collection)
    build: list[IndexModel] = []
    for model in models:
        wanted = model.document
        name = wanted["name"]
        have = existing.get(name)
        if have is None:
            build.append(model)
        elif _spec(have) == _spec(wanted):
            record(Step("kept", collection, name))
        elif _spec(have, with_ttl=False) == _spec(wanted, with_ttl=False):
            # Only the retention moved: change it in place, no rebuild.
            database.db.command("collMod", collection,
                                index={"name": name, "expireAfterSeconds": wanted["expireAfterSeconds"]})
            record(Step("retimed", collection, name,
                        f"expireAfterSeconds {have.get('expireAfterSeconds')} -> {wanted['expireAfterSeconds']}"))
        else:
            # Should not happen (a changed spec gets a new name), but a database touched by
            # hand or an older build may hold it: the name is ours, so rebuild it.
            handle.drop_index(name)
            build.append(model)
            record(Step("dropped", collection, name, "its spec differs from the declared one; rebuilt below"))
    if build:
        handle.create_indexes(build)
        for model in build:
            record(Step("created", collection, model.document["name"], _describe(model.document)))
    wanted_names = {m.document["name"] for m in models}
    for name in sorted((owned_names(collection) - wanted_names) & set(existing)):
        handle.drop_index(name)
        record(Step("dropped", collection, name, "retired or switched off by configuration"))


def _describe(document: dict) -> str:
    keys = ", ".join(f"{field}: {direction}" for field, direction in dict(document["key"]).items())
    extras = [word for word, on in (("unique", document.get("unique")),) if on]
    if "expireAfterSeconds" in document:
        extras.append(f"TTL {document['expireAfterSeconds'] // 86400} days")
    if "partialFilterExpression" in document:
        extras.append(f"only {document['partialFilterExpression']}")
    return "{" + keys + "}" + "".join(f", {extra}" for extra in extras)


class Cluster:
    """What sharding needs of a deployment: admin commands through a mongos, and the shard
    key a collection already has (a test double stands in for it without a cluster)."""

    def __init__(self, client: Any):
        self._client = client

    def command(self, name: str, *args: Any, **kwargs: Any) -> dict:
        return self._client.admin.command(name, *args, **kwargs)

    def shard_key(self, namespace: str) -> dict | None:
        doc = self._client["config"]["collections"].find_one({"_id": namespace})
        return dict(doc["key"]) if doc is not None and not doc.get("dropped") else None


def shard_collections(cluster: Cluster, database: "Database", record: Report) -> None:
    """On a sharded cluster: enable sharding for the database, then ``shardCollection``
    each collection of ``SHARDED`` that is ready, on ``{tenant_id: 1, <id>: 1}`` (the
    existing unique index on that key keeps enforcing it across shards). A collection
    already sharded on that key is kept; one on another key is an error; one whose writes
    do not carry the key yet, or whose unique indexes do not start with it, is skipped
    with the reason."""
    if cluster.command("hello").get("msg") != "isdbgrid":
        raise MigrationError("--shard needs a sharded cluster: point MONGO_URL at a mongos router")
    name = database.settings.mongo_db
    cluster.command("enableSharding", name)
    for plan in SHARDED:
        namespace = f"{name}.{plan.collection}"
        current = cluster.shard_key(namespace)
        if current is not None:
            if current != plan.key_document:
                raise MigrationError(f"{namespace} is already sharded on {current}, not {plan.key_document}; "
                                     "resharding is an operator's decision (reshardCollection)")
            record(Step("kept", plan.collection, _key_text(plan), "already sharded"))
            continue
        reason = plan.pending or _unique_conflict(database, plan)
        if reason:
            record(Step("skipped", plan.collection, _key_text(plan), reason))
            continue
        cluster.command("shardCollection", namespace, key=plan.key_document)
        record(Step("sharded", plan.collection, _key_text(plan)))


def _unique_conflict(database: "Database", plan: ShardPlan) -> str | None:
    for index in _existing(database, plan.collection).values():
        keys = list(dict(index["key"]))
        if index.get("unique") and index["name"] != "_id_" and keys[:len(plan.key)] != list(plan.key):
            return f"unique index {index['name']} does not start with the shard key"
    return None


def _key_text(plan: ShardPlan) -> str:
    return "{" + ", ".join(f"{field}: 1" for field in plan.key) + "}"
