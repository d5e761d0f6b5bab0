"""How fast is contacts_api, and how does its cost grow? `python scripts/bench.py [--quick]`.

A tool, not a test. It fills a scratch database (it drops and recreates everything in
it), starts the app itself with uvicorn (one worker), drives load from a separate
process (`wrk` when installed, else an async httpx2 client), and prints one table of
figures, each against its target, plus a JSON file and a PNG plot of latency against
table size. Every figure is a ratio of two measurements taken in the same run, so the
noise of a shared machine largely cancels.

The database: `--database-url`, else `BENCH_DATABASE_URL`, else the PostgreSQL database
`contacts_bench` on 127.0.0.1 when the server is reachable (created if missing), else a
temporary SQLite file. Never point it at data you want to keep.
"""

import argparse
import asyncio
import json
import os
import platform
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import date
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import httpx2
from localhost import free_port
from seed import ContactFactory, contact_rows, generate_rows, write_rows
from sqlalchemy import Engine, create_engine, insert, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError
from sqlmodel import Session, select

from contacts_api.core.clock import utcnow
from contacts_api.core.db import create_db_engine
from contacts_api.core.migrations import upgrade_to_head
from contacts_api.core.rules import search_key
from contacts_api.core.security import PasswordHasher
from contacts_api.models import Contact, ContactPublic, User

SCRIPTS = Path(__file__).resolve().parent
DEFAULT_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/contacts_bench"
PASSWORD = "bench password"
SECRET_KEY = "bench-secret-key-that-is-long-enough-0123456789"
OTHER_USERS = 1000  # the "other users" the big table's contacts belong to
POOL_SIZE = 5000  # distinct generated contacts, repeated with fresh emails for bulk data
SCRAMBLE = 2_654_435_761  # Knuth's multiplicative hash: distinct numbers, unlike digits
INFORMATION = "-"  # the target of a figure that is followed, not judged
LOGINS_ALONE = 5  # logins timed one at a time before the storm, and again after it


@dataclass(frozen=True)
class Sizes:
    others: tuple[int, ...]  # contacts of other users, for the list and get figures
    own: tuple[int, ...]  # one user's contacts, for the search and birthday figures
    seed: int  # contacts seeded for the seeding figure
    requests: int  # latency samples per point
    logins: int  # logins in flight at once against /api/users/me
    seconds: float  # length of each throughput and pressure run
    cards: int  # contacts exported, then imported, for the vCard figures
    import_bytes: int  # the size of each of the imports sent at once


FULL = Sizes(
    others=(10_000, 100_000, 1_000_000),
    own=(1_000, 10_000, 100_000),
    seed=100_000,
    cards=10_000,
    import_bytes=5 * 1024 * 1024,  # MAX_IMPORT_BYTES
    requests=400,
    logins=100,
    seconds=8.0,
)
QUICK = Sizes(
    others=(1_000, 3_000, 10_000),
    own=(100, 300, 1_000),
    seed=2_000,
    cards=1_000,
    import_bytes=512 * 1024,
    requests=60,
    logins=100,
    seconds=2.0,
)


@dataclass
class Figure:
    name: str
    value: float
    target: str
    met: bool
    detail: str


@dataclass
class Report:
    database: str
    machine: dict[str, Any]
    figures: list[Figure] = field(default_factory=list)
    series: dict[str, dict[str, list[float]]] = field(default_factory=dict)

    def add(self, name: str, value: float, target: str, met: bool, detail: str) -> None:
        self.figures.append(Figure(name, round(value, 3), target, met, detail))
        print(f"  {name}: {value:.3f} (target {target}) {detail}", flush=True)


# --- Load, in a separate process --------------------------------------------------


@dataclass
class LoadResult:
    latencies: list[float]  # seconds, one per request
    elapsed: float

    @property
    def p50(self) -> float:
        return statistics.median(self.latencies)

    @property
    def p99(self) -> float:
        return statistics.quantiles(self.latencies, n=100)[98]

    @property
    def rate(self) -> float:
        return len(self.latencies) / self.elapsed


def load(url: str, headers: dict[str, str], requests: int, concurrency: int) -> LoadResult:
    """`requests` GETs of `url` from `concurrency` connections; every answer must be 200."""
    return asyncio.run(_load(url, headers, requests, concurrency))


async def _load(url: str, headers: dict[str, str], requests: int, concurrency: int) -> LoadResult:
    latencies: list[float] = []
    remaining = iter(range(requests))
    limits = httpx2.Limits(max_connections=concurrency)
    async with httpx2.AsyncClient(headers=headers, limits=limits, timeout=60) as client:

        async def worker() -> None:
            for _ in remaining:
                started = time.perf_counter()
                response = await client.get(url)
                latencies.append(time.perf_counter() - started)
                response.raise_for_status()

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return LoadResult(latencies, time.perf_counter() - started)


@dataclass
class StormResult:
    """How the logins of a storm were answered."""

    statuses: dict[int, int] = field(default_factory=dict)  # status: how many logins got it
    served_at: list[float] = field(default_factory=list)  # `time.monotonic()` of each 200
    slowest_refusal: float = 0.0  # seconds, of the 503s
    refusals_without_retry_after: int = 0


def login_storm(base_url: str, login: dict[str, str], logins: int, seconds: float) -> StormResult:
    """`logins` clients logging in for `seconds`, each again as soon as it is answered."""
    return asyncio.run(_login_storm(base_url, login, logins, seconds))


async def _login_storm(
    base_url: str, login: dict[str, str], logins: int, seconds: float
) -> StormResult:
    """A login refused with `503` (the hashing queue is full) retries after its
    `Retry-After` and a random part of a second, as a well-behaved client does (so
    that the refused do not all come back in one wave): `logins` clients stay at the
    door all the time. The storm runs in a process of its own, apart from the requests
    timed meanwhile, so that its clients' work does not count as the service's latency."""
    result = StormResult()
    deadline = time.perf_counter() + seconds
    limits = httpx2.Limits(max_connections=logins)
    async with httpx2.AsyncClient(base_url=base_url, limits=limits, timeout=120) as client:

        async def keep_logging_in() -> None:
            await asyncio.sleep(random.random())  # clients arrive over a second, not at once
            while time.perf_counter() < deadline:
                started = time.perf_counter()
                response = await client.post("/api/auth/login", json=login)
                took = time.perf_counter() - started
                result.statuses[response.status_code] = (
                    result.statuses.get(response.status_code, 0) + 1
                )
                if response.status_code == 200:
                    result.served_at.append(time.monotonic())
                if response.status_code == 503:
                    result.slowest_refusal = max(result.slowest_refusal, took)
                    retry_after = response.headers.get("retry-after")
                    if retry_after is None:
                        result.refusals_without_retry_after += 1
                    await asyncio.sleep(float(retry_after or 1) + random.random())

        await asyncio.gather(*(keep_logging_in() for _ in range(logins)))
    return result


def probe(url: str, headers: dict[str, str], seconds: float) -> LoadResult:
    """Latencies of GETs of `url`, one at a time, for `seconds`."""
    latencies: list[float] = []
    with httpx2.Client(headers=headers, timeout=60) as client:
        started = time.perf_counter()
        while time.perf_counter() - started < seconds:
            request_started = time.perf_counter()
            client.get(url).raise_for_status()
            latencies.append(time.perf_counter() - request_started)
        return LoadResult(latencies, time.perf_counter() - started)


def wrk_rate(url: str, headers: dict[str, str], seconds: float) -> float:
    """Requests a second that `wrk` reaches against `url` (one thread, ten connections)."""
    command = ["wrk", "-t1", "-c10", f"-d{max(1, round(seconds))}s", url]
    for name, value in headers.items():
        command += ["-H", f"{name}: {value}"]
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    if "Non-2xx" in output:
        raise RuntimeError(f"wrk saw errors from {url}:\n{output}")
    return float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))


# --- The database and the server ----------------------------------------------------


def choose_database(requested: str | None) -> str:
    if requested:
        return requested
    try:
        admin = create_engine(make_url(DEFAULT_POSTGRES_URL).set(database="postgres"))
        with admin.connect():
            pass
        admin.dispose()
    except OperationalError:
        return f"sqlite:///{tempfile.mkdtemp(prefix='contacts-bench-')}/bench.db"
    return DEFAULT_POSTGRES_URL


def recreate_database(url: str) -> None:
    """An empty database at `url`, migrated to head."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "postgresql":
        admin = create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{parsed.database}" WITH (FORCE)')
            connection.exec_driver_sql(f'CREATE DATABASE "{parsed.database}"')
        admin.dispose()
    elif parsed.database and Path(parsed.database).exists():
        Path(parsed.database).unlink()
    upgrade_to_head(url)


def analyze(engine: Engine) -> None:
    """What autovacuum would do after a bulk load, given time: fresh statistics, and on
    PostgreSQL a visibility map that lets counts come from the index alone."""
    command = "VACUUM ANALYZE" if engine.dialect.name == "postgresql" else "ANALYZE"
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.exec_driver_sql(command)


class Server:
    """uvicorn with one worker, serving `bench_app:app` on the bench database."""

    def __init__(self, database_url: str, bare_json: Path, log: Path) -> None:
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        env = os.environ | {
            "DATABASE_URL": database_url,
            "SECRET_KEY": SECRET_KEY,
            "RATE_LIMIT_ENABLED": "false",
            "BENCH_BARE_JSON": str(bare_json),
        }
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "bench_app:app",
                "--app-dir",
                str(SCRIPTS),
                "--port",
                str(self.port),
                "--log-level",
                "warning",
                "--no-access-log",
            ],
            env=env,
            stderr=log.open("w"),  # one access line a request: kept, but out of the way
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                httpx2.get(f"{self.base_url}/api/health").raise_for_status()
                return
            except httpx2.TransportError:
                time.sleep(0.2)
        raise RuntimeError("the server did not start")

    def resident_mb(self, *, with_helpers: bool = False) -> float:
        """The server's resident size; `with_helpers`, the proportional size (PSS) of
        the server and the processes it started (the fork server and an import's
        child, see `import_worker`): a page they share is counted once, in shares."""
        if not with_helpers:
            return memory_mb(self.process.pid, "VmRSS", "status")
        family = [self.process.pid, *descendants(self.process.pid)]
        return sum(memory_mb(pid, "Pss", "smaps_rollup") for pid in family)

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)

    @contextmanager
    def on_one_cpu(self) -> Iterator[None]:
        """Every thread of the server on one CPU meanwhile (what `taskset -a -p` does):
        the event loop and the hashing threads then compete for that CPU, as they do on
        a machine with one, and the clients, on the others, do not take from it. Threads
        started meanwhile inherit it; all are given every CPU back after."""
        everything = os.sched_getaffinity(self.process.pid)
        threads = Path(f"/proc/{self.process.pid}/task")
        for thread in threads.iterdir():
            os.sched_setaffinity(int(thread.name), {max(everything)})
        try:
            yield
        finally:
            for thread in threads.iterdir():
                os.sched_setaffinity(int(thread.name), everything)


# --- Data ----------------------------------------------------------------------------


class Data:
    """Users and bulk contacts, written straight to the database (not through the API)."""

    def __init__(self, engine: Engine, today: date) -> None:
        self.engine = engine
        hasher = PasswordHasher(rounds=12, concurrency=1, queue_seconds=0)
        self.hashed = hasher.hash_blocking(PASSWORD)
        self.numbers = iter(range(1, 10**9))
        factory = ContactFactory(["uk_UA", "en_US"], seed=7, today=today)
        now = utcnow()
        self.pool = list(
            contact_rows(
                factory, owner_id=0, numbers=range(1, POOL_SIZE + 1), phone_region="UA", now=now
            )
        )

    def user(self, email: str) -> int:
        with self.engine.begin() as connection:
            return connection.execute(
                insert(User)
                .values(email=email, hashed_password=self.hashed, created_at=utcnow())
                .returning(User.id)
            ).scalar_one()

    def users(self, prefix: str, count: int) -> list[int]:
        return [self.user(f"{prefix}{n}@bench.example") for n in range(count)]

    def contacts(self, owners: list[int], count: int) -> None:
        """`count` contacts spread evenly over `owners`, each with an email of its own."""
        rows = (self._row(owners[n % len(owners)], n) for n in range(count))
        write_rows(self.engine, rows, total=count)

    def _row(self, owner_id: int, n: int) -> dict[str, Any]:
        """A pool contact with an email of its own.

        The suffix that makes the email unique is a scrambled number, not the number
        itself: a million emails ending in consecutive numbers would make a few digit
        trigrams (`100`, `000`) common to most rows, which real addresses never do, and
        the trigram index would be measured on a distribution no user has.
        """
        row = dict(self.pool[n % len(self.pool)])
        local, domain = row["email"].split("@")
        token = format(next(self.numbers) * SCRAMBLE % 2**32, "08x")
        email = f"{local.rsplit('.', 1)[0]}.{token}@{domain}"
        return row | {"owner_id": owner_id, "email": email, "email_key": search_key(email)}


# --- The run -------------------------------------------------------------------------


def login(base_url: str, email: str) -> dict[str, str]:
    response = httpx2.post(
        f"{base_url}/api/auth/login", json={"email": email, "password": PASSWORD}
    )
    response.raise_for_status()
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def additions(sizes: tuple[int, ...]) -> Iterator[int]:
    """How many rows to add to reach each size in turn."""
    previous = 0
    for size in sizes:
        yield size - previous
        previous = size


def ratio_figure(
    report: Report, name: str, series: list[float], limit: float, sizes: tuple[int, ...]
) -> None:
    value = series[-1] / series[0]
    detail = (
        f"{series[-1] * 1000:.2f} ms at {sizes[-1]:,} vs {series[0] * 1000:.2f} ms at {sizes[0]:,}"
    )
    report.add(name, value, f"<= {limit}", value <= limit, detail)


@dataclass
class Bench:
    """What every part of a run measures with: the data, the server and the load process."""

    report: Report
    sizes: Sizes
    engine: Engine
    data: Data
    server: Server
    pool: ProcessPoolExecutor

    def p50(self, path: str, auth: dict[str, str]) -> float:
        url = f"{self.server.base_url}{path}"
        self.pool.submit(load, url, auth, 20, 1).result()  # warm up
        return self.pool.submit(load, url, auth, self.sizes.requests, 1).result().p50


def run(database_url: str, sizes: Sizes, output: Path) -> Report:
    report = Report(
        database=make_url(database_url).get_backend_name(),
        machine={
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
        },
    )
    print(f"database: {make_url(database_url).render_as_string()}", flush=True)
    recreate_database(database_url)
    engine = create_db_engine(database_url)
    data = Data(engine, date.today())

    reader = data.user("reader@bench.example")
    data.user("searcher@bench.example")
    data.contacts([reader], 100)
    with Session(engine) as session:
        contact = session.exec(select(Contact).where(Contact.owner_id == reader)).first()
        # The bare route answers the very JSON the real route gives for this contact.
        bare_json = output / "bare.json"
        bare_json.write_text(ContactPublic.model_validate(contact).model_dump_json())

    server = Server(database_url, bare_json, output / "server.log")
    pool = ProcessPoolExecutor(max_workers=1, mp_context=get_context("spawn"))
    bench = Bench(report, sizes, engine, data, server, pool)
    try:
        reader_auth = login(server.base_url, "reader@bench.example")
        measure_growing_table(bench, reader_auth, contact.id)
        measure_growing_user(bench, login(server.base_url, "searcher@bench.example"))
        measure_login_storm(bench, reader_auth)
        measure_throughput(bench, reader_auth, contact.id)
        measure_seeding(bench)
        measure_vcards(bench)
        measure_concurrent_imports(bench)
        resident = server.resident_mb()
        report.add(
            "worker resident memory, MB", resident, "<= 150", resident <= 150, "after the run"
        )
    finally:
        server.stop()
        pool.shutdown()
        engine.dispose()
    return report


def measure_growing_table(bench: Bench, auth: dict[str, str], contact_id: int) -> None:
    """A user's list and get stay as fast while other users' contacts pile up."""
    print("list and get, as other users' contacts grow", flush=True)
    others = bench.data.users("other", OTHER_USERS)
    series: dict[str, list[float]] = {"list": [], "get": []}
    for add in additions(bench.sizes.others):
        bench.data.contacts(others, add)
        analyze(bench.engine)
        series["list"].append(bench.p50("/api/contacts?limit=20", auth))
        series["get"].append(bench.p50(f"/api/contacts/{contact_id}", auth))
    sizes = bench.sizes.others
    bench.report.series["others"] = {"size": list(sizes), **series}
    ratio_figure(bench.report, "p50 list, big vs small table", series["list"], 1.25, sizes)
    ratio_figure(bench.report, "p50 get by id, big vs small table", series["get"], 1.25, sizes)


def measure_growing_user(bench: Bench, auth: dict[str, str]) -> None:
    """Search and birthdays grow slowly with the size of the user's own address book."""
    print("search and birthdays, as one user's contacts grow", flush=True)
    with bench.engine.connect() as connection:
        searcher = connection.execute(
            select(User.id).where(User.email == "searcher@bench.example")
        ).scalar_one()
    bench.data.contacts([searcher], 1)
    with bench.engine.connect() as connection:
        email = connection.execute(
            text("SELECT email FROM contacts WHERE owner_id = :o"), {"o": searcher}
        ).scalar_one()
    term = email.split("@")[0]  # one contact's own address: a selective term
    series: dict[str, list[float]] = {"search": [], "birthdays": []}
    for step, add in enumerate(additions(bench.sizes.own)):
        bench.data.contacts([searcher], add - 1 if step == 0 else add)  # one is there already
        analyze(bench.engine)
        series["search"].append(bench.p50(f"/api/contacts?q={term}", auth))
        series["birthdays"].append(bench.p50("/api/contacts/birthdays?days=7", auth))
    sizes = bench.sizes.own
    bench.report.series["own"] = {"size": list(sizes), **series}
    ratio_figure(bench.report, "p50 search, big vs small user", series["search"], 3, sizes)
    ratio_figure(bench.report, "p50 birthdays, big vs small user", series["birthdays"], 3, sizes)


def measure_login_storm(bench: Bench, auth: dict[str, str]) -> None:
    """A storm of logins against a server on one CPU: the logins are served at no less
    than half the rate one hashing thread has alone, and every other request stays fast.

    The two pull against each other: the hashing threads run at a lower CPU priority
    (`HASHING_NICENESS`) so that the event loop keeps its CPU, but too low and they get
    almost none of it while the loop is busy. The served share is the logins answered
    `200` while `/users/me` is timed, over what one login's time alone allows then."""
    logins, seconds = bench.sizes.logins, bench.sizes.seconds
    print(f"GET /api/users/me, alone and while {logins} logins are in flight", flush=True)
    base_url = bench.server.base_url
    me_url = f"{base_url}/api/users/me"
    login = {"email": "other0@bench.example", "password": PASSWORD}
    with bench.server.on_one_cpu():
        probe(me_url, auth, 1.0)  # warm up
        logins_alone = [login_seconds(base_url, login) for _ in range(LOGINS_ALONE)]
        alone = probe(me_url, auth, seconds)
        storm = bench.pool.submit(login_storm, base_url, login, logins, seconds + 3)
        time.sleep(2)  # every client has arrived
        window_start = time.monotonic()
        pressed = probe(me_url, auth, seconds)
        window_end = time.monotonic()
        answers = storm.result()
        logins_alone += [login_seconds(base_url, login) for _ in range(LOGINS_ALONE)]
    one_login = statistics.median(logins_alone)
    value = pressed.p99 / alone.p99
    answered = ", ".join(f"{n} x {status}" for status, n in sorted(answers.statuses.items()))
    logins_ok = (
        set(answers.statuses) <= {200, 503}
        and answers.slowest_refusal <= 0.1
        and answers.refusals_without_retry_after == 0
    )
    bench.report.add(
        f"p99 /users/me, {logins} logins in flight vs alone",
        value,
        "<= 3",
        value <= 3 and logins_ok,
        f"{pressed.p99 * 1000:.1f} ms vs {alone.p99 * 1000:.1f} ms; logins: {answered}, "
        f"slowest 503 {answers.slowest_refusal * 1000:.0f} ms",
    )
    window = window_end - window_start
    served = sum(window_start <= at <= window_end for at in answers.served_at)
    capacity = window / one_login
    share = served / capacity
    bench.report.add(
        "logins served in the storm vs one hash thread",
        share,
        ">= 0.5",
        share >= 0.5,
        f"{served} in {window:.1f} s vs {capacity:.1f} at {one_login * 1000:.0f} ms a login alone",
    )


def login_seconds(base_url: str, login: dict[str, str]) -> float:
    """How long one login takes with nothing else going on: about one hash."""
    started = time.perf_counter()
    httpx2.post(f"{base_url}/api/auth/login", json=login).raise_for_status()
    return time.perf_counter() - started


def measure_throughput(bench: Bench, auth: dict[str, str], contact_id: int) -> None:
    """Requests a second of an authenticated get, against a bare `async def` route of the
    same app: the share of the time that FastAPI itself takes. A figure to follow, not a
    target: the throughput targets compare with other implementations of the same work
    (the side-by-side benchmark in the README)."""
    print("throughput: authenticated get vs a bare route", flush=True)
    get_url = f"{bench.server.base_url}/api/contacts/{contact_id}"
    bare_url = f"{bench.server.base_url}/bench/bare"
    if shutil.which("wrk"):
        real_rate = wrk_rate(get_url, auth, bench.sizes.seconds)
        bare_rate = wrk_rate(bare_url, {}, bench.sizes.seconds)
        tool = "wrk"
    else:
        requests = bench.sizes.requests * 5
        real_rate = bench.pool.submit(load, get_url, auth, requests, 10).result().rate
        bare_rate = bench.pool.submit(load, bare_url, {}, requests, 10).result().rate
        tool = "httpx2"
    value = real_rate / bare_rate
    bench.report.add(
        "req/s get by id vs a bare async route",
        value,
        INFORMATION,
        True,
        f"{real_rate:,.0f} vs {bare_rate:,.0f} req/s ({tool}); no target: reading the user "
        "and the contact costs more than all of FastAPI, in any implementation",
    )


def seed_contacts(engine: Engine, *, owner_id: int, count: int, faker_seed: int) -> float:
    """What the seed script does for `count` contacts (Faker, the checks, the writes);
    the seconds it took."""
    started = time.perf_counter()
    rows = generate_rows(
        locales=["uk_UA", "en_US"],
        seed=faker_seed,
        today=date.today(),
        owner_id=owner_id,
        numbers=range(count),
        phone_region="UA",
        now=utcnow(),
    )
    write_rows(engine, rows, total=count)
    return time.perf_counter() - started


def measure_seeding(bench: Bench) -> None:
    """The seed script writes rows about as fast as Faker can make them."""
    seed = bench.sizes.seed
    print(f"seeding {seed:,} contacts vs Faker alone", flush=True)
    seeded = bench.data.user("seeded@bench.example")
    generator = ContactFactory(["uk_UA", "en_US"], seed=11, today=date.today())
    started = time.perf_counter()
    for n in range(seed):
        generator.payload(n)
    faker_seconds = time.perf_counter() - started
    seed_seconds = seed_contacts(bench.engine, owner_id=seeded, count=seed, faker_seed=11)
    value = seed_seconds / faker_seconds
    bench.report.add(
        "seeding vs Faker alone",
        value,
        "<= 1.5",
        value <= 1.5,
        f"{seed_seconds:.1f} s vs {faker_seconds:.1f} s "
        f"({seed / seed_seconds:,.0f} rows/s written)",
    )


def memory_mb(pid: int, field: str, file: str) -> float:
    """A process's memory figure `field` from `/proc/<pid>/<file>`; 0 once it ended."""
    try:
        text = Path(f"/proc/{pid}/{file}").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return 0.0
    found = re.search(rf"^{field}:\s+(\d+) kB", text, re.MULTILINE)
    return int(found.group(1)) / 1024 if found else 0.0


def descendants(pid: int) -> list[int]:
    """Every process below `pid`, children first."""
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            children = (task / "children").read_text().split()
        except FileNotFoundError:
            continue
        for child in map(int, children):
            found += [child, *descendants(child)]
    return found


class PeakMemory:
    """The server's largest resident size while a block runs, sampled every 5 ms;
    `with_helpers`, that of the server and the processes it started, together."""

    def __init__(self, server: Server, *, with_helpers: bool = False) -> None:
        self.server = server
        self.with_helpers = with_helpers
        self.peak = 0.0
        self._done = threading.Event()
        self._sampler = threading.Thread(target=self._sample)

    def _sample(self) -> None:
        while not self._done.is_set():
            self.peak = max(self.peak, self.server.resident_mb(with_helpers=self.with_helpers))
            time.sleep(0.05 if self.with_helpers else 0.005)

    def __enter__(self) -> "PeakMemory":
        self._sampler.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._done.set()
        self._sampler.join()


def measure_vcards(bench: Bench) -> None:
    """Export streams (memory flat, faster than paging the list) and import keeps up with
    the seed script, for `cards` contacts: export one user's, import them into another."""
    cards = bench.sizes.cards
    print(f"vCard export and import of {cards:,} contacts", flush=True)
    base = bench.server.base_url
    exporter = bench.data.user("exporter@bench.example")
    bench.data.user("importer@bench.example")
    seed_seconds = seed_contacts(bench.engine, owner_id=exporter, count=cards, faker_seed=13)
    analyze(bench.engine)
    auth = login(base, "exporter@bench.example")

    with httpx2.Client(base_url=base, headers=auth, timeout=600) as client:
        client.get("/api/contacts/export", params={"q": "zzz-nothing"})  # warm up the route
        started = time.perf_counter()
        for offset in range(0, cards, 100):
            client.get("/api/contacts", params={"limit": 100, "offset": offset}).raise_for_status()
        paging_seconds = time.perf_counter() - started

        before = bench.server.resident_mb()
        with PeakMemory(bench.server) as memory:
            started = time.perf_counter()
            exported = client.get("/api/contacts/export").raise_for_status().content
            export_seconds = time.perf_counter() - started
        growth = memory.peak - before

    importer = login(base, "importer@bench.example")
    with httpx2.Client(base_url=base, headers=importer, timeout=600) as client:
        end = b"END:VCARD\r\n"
        first_card = exported[: exported.index(end) + len(end)]
        warm_up = {"file": ("c.vcf", first_card)}
        client.post("/api/contacts/import", params={"dry_run": "true"}, files=warm_up)
        started = time.perf_counter()
        imported = client.post("/api/contacts/import", files={"file": ("c.vcf", exported)})
        import_seconds = time.perf_counter() - started
    outcome = imported.raise_for_status().json()
    if outcome["created"] != cards or outcome["rejected"]:
        raise RuntimeError(f"the import did not create every contact: {outcome}")

    value = import_seconds / seed_seconds
    bench.report.add(
        "import vs seeding, same contacts",
        value,
        "<= 1.5",
        value <= 1.5,
        f"{import_seconds:.2f} s vs {seed_seconds:.2f} s for {cards:,} ({len(exported):,} bytes)",
    )
    value = export_seconds / paging_seconds
    bench.report.add(
        "export vs paging the list 100 at a time",
        value,
        "<= 1",
        value <= 1,
        f"{export_seconds:.2f} s vs {paging_seconds:.2f} s for {cards:,}",
    )
    bench.report.add(
        "server memory growth during export, MB",
        growth,
        "< 20",
        growth < 20,
        f"peak {memory.peak:.0f} MB, {before:.0f} MB before",
    )


CONCURRENT_IMPORTS = 5


def vcard_file(size: int, tag: str) -> bytes:
    """Valid cards (at most 10,000, each with an email of its own) filling `size` bytes."""
    cards = min(10_000, size // 300)
    filler = "x" * (size // cards - 200)
    content = "".join(
        f"BEGIN:VCARD\r\nVERSION:3.0\r\nN:Doe{n};Jane;;;\r\nFN:Jane Doe{n}\r\n"
        f"EMAIL:jane.{tag}.{n}@bench.example\r\nTEL:+380671234567\r\nBDAY:1990-01-02\r\n"
        f"NOTE:{filler}\r\nEND:VCARD\r\n"
        for n in range(cards)
    ).encode()
    end = content.rindex(b"BEGIN:VCARD", 0, size + 1) if len(content) > size else len(content)
    return content[:end]


def post_imports(base_url: str, tokens: list[str], content: bytes) -> list[int]:
    """One import of `content` for each token, all at once; their statuses."""
    return asyncio.run(_post_imports(base_url, tokens, content))


async def _post_imports(base_url: str, tokens: list[str], content: bytes) -> list[int]:
    async with httpx2.AsyncClient(base_url=base_url, timeout=600) as client:
        answers = await asyncio.gather(
            *(
                client.post(
                    "/api/contacts/import",
                    files={"file": ("contacts.vcf", content)},
                    headers={"Authorization": f"Bearer {token}"},
                )
                for token in tokens
            )
        )
    return [answer.status_code for answer in answers]


def measure_concurrent_imports(bench: Bench) -> None:
    """Five imports of the largest file at once slow other requests at most threefold,
    and the server's memory stays bounded while they run and after."""
    size = bench.sizes.import_bytes
    print(f"GET /api/users/me, alone and during {CONCURRENT_IMPORTS} imports of {size:,} bytes")
    base = bench.server.base_url
    tokens = []
    for n in range(CONCURRENT_IMPORTS):
        email = f"importer{n}@bench.example"
        bench.data.user(email)
        tokens.append(login(base, email)["Authorization"].removeprefix("Bearer "))
    content = vcard_file(size, "concurrent")
    me_url = f"{base}/api/users/me"
    auth = {"Authorization": f"Bearer {tokens[0]}"}
    probe(me_url, auth, 1.0)  # warm up
    alone = probe(me_url, auth, bench.sizes.seconds)

    with PeakMemory(bench.server, with_helpers=True) as memory:
        started = time.perf_counter()
        imports = bench.pool.submit(post_imports, base, tokens, content)
        time.sleep(0.5)  # the uploads are under way
        pressed = probe_until(me_url, auth, imports)
        statuses = imports.result()
        took = time.perf_counter() - started
    after = bench.server.resident_mb(with_helpers=True)
    if statuses != [201] * CONCURRENT_IMPORTS:
        raise RuntimeError(f"the concurrent imports were answered {statuses}")

    value = pressed.p99 / alone.p99
    bench.report.add(
        f"p99 /users/me, {CONCURRENT_IMPORTS} imports at once vs alone",
        value,
        "<= 3",
        value <= 3,
        f"{pressed.p99 * 1000:.1f} ms vs {alone.p99 * 1000:.1f} ms; the imports of "
        f"{len(content):,} bytes took {took:.1f} s in all",
    )
    bench.report.add(
        "server memory peak during those imports, MB",  # its import children counted
        memory.peak,
        "<= 250",
        memory.peak <= 250,
        f"{after:.0f} MB after them",
    )
    bench.report.add("server memory after those imports, MB", after, "<= 160", after <= 160, "")


def probe_until(url: str, headers: dict[str, str], running: Future[Any]) -> LoadResult:
    """Latencies of GETs of `url`, one at a time, until `running` is done."""
    latencies: list[float] = []
    with httpx2.Client(headers=headers, timeout=60) as client:
        started = time.perf_counter()
        while not running.done():
            request_started = time.perf_counter()
            client.get(url).raise_for_status()
            latencies.append(time.perf_counter() - request_started)
        return LoadResult(latencies, time.perf_counter() - started)


def print_table(report: Report) -> None:
    print(f"\n{'figure':<48} {'measured':>9} {'target':>8}  met")
    for figure in report.figures:
        met = "-" if figure.target == INFORMATION else "yes" if figure.met else "NO"
        print(f"{figure.name:<48} {figure.value:>9.2f} {figure.target:>8}  {met}")
    print(f"({report.database}, {report.machine['cpus']} CPUs, {report.machine['platform']})")


def plot(report: Report, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    figure, (left, right) = pyplot.subplots(1, 2, figsize=(11, 4.2))
    for axes, key, title in (
        (left, "others", "A user's list and get, as other users' rows grow"),
        (right, "own", "Search and birthdays, as one user's rows grow"),
    ):
        series = report.series[key]
        for name, values in series.items():
            if name != "size":
                axes.plot(series["size"], [v * 1000 for v in values], marker="o", label=name)
        axes.set_xscale("log")
        axes.set_ylim(bottom=0)
        axes.set_xlabel("contacts in the table" if key == "others" else "the user's contacts")
        axes.set_ylabel("p50 latency, ms")
        axes.set_title(title, fontsize=10)
        axes.grid(alpha=0.3)
        axes.legend()
    figure.suptitle(f"contacts_api on {report.database}, {report.machine['cpus']} CPUs")
    figure.tight_layout()
    figure.savefig(path, dpi=110)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, under two minutes")
    parser.add_argument(
        "--database-url", default=os.environ.get("BENCH_DATABASE_URL"), help="scratch database"
    )
    parser.add_argument(
        "--output", type=Path, default=Path("artifacts/bench"), help="folder for JSON and PNG"
    )
    args = parser.parse_args(argv)
    args.output.mkdir(parents=True, exist_ok=True)
    sizes = QUICK if args.quick else FULL

    started = time.perf_counter()
    report = run(choose_database(args.database_url), sizes, args.output)
    print_table(report)
    name = f"bench-{report.database}{'-quick' if args.quick else ''}"
    (args.output / f"{name}.json").write_text(
        json.dumps(asdict(report) | {"sizes": asdict(sizes)}, indent=2)
    )
    plot(report, args.output / f"{name}.png")
    print(f"wrote {args.output / name}.json and .png in {time.perf_counter() - started:.0f} s")
    expected = 15
    if len(report.figures) != expected:
        print(f"only {len(report.figures)} of {expected} figures were produced", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
