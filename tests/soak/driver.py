"""The workload: many clients at once through the real gateway and S3, retrying the way a real
client does, each telling the books what it saw and what it was told succeeded."""

import asyncio
import hashlib
import random
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from tests.soak.deadlines import deadline
from tests.soak.invariants import Answer, Claim
from tests.support import tokens

MiB = 1024 * 1024
# One HTTP exchange, start to end: httpx's own timeouts bound each read or write, not the
# whole exchange. A client counts an attempt past this as lost and retries.
ATTEMPT_S = 45.0
# Initiation runs with 5 MiB chunks in the soak: a multipart file of 5-6 MiB has two parts.
CHUNK = 5 * MiB
RETRY_STATUSES = frozenset({429, 503, 504})
MAX_WAIT_S = 4.0


class GaveUpError(Exception):
    """A client stopped retrying (its deadline passed): a real client would show an error."""


@dataclass
class Books:
    """What every client saw (each answer), what it was told succeeded, and its retries."""

    answers: list[Answer] = field(default_factory=list)
    claims: list[Claim] = field(default_factory=list)
    retries: Counter[str] = field(default_factory=Counter)
    outcomes: Counter[str] = field(default_factory=Counter)
    tenants: set[str] = field(default_factory=set)


@dataclass
class Workload:
    uploads: int
    concurrency: int
    seed: int
    run_id: str
    # A client gives up on one call after this long (faults last ~10 s each).
    give_up_s: float = 180.0
    # One scenario (at most five calls, each given up after give_up_s): past this it is stuck.
    scenario_s: float = 900.0

    @property
    def tenants(self) -> list[str]:
        """One tenant per client, known before any runs: the soak's cleanup is scoped to them."""
        return [f"soak-{self.run_id}-{number}" for number in range(self.concurrency)]


class SoakClient:
    """One user: a tenant and a brand of its own, a gateway connection, a way to S3."""

    def __init__(
        self, books: Books, gateway: str, tenant: str, rng: random.Random, give_up_s: float
    ) -> None:
        brand = f"b-{tenant[-8:]}"
        self.brand = brand
        self.books = books
        self.rng = rng
        self.give_up_s = give_up_s
        self._gateway = gateway
        self._headers = {"Authorization": f"Bearer {tokens.mint(tenant, [brand], ttl_s=4 * 3600)}"}
        self.http = self._client()

    def _client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=self._gateway, headers=self._headers, timeout=30)

    async def drop(self) -> None:
        """The client goes away mid-upload (a closed laptop) and a new one picks up."""
        async with deadline("closing a dropped client's connections", ATTEMPT_S):
            await self.http.aclose()
        self.http = self._client()

    async def call(self, operation: str, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """The gateway's answer, retried on connection loss, 429, 503 and 504."""
        deadline = time.monotonic() + self.give_up_s
        attempt = 0
        while True:
            try:
                async with asyncio.timeout(ATTEMPT_S):
                    answer = await self.http.request(method, path, **kwargs)
            except (httpx.TransportError, TimeoutError) as error:
                reason = f"{operation}:{type(error).__name__}"
            else:
                retry_after = answer.headers.get("Retry-After")
                self.books.answers.append(
                    Answer(operation, answer.status_code, retry_after is not None)
                )
                if answer.status_code not in RETRY_STATUSES and answer.status_code < 500:
                    return answer
                reason = f"{operation}:{answer.status_code}"
            attempt += 1
            self.books.retries[reason] += 1
            if time.monotonic() > deadline:
                raise GaveUpError(reason)
            await asyncio.sleep(self._backoff(attempt))

    async def put(self, url: str, body: bytes, headers: dict[str, str] | None = None) -> str:
        """PUT bytes to a presigned URL; the ETag. Retried on connection loss and S3's 5xx."""
        deadline = time.monotonic() + self.give_up_s
        attempt = 0
        async with httpx.AsyncClient(timeout=60) as s3:
            while True:
                try:
                    async with asyncio.timeout(ATTEMPT_S):
                        answer = await s3.put(url, content=body, headers=headers or {})
                    if answer.status_code < 300:
                        return answer.headers.get("ETag", "").strip('"')
                    if answer.status_code < 500:
                        raise GaveUpError(
                            f"s3 put refused {answer.status_code}: {answer.text[:200]}"
                        )
                    reason = f"s3-put:{answer.status_code}"
                except (httpx.TransportError, TimeoutError) as error:
                    reason = f"s3-put:{type(error).__name__}"
                attempt += 1
                self.books.retries[reason] += 1
                if time.monotonic() > deadline:
                    raise GaveUpError(reason)
                await asyncio.sleep(self._backoff(attempt))

    def _backoff(self, attempt: int) -> float:
        return self.rng.uniform(0.1, min(MAX_WAIT_S, 0.25 * 2**attempt))


class Upload:
    """One session's journey, by scenario."""

    def __init__(self, client: SoakClient, size: int, *, checksum: bool) -> None:
        self.client = client
        self.body = client.rng.randbytes(size)
        self.checksum = hashlib.sha256(self.body).hexdigest() if checksum else None
        self.session: dict[str, Any] = {}
        self.etags: dict[int, str] = {}

    @property
    def id(self) -> str:
        return str(self.session["upload_session_id"])

    async def initiate(self) -> None:
        body: dict[str, Any] = {
            "file_name": f"soak-{uuid.uuid4().hex[:8]}.bin",
            "file_size": len(self.body),
            "mime_type": "application/octet-stream",
            "brand_id": self.client.brand,
        }
        if self.checksum:
            body["checksum_sha256"] = self.checksum
        # The key makes a retried initiate (its answer lost to a crash) the same session.
        headers = {"Idempotency-Key": uuid.uuid4().hex}
        answer = await self.client.call(
            "initiate", "POST", "/app/uploads/initiate", json=body, headers=headers
        )
        if answer.status_code != 201:
            raise GaveUpError(f"initiate refused {answer.status_code}: {answer.text[:200]}")
        self.session = answer.json()
        self.client.books.claims.append(Claim(uuid.UUID(self.id), "initiated"))

    async def send(self, parts: list[int] | None = None) -> None:
        """The bytes: the direct PUT, or the multipart parts named (all by default)."""
        if self.session["upload_type"] == "direct":
            direct = self.session["direct"]
            await self.client.put(direct["url"], self.body, direct.get("headers"))
            return
        count = int(self.session["multipart"]["part_count"])
        chunk = int(self.session["multipart"]["chunk_size"])
        wanted = parts or [n for n in range(1, count + 1) if n not in self.etags]
        answer = await self.client.call(
            "sign-parts",
            "POST",
            f"/app/uploads/{self.id}/multipart-part-urls",
            json={"part_numbers": wanted},
        )
        if answer.status_code != 200:
            raise GaveUpError(f"sign refused {answer.status_code}: {answer.text[:200]}")
        for part in answer.json()["parts"]:
            number = int(part["part_number"])
            piece = self.body[(number - 1) * chunk : number * chunk]
            self.etags[number] = await self.client.put(part["url"], piece)

    async def resume(self) -> None:
        """A new client asks where the upload stands, then sends what is missing."""
        await self.client.drop()
        answer = await self.client.call("resume", "GET", f"/app/uploads/{self.id}/resume")
        if answer.status_code != 200:
            raise GaveUpError(f"resume refused {answer.status_code}")
        view = answer.json()
        if not view["can_resume"]:
            raise GaveUpError(f"cannot resume: {view['status']}")
        self.etags = {
            int(p["part_number"]): str(p["etag"]).strip('"') for p in view["uploaded_parts"]
        }
        if view.get("direct"):
            self.session["direct"] = view["direct"]
        await self.send()

    async def complete(self, operation: str = "complete") -> str:
        """The outcome: `completed`, or `refused:<code>`."""
        body: dict[str, Any] = {"upload_session_id": self.id}
        if self.session["upload_type"] == "multipart":
            body["parts"] = [{"part_number": n, "etag": e} for n, e in sorted(self.etags.items())]
        answer = await self.client.call(operation, "POST", "/app/assets/upload/complete", json=body)
        if answer.status_code in {200, 201}:
            asset = uuid.UUID(answer.json()["asset"]["asset_id"])
            self.client.books.claims.append(Claim(uuid.UUID(self.id), "completed", asset))
            return "completed"
        return f"refused:{_code(answer)}"

    async def cancel(self) -> str:
        answer = await self.client.call("cancel", "POST", f"/app/uploads/{self.id}/cancel")
        if answer.status_code == 200 and answer.json()["status"] == "CANCELLED":
            self.client.books.claims.append(Claim(uuid.UUID(self.id), "cancelled"))
            return "cancelled"
        return f"cancel-lost:{answer.json().get('status') or _code(answer)}"


def _code(answer: httpx.Response) -> str:
    try:
        return str(answer.json().get("code"))
    except ValueError:
        return str(answer.status_code)


# --- scenarios: each returns the outcome it reached -----------------------------------------


async def direct(client: SoakClient) -> str:
    upload = Upload(client, client.rng.randint(1, 64 * 1024), checksum=client.rng.random() < 0.5)
    await upload.initiate()
    await upload.send()
    outcome = await upload.complete()
    if client.rng.random() < 0.3:  # a client that did not see the first answer asks again
        outcome = await upload.complete("complete-again")
    return outcome


async def multipart(client: SoakClient) -> str:
    upload = Upload(client, CHUNK + client.rng.randint(1, MiB), checksum=client.rng.random() < 0.3)
    await upload.initiate()
    await upload.send()
    return await upload.complete()


async def multipart_resumed(client: SoakClient) -> str:
    upload = Upload(client, CHUNK + client.rng.randint(1, MiB), checksum=False)
    await upload.initiate()
    await upload.send([1])
    await upload.resume()
    return await upload.complete()


async def direct_resumed(client: SoakClient) -> str:
    upload = Upload(client, client.rng.randint(1, 64 * 1024), checksum=False)
    await upload.initiate()
    await upload.resume()
    return await upload.complete()


async def cancelled(client: SoakClient) -> str:
    upload = Upload(client, client.rng.randint(1, 64 * 1024), checksum=False)
    await upload.initiate()
    if client.rng.random() < 0.5:
        await upload.send()
    return await upload.cancel()


async def cancel_racing_complete(client: SoakClient) -> str:
    upload = Upload(client, client.rng.randint(1, 64 * 1024), checksum=False)
    await upload.initiate()
    await upload.send()
    # A task group, not gather: if one side fails the other is cancelled, not left running.
    async with asyncio.TaskGroup() as race:
        completing = race.create_task(upload.complete())
        cancelling = race.create_task(upload.cancel())
    return f"race:{completing.result()}/{cancelling.result()}"


async def abandoned(client: SoakClient) -> str:
    small = client.rng.random() < 0.7
    size = client.rng.randint(1, 64 * 1024) if small else CHUNK + client.rng.randint(1, MiB)
    upload = Upload(client, size, checksum=False)
    await upload.initiate()
    if small and client.rng.random() < 0.5:
        await upload.send()
    elif not small:
        await upload.send([1])
    return "abandoned"


SCENARIOS: list[tuple[Callable[[SoakClient], Awaitable[str]], float]] = [
    (direct, 0.34),
    (multipart, 0.08),
    (multipart_resumed, 0.06),
    (direct_resumed, 0.10),
    (cancelled, 0.12),
    (cancel_racing_complete, 0.15),
    (abandoned, 0.15),
]


async def run(workload: Workload, gateway: str, books: Books) -> None:
    """`workload.uploads` sessions, `workload.concurrency` clients at a time."""
    rng = random.Random(workload.seed)
    plan = rng.choices([s for s, _ in SCENARIOS], [w for _, w in SCENARIOS], k=workload.uploads)
    queue: asyncio.Queue[Callable[[SoakClient], Awaitable[str]]] = asyncio.Queue()
    for scenario in plan:
        queue.put_nowait(scenario)

    async def worker(tenant: str) -> None:
        books.tenants.add(tenant)
        client = SoakClient(books, gateway, tenant, random.Random(rng.random()), workload.give_up_s)
        try:
            while not queue.empty():
                scenario = queue.get_nowait()
                try:
                    async with deadline(
                        f"scenario {scenario.__name__} of {tenant}", workload.scenario_s
                    ):
                        outcome = await scenario(client)
                except* GaveUpError as errors:
                    outcome = f"gave-up:{str(errors.exceptions[0]).split(':')[0]}"
                books.outcomes[f"{scenario.__name__}->{outcome}"] += 1
        finally:
            async with deadline(f"closing the connections of {tenant}", ATTEMPT_S):
                await client.http.aclose()

    # A task group: a worker that fails (a missed deadline) stops the others instead of
    # leaving them running behind the error.
    async with asyncio.TaskGroup() as workers:
        for tenant in workload.tenants:
            workers.create_task(worker(tenant))
