"""TenantSync: one run's sync of one tenant, built once per run.

An incremental run reads the upstream's change feed since its plan's ``since``: each page
is applied through ``TicketSync``, and the feed's deletions are confirmed deletions. The
feed's ``as_of`` at the end of the walk becomes the tenant's cursor once the run
completes. A feed that answers 404 or 400 (no feed, unknown cursor) or loops makes the run
fall back to a full walk, which the record says.

A full walk first asks the feed (one ticket) for its ``as_of``, the cursor of the next
run: changes made while the walk runs are stamped after it. It then walks the upstream's
pages, and, when the walk provably saw the whole list, confirms deletions: a stored
ticket the run did not see is soft-deleted only when the upstream says it is gone (its
deleted list, or a 404 for the single ticket), since offset pages shift when the upstream
changes mid-run. Before every call and every write it passes the job's checkpoint
(cancel, shutdown, lease).
"""
from __future__ import annotations

import hashlib
import logging
import math
from datetime import datetime, timedelta
from typing import Any, Callable, Protocol

from ..clock import isoformat_z
from ..upstream import Caller, ChangePage, FeedUnavailable, UpstreamClient
from .job import IngestionJob
from .modes import FEED_OVERLAP_S, SyncMode, parse_upstream_time
from .sync import TicketSync

log = logging.getLogger(__name__)

MAX_PAGES = 100_000
MAX_SINGLE_CHECKS = 50  # single-ticket confirmations of a deletion per run (each costs budget)
PAGE_LOOP = "page loop"  # ``stopped_early`` of a walk the loop guard stopped


class JobControl(Caller, Protocol):
    """What the running job lends its sync (and, as a ``Caller``, the upstream client):
    ``checkpoint()`` raises ``JobStopped`` if the job must stop, and keeps its lease alive."""

    def save_progress(self) -> None:
        """Write the job's figures to its record."""


class FeedLoop(Exception):
    """The change feed handed back a cursor it had already given in this walk."""


class TenantSync:
    def __init__(self, upstream: UpstreamClient, tickets: TicketSync, control: JobControl, *,
                 page_size: int, data_changed: Callable[[], None], now: Callable[[], datetime]):
        self.upstream = upstream
        self.tickets = tickets
        self.control = control
        self.page_size = page_size
        self.data_changed = data_changed  # told whenever stored tickets changed
        self.now = now

    def run(self, job: IngestionJob) -> None:
        """Sync the tenant as ``job.plan`` says: the feed walk, or (also when the feed
        cannot serve it) the full walk with its deletion confirmation."""
        plan = job.plan
        probe_feed = plan.probe_feed
        if plan.mode is SyncMode.INCREMENTAL:
            try:
                self._walk_feed(job, plan.since)
                return
            except (FeedUnavailable, FeedLoop) as exc:
                log.warning("job %s: change feed unusable (%s); walking every page", job.job_id, exc)
                job.fall_back_to_full(str(exc))
                job.feed.update(available=False, position=None)
                # A 400 (a cursor it did not know) says the feed exists: take a fresh cursor.
                probe_feed = isinstance(exc, FeedUnavailable) and exc.status == 400
                self.control.save_progress()
        if probe_feed:
            self._read_feed_as_of(job)
        if self._walk_pages(job):
            self._confirm_deletions(job)

    # -- the change feed ------------------------------------------------------------------
    def _walk_feed(self, job: IngestionJob, since: datetime) -> None:
        """Apply every change since ``since``; on the last page, keep the feed's ``as_of``
        as the cursor the tenant moves to if this run completes."""
        control = self.control
        since_text = isoformat_z(since)
        job.feed.update(available=True, since=since_text, as_of=None, position=None)
        cursor: str | None = None
        cursors: set[str] = set()
        while len(cursors) < MAX_PAGES:
            control.checkpoint()
            page = self.upstream.fetch_changes(job.tenant_id, since_text, cursor, control)
            if page.tickets:
                control.checkpoint()  # the lease is ours before we write
                self._apply_changes(job, page)
                job.processed_pages += 1
            job.feed["as_of"] = page.as_of
            if page.next_cursor is None or not page.tickets:
                # No usable as_of: keep the old cursor (the next run repeats, skips nothing).
                job.feed_as_of = parse_upstream_time(page.as_of) or since + timedelta(seconds=FEED_OVERLAP_S)
                control.save_progress()
                return
            control.save_progress()
            if page.next_cursor in cursors:
                raise FeedLoop("the change feed repeated a cursor (loop guard)")
            cursors.add(page.next_cursor)
            cursor = page.next_cursor
        raise FeedLoop(f"the change feed went on past {MAX_PAGES} pages")

    def _apply_changes(self, job: IngestionJob, page: ChangePage) -> None:
        """One feed page: live tickets as any page; deleted ones are confirmed deletions."""
        live = [t for t in page.tickets if not _is_deletion(t)]
        gone = [t for t in page.tickets if _is_deletion(t)]
        if live:
            self._apply(job, live)
        if gone:
            self._delete_confirmed(job, gone)
        times = [t for t in map(_change_time, page.tickets) if t is not None]
        if times:
            job.feed["position"] = isoformat_z(max(times))

    def _delete_confirmed(self, job: IngestionJob, tickets: list[dict]) -> None:
        counts = job.counts
        counts.fetched += len(tickets)
        ids = []
        for ticket in tickets:
            external_id = ticket.get("id")
            if isinstance(external_id, int) and not isinstance(external_id, bool):
                external_id = str(external_id)
            if not isinstance(external_id, str) or not 0 < len(external_id) <= 128:
                counts.invalid += 1
            elif ticket.get("tenant_id") != job.tenant_id:
                counts.foreign_tenant += 1
            else:
                ids.append(external_id)
        deleted = self.tickets.soft_delete(ids, job.job_id, reason="deleted upstream (the change feed)")
        counts.deleted += len(deleted)
        if deleted:
            self.data_changed()

    def _read_feed_as_of(self, job: IngestionJob) -> None:
        """Before a full walk: the feed's ``as_of`` now, the cursor of the next run (every
        change made during the walk is stamped after it). One call; a 404 means no feed."""
        self.control.checkpoint()
        try:
            page = self.upstream.fetch_changes(job.tenant_id, isoformat_z(self.now()), None, self.control,
                                               page_size=1)
        except FeedUnavailable as exc:
            job.feed.update(available=False)
            log.info("job %s: no usable change feed (%s); runs stay full walks", job.job_id, exc)
            return
        job.feed_as_of = parse_upstream_time(page.as_of)
        job.feed.update(available=job.feed_as_of is not None, as_of=page.as_of)

    # -- the full walk --------------------------------------------------------------------
    def _walk_pages(self, job: IngestionJob) -> bool:
        """Walk every page; True when the walk provably saw the whole list."""
        control = self.control
        page_number = 1
        requested: set[int] = set()
        fingerprints: set[str] = set()
        while len(requested) < MAX_PAGES:
            control.checkpoint()
            requested.add(page_number)
            page = self.upstream.fetch_page(job.tenant_id, page_number, control)
            control.checkpoint()  # whatever the page says next, a stop that came in during the call lands first
            if page.excess:
                log.warning("job %s: page %d had %d tickets past the page size %d; not taken (invalid)",
                            job.job_id, page_number, page.excess, self.page_size)
                job.counts.fetched += page.excess
                job.counts.invalid += page.excess
            if page.total_count is not None and job.total_pages is None:
                job.total_pages = max(1, math.ceil(page.total_count / self.page_size))
            if not page.tickets:
                control.save_progress()
                return True
            fingerprint = _fingerprint(page.tickets)
            if fingerprint in fingerprints:
                log.warning("job %s: page %d repeats an earlier page; stopping (loop guard)", job.job_id, page_number)
                job.stopped_early = PAGE_LOOP
                control.save_progress()
                return False
            fingerprints.add(fingerprint)
            control.checkpoint()  # the lease is ours before we write
            self._apply(job, page.tickets)
            job.processed_pages += 1
            control.save_progress()
            if page.next_page is None:
                return True
            if page.next_page in requested:
                log.warning("job %s: next_page %s was already fetched; stopping (loop guard)",
                            job.job_id, page.next_page)
                job.stopped_early = PAGE_LOOP
                control.save_progress()
                return False
            page_number = page.next_page
        log.warning("job %s: stopped after %d pages (MAX_PAGES)", job.job_id, MAX_PAGES)
        job.stopped_early = "page limit"
        control.save_progress()
        return False

    def _confirm_deletions(self, job: IngestionJob) -> None:
        """Soft-delete stored tickets this complete run did not see, when the upstream
        confirms they are gone (deleted-tickets list, or 404 on the single ticket)."""
        missing = self.tickets.unseen_by(job.job_id, limit=100_000)
        if not missing:
            return
        control = self.control
        control.checkpoint()
        gone_upstream = self.upstream.deleted_ids(job.tenant_id, control)
        confirmed = [i for i in missing if i in gone_upstream]
        unexplained = [i for i in missing if i not in gone_upstream]
        for external_id in unexplained[:MAX_SINGLE_CHECKS]:
            control.checkpoint()
            ticket = self.upstream.fetch_ticket(job.tenant_id, external_id, control)
            if ticket is None:
                confirmed.append(external_id)
            else:
                self._apply(job, [ticket])  # still there: the offset pages shifted under us
        if len(unexplained) > MAX_SINGLE_CHECKS:
            log.info("job %s: %d unseen tickets left for the next run to confirm",
                     job.job_id, len(unexplained) - MAX_SINGLE_CHECKS)
        control.checkpoint()
        deleted = self.tickets.soft_delete(confirmed, job.job_id)
        job.counts.deleted += len(deleted)
        if deleted:
            self.data_changed()
        control.save_progress()

    def _apply(self, job: IngestionJob, tickets: list[Any]) -> None:
        if self.tickets.apply_page(tickets, job.job_id, job.counts):
            self.data_changed()


def _is_deletion(ticket: Any) -> bool:
    return isinstance(ticket, dict) and ticket.get("deleted") is True


def _change_time(ticket: Any) -> datetime | None:
    """When a feed entry changed, as far as it says: its deletion, else its update."""
    if not isinstance(ticket, dict):
        return None
    return parse_upstream_time(ticket.get("deleted_at")) or parse_upstream_time(ticket.get("updated_at"))


def _fingerprint(tickets: list[Any]) -> str:
    digest = hashlib.sha1()
    for ticket in tickets:
        if isinstance(ticket, dict):
            digest.update(f"{ticket.get('tenant_id')}/{ticket.get('id')}/{ticket.get('updated_at')}|".encode())
    return digest.hexdigest()
