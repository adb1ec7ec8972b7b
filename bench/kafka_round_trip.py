"""What two Kafka hops cost by themselves on this broker: produce -> consume -> produce ->
consume with bare aiokafka, the settings of Intake's request/reply path (acks=all, idempotent
producers, a fetch held up to 500 ms at the broker, getone), sequentially, in two processes
(this one, the caller, and an echo process, the service), both on uvloop as the services are.

    python -m bench.kafka_round_trip --messages 500 --linger-ms 0

The floor of a part URL through the gateway is this round trip plus the HTTP exchange, the
gateway's and the service's own Python work and Postgres.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import uvloop
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from tests.support import stack

from bench import cpu
from bench.common import write
from intake_runtime.messaging.access import KafkaAccess

BODY = b'{"type":"SignParts","payload":{"part_numbers":[1]}}' + b" " * 300  # a command's size


def producer(access: KafkaAccess, linger_ms: int) -> AIOKafkaProducer:
    return AIOKafkaProducer(
        **access.client_options(), acks="all", enable_idempotence=True, linger_ms=linger_ms
    )


async def consumer(access: KafkaAccess, topic: str) -> AIOKafkaConsumer:
    """A consumer assigned its topic's one partition at the end, before anything is sent."""
    found = AIOKafkaConsumer(
        topic,
        **access.client_options(),
        group_id=f"{topic}-group",
        enable_auto_commit=False,
        auto_offset_reset="latest",
        fetch_max_wait_ms=500,
    )
    await found.start()
    while not found.assignment():  # noqa: ASYNC110 - aiokafka signals no assignment but by listener
        await asyncio.sleep(0.05)
    for partition in found.assignment():
        await found.position(partition)
    return found


async def echo(access: KafkaAccess, inbound: str, outbound: str, linger_ms: int) -> None:
    """The service's side: every record read is sent back at once."""
    source = await consumer(access, inbound)
    sink = producer(access, linger_ms)
    await sink.start()
    print("ready", flush=True)
    try:
        async for record in source:
            if record.value == b"stop":
                return
            await sink.send_and_wait(outbound, record.value)
    finally:
        await sink.stop()
        await source.stop()


async def caller(access: KafkaAccess, args: argparse.Namespace) -> dict[str, Any]:
    run = uuid.uuid4().hex[:8]
    outbound, inbound = f"bench-rt-{run}-commands", f"bench-rt-{run}-replies"
    admin = AIOKafkaAdminClient(**access.client_options())
    await admin.start()
    await admin.create_topics([NewTopic(outbound, 1, 1), NewTopic(inbound, 1, 1)])
    argv = [sys.executable, "-m", "bench.kafka_round_trip", "--echo", outbound, inbound]
    server = await asyncio.create_subprocess_exec(
        *argv, "--linger-ms", str(args.linger_ms), stdout=asyncio.subprocess.PIPE
    )
    replies = await consumer(access, inbound)
    sink = producer(access, args.linger_ms)
    await sink.start()
    try:
        assert server.stdout is not None  # stdout=PIPE
        await server.stdout.readline()  # the echo's consumer is assigned
        await asyncio.sleep(1)
        pids = {"caller and echo": [os.getpid(), server.pid], **cpu.stack_pids(args.state)}
        pids = {name: found for name, found in pids.items() if name in {"caller and echo", "kafka"}}
        round_trips, acks = [], []
        for index in range(args.warm_up + args.messages):
            if index == args.warm_up:
                before = cpu.snapshot(pids)
            sent = time.perf_counter()
            await sink.send_and_wait(outbound, BODY)
            acked = time.perf_counter()
            await replies.getone()
            if index >= args.warm_up:
                round_trips.append((time.perf_counter() - sent) * 1000)
                acks.append((acked - sent) * 1000)
        after = cpu.snapshot(pids)
        await sink.send_and_wait(outbound, b"stop")
    finally:
        await sink.stop()
        await replies.stop()
        async with asyncio.timeout(30):
            await server.wait()
        await admin.delete_topics([outbound, inbound])
        await admin.close()
    return {
        "linger_ms": args.linger_ms,
        "messages": args.messages,
        "round_trip_p50_ms": round(statistics.median(round_trips), 3),
        "round_trip_p90_ms": round(sorted(round_trips)[int(len(round_trips) * 0.9)], 3),
        "produce_acks_all_p50_ms": round(statistics.median(acks), 3),
        "cpu_ms_per_round_trip": cpu.per_operation_ms(before, after, args.messages),
        "load_average": os.getloadavg(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=500)
    parser.add_argument("--warm-up", type=int, default=50)
    parser.add_argument("--linger-ms", type=int, default=0)
    parser.add_argument("--echo", nargs=2, metavar=("INBOUND", "OUTBOUND"))
    parser.add_argument("--name", default="kafka_round_trip")
    args = parser.parse_args()
    env = stack.native_env()
    access = stack.kafka_access(env)  # the stack's admin: it creates and deletes its topics
    if args.echo:
        uvloop.run(echo(access, *args.echo, args.linger_ms))
        return
    args.state = Path(env.get("INTAKE_STATE_DIR") or stack.ROOT / ".state").resolve()
    figures = uvloop.run(caller(access, args))
    print(write(f"{args.name}_linger{args.linger_ms}", figures))
    print(figures)


if __name__ == "__main__":
    main()
