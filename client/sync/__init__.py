"""``dockyard sync``: keep repositories of one registry copied into another.

``plan`` says what to copy (from the command line or a YAML file),
``copier`` copies it moving only what the destination lacks, ``report``
counts what happened for the closing summary.  It lives in the client, on
the client's transport (credentials, tokens, retries, TLS settings), since
copying between registries is what a client of both does.
"""

from __future__ import annotations

from ..progress import Display
from ..transport import RegistryClient
from .copier import Copier
from .plan import SyncJob, SyncPlan, job_from_args, load_plan
from .report import SyncReport

__all__ = ["SyncJob", "SyncPlan", "SyncReport", "job_from_args", "load_plan", "sync"]


async def sync(client: RegistryClient, plan: SyncPlan, display: Display) -> SyncReport:
    """Run every job of ``plan``, one repository after another; failures are in the report."""
    report = SyncReport()
    copier = Copier(client, display, report, plan.concurrency)
    for job in plan.jobs:
        await copier.run(job)
    return report
