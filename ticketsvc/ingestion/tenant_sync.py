"""TenantSync: one run's sync of one tenant, built once per run.

It walks the upstream's pages, applying each through ``TicketSync``, and, when the walk
provably saw the whole list, confirms deletions: a stored ticket the run did not see is
soft-deleted only when the upstream says it is gone (its deleted list, or a 404 for the
single ticket), since offset pages shift when the upstream changes mid-run. Before every
call and every write it passes the job's checkpoint (cancel, shutdown, lease).
"""
from __future__ import annotations

import hashlib
import logging
import math
from typing import Any, Callable, Protocol

from ..upstream import Caller, UpstreamClient
from .job import IngestionJob
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


class TenantSync:
    def __init__(self, upstream: UpstreamClient, tickets: TicketSync, control: JobControl, *,
                 page_size: int, data_changed: Callable[[], None]):
        self.upstream = upstream
        self.tickets = tickets
        self.control = control
        self.page_size = page_size
        self.data_changed = data_changed  # told whenever stored tickets changed

    def run(self, job: IngestionJob) -> None:
        """Walk every page, then confirm deletions if the walk saw the whole list."""
        if self._walk_pages(job):
            self._confirm_deletions(job)

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


def _fingerprint(tickets: list[Any]) -> str:
    digest = hashlib.sha1()
    for ticket in tickets:
        if isinstance(ticket, dict):
            digest.update(f"{ticket.get('tenant_id')}/{ticket.get('id')}/{ticket.get('updated_at')}|".encode())
    return digest.hexdigest()
