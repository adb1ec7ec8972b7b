"""A cleanup pass with zero thresholds, run as its own process in the soak's namespace:

    python -m tests.soak.final_pass detect-abandoned expire-sessions reconcile

Prints one JSON line per job run. Zero thresholds: every live session counts as abandoned,
every leftover of a terminal session as residue. Session jobs run once per tenant of
INTAKE_CLEANUP_TENANTS (the soak's): the database may hold other tests' sessions, which this
pass must neither fail nor try to complete. Each job run and the outbox drain has a deadline
that names it, so a stuck pass exits with an error instead of waiting for the soak's.
"""

import asyncio
import json
import os
import sys

from intake_cleanup.app import open_service
from intake_cleanup.domain import RunStatus, parse_job, tenant_scopes
from intake_cleanup.settings import CleanupSettings
from intake_runtime.lifecycle import prepared_process
from tests.soak.deadlines import deadline

ZERO_THRESHOLDS = {
    "INTAKE_CLEANUP_SCHEDULE": "off",
    "INTAKE_ABANDONED_AFTER_S": "0",
    "INTAKE_RECONCILE_AFTER_S": "0",
    "INTAKE_ORPHAN_TEMP_AFTER_S": "0",
    "INTAKE_ORPHAN_MULTIPART_AFTER_S": "0",
}
# One job run over one tenant: its commands time out after INTAKE_REQUEST_TIMEOUT_S each.
JOB_S = 120.0
# Publishing what the runs wrote to the outbox.
DRAIN_S = 60.0


async def run(jobs: list[str]) -> None:
    os.environ.update(ZERO_THRESHOLDS)
    settings = prepared_process("cleanup", CleanupSettings)
    # Starting and stopping are bounded by the soak, which kills this process at its deadline.
    async with open_service(settings) as (service, relay):
        for job in map(parse_job, jobs):
            for tenant in tenant_scopes(job, settings.tenant_scope):
                async with deadline(f"cleanup job {job} of tenant {tenant or 'any'}", JOB_S):
                    view = await service.run(job, tenant)
                    # The soak's cleanup service may hold the job's lock for a scheduled run.
                    while view.status == RunStatus.SKIPPED:
                        await asyncio.sleep(0.5)
                        view = await service.run(job, tenant)
                summary: dict[str, object] = {"job": job, "tenant": tenant, "status": view.status}
                summary |= {"stats": view.stats, "errors": view.errors[:3]}
                sys.stdout.write(json.dumps(summary) + "\n")
        async with deadline("publishing the final pass's outbox", DRAIN_S):
            while await relay.relay_once():
                pass


if __name__ == "__main__":
    asyncio.run(run(sys.argv[1:]))
