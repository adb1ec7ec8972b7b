"""`intake-ops`: `groups` shows each consumer group's members, partitions and lag; `dlq list`
shows dead letters and `dlq replay` sends them back to their source topic once the cause is
fixed; `migrate SERVICE` and `provision-topics` do a deployment's one-off set-up and exit."""

import argparse
import asyncio
import sys
from collections.abc import Sequence

from intake_runtime.messaging import names
from intake_runtime.messaging.access import KafkaAccess
from intake_runtime.ops.groups import describe_groups, print_groups
from intake_runtime.ops.letters import list_letters, replay_letters
from intake_runtime.ops.setup import MIGRATING_SERVICES, migrate_service, provision_topics
from intake_runtime.settings import PostgresSettings, ServiceSettings, load_settings


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="intake-ops", description=__doc__)
    areas = parser.add_subparsers(dest="area", required=True)
    areas.add_parser("groups", help="consumer groups: members, partitions and lag")
    dlq = areas.add_parser("dlq", help="dead letters").add_subparsers(dest="action", required=True)
    listing = dlq.add_parser("list", help="one JSON line per dead letter")
    listing.add_argument("--topic", help="source topic (default: every one)")
    listing.add_argument("--limit", type=int, default=100, help="at most this many per topic")
    replay = dlq.add_parser("replay", help="send dead letters back to their source topic")
    replay.add_argument("--topic", required=True, help="source topic, e.g. intake.uploads.events")
    replay.add_argument("--from-offset", type=int, help="start here instead of where it stopped")
    migrate = areas.add_parser("migrate", help="apply one service's migrations (DATABASE_URL)")
    migrate.add_argument("service", choices=MIGRATING_SERVICES)
    areas.add_parser(
        "provision-topics",
        help="create the missing shared and dead-letter topics, and grant every principal's ACLs",
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    if args.area == "migrate":
        applied = asyncio.run(migrate_service(load_settings(PostgresSettings, "ops"), args.service))
        sys.stderr.write(f"intake-ops: {args.service}: {len(applied)} migration(s) applied\n")
        for version in applied:
            print(version)
        return
    settings = load_settings(ServiceSettings, "ops")
    names.use_namespace(settings.namespace)
    if args.area == "provision-topics":
        asyncio.run(provision_topics(settings))
        sys.stderr.write(
            f"intake-ops: topics ready ({settings.topic_partitions} partitions,"
            f" {settings.topic_replication} replica(s) each where created"
            f"{', ACLs granted' if settings.kafka_sasl else ''})\n"
        )
        return
    access = KafkaAccess.of(settings)
    if args.area == "groups":
        print_groups(asyncio.run(describe_groups(access)))
    elif args.action == "list":
        shown = asyncio.run(list_letters(access, args.topic, args.limit))
        sys.stderr.write(f"intake-ops: {shown} dead letter(s)\n")
    else:
        replayed = asyncio.run(replay_letters(access, args.topic, args.from_offset))
        sys.stderr.write(f"intake-ops: replayed {replayed} dead letter(s) to {args.topic}\n")
