"""A cleanup pass with zero thresholds, run as its own process in the soak's namespace:

    python -m tests.soak.final_pass detect-abandoned expire-sessions reconcile

Prints one JSON line per job run. Zero thresholds: every live session counts as abandoned,
every leftover of a terminal session as residue.
"""

import asyncio
import json
import os
import sys

from intake_cleanup.app import open_service
from intake_cleanup.domain import parse_job
from intake_cleanup.settings import CleanupSettings
from intake_runtime.lifecycle import prepared_process

ZERO_THRESHOLDS = {
    "INTAKE_CLEANUP_SCHEDULE": "off",
    "INTAKE_ABANDONED_AFTER_S": "0",
    "INTAKE_RECONCILE_AFTER_S": "0",
    "INTAKE_ORPHAN_TEMP_AFTER_S": "0",
    "INTAKE_ORPHAN_MULTIPART_AFTER_S": "0",
}


async def run(jobs: list[str]) -> None:
    os.environ.update(ZERO_THRESHOLDS)
    settings = prepared_process("cleanup", CleanupSettings)
    async with open_service(settings) as (service, relay):
        for job in jobs:
            view = await service.run(parse_job(job))
            summary = {"job": job, "status": view.status, "stats": view.stats}
            sys.stdout.write(json.dumps(summary | {"errors": view.errors[:3]}) + "\n")
        while await relay.relay_once():
            pass


if __name__ == "__main__":
    asyncio.run(run(sys.argv[1:]))
