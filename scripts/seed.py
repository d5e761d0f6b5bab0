"""Fill the database with believable demo contacts: `python scripts/seed.py --help`.

Creates (or reuses) a demo user, prints the credentials to log in with in Swagger UI,
and writes `--count` Faker contacts for it, and for `--users` more users to show that
each sees only their own. Every row passes the checks the API makes (Pydantic, then
`check_contact_fields`), so the data looks exactly like what clients create.

Synchronous on purpose, unlike the API: it runs one job from start to end with no one
else to serve meanwhile, and its batches go fastest through a plain connection.
"""

import argparse
import os
import random
import secrets
import string
import sys
import time
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from datetime import date, datetime, timedelta
from functools import partial
from itertools import islice
from typing import Any
from zoneinfo import ZoneInfo

from faker import Faker
from pydantic import EmailStr, TypeAdapter, ValidationError
from sqlalchemy import Engine, delete, func, insert
from sqlalchemy.exc import OperationalError
from sqlmodel import Session, select
from tqdm import tqdm

from contacts_api.core.clock import utcnow
from contacts_api.core.config import load_settings
from contacts_api.core.db import create_db_engine
from contacts_api.core.migrations import upgrade_to_head
from contacts_api.core.rules import (
    BCRYPT_MAX_BYTES,
    InvalidFields,
    check_contact_fields,
    derived_columns,
    normalize_email,
)
from contacts_api.core.security import PasswordHasher
from contacts_api.crud.contacts import is_owner
from contacts_api.models import PASSWORD_MIN_LENGTH, Contact, ContactCreate, User

DEFAULT_EMAIL = "demo@example.com"
DEFAULT_LOCALES = ("uk_UA", "en_US")
DEFAULT_COUNT = 200
BATCH_SIZE = 1000
PASSWORD_ALPHABET = string.ascii_letters + string.digits
GENERATED_PASSWORD_LENGTH = 16  # 95 bits
CHUNK_SIZE = 5000  # rows one worker process makes at a time
NEAR_BIRTHDAY_EVERY = 50  # one contact in this many has a birthday within the next 7 days
NOTES_SHARE = 0.3

# Numbers that `phonenumbers` accepts as real, which Faker's own mostly are not:
# Ukrainian mobile operators' codes, and US area codes (an exchange starts with 2-9).
UA_MOBILE_CODES = ("50", "63", "66", "67", "68", "73", "93", "95", "97")
US_AREA_CODES = ("201", "202", "212", "305", "312", "415", "617", "718")


class ContactFactory:
    """Makes contact payloads as a client would send them, reproducibly for one seed.

    Each contact takes all its fields from one locale, so an Ukrainian name comes with
    a Ukrainian phone number rather than a mix.
    """

    def __init__(self, locales: Sequence[str], seed: int | str | None, today: date) -> None:
        self.fake = Faker(list(locales))
        self.locales = list(locales)
        self.random = random.Random(seed)
        self.fake.seed_instance(seed)
        self.today = today

    def payload(self, number: int) -> dict[str, Any]:
        """Contact `number` of a user: `number` keeps its email unique for that user."""
        locale = self.random.choice(self.locales)
        fake = self.fake[locale]
        return {
            "first_name": fake.first_name(),
            "last_name": fake.last_name(),
            "email": f"{fake.user_name()}.{number}@{fake.free_email_domain()}",
            "phone": self._phone(locale),
            "birthday": self._birthday(number),
            "notes": fake.sentence(nb_words=8) if self.random.random() < NOTES_SHARE else None,
        }

    def _phone(self, locale: str) -> str:
        """In international form, so it means the same whatever `PHONE_REGION` is."""
        digits = self.random.randint
        if locale == "en_US":
            area = self.random.choice(US_AREA_CODES)
            return f"+1 ({area}) {digits(200, 999)}-{digits(0, 9999):04}"
        code = self.random.choice(UA_MOBILE_CODES)
        return f"+380 {code} {digits(100, 999)} {digits(10, 99)} {digits(10, 99)}"

    def _birthday(self, number: int) -> date:
        """Spread over the year; every `NEAR_BIRTHDAY_EVERY`-th within the next 7 days."""
        if number % NEAR_BIRTHDAY_EVERY:
            return self.fake.date_between(date(1950, 1, 1), date(2008, 12, 31))
        day = self.today + timedelta(days=number // NEAR_BIRTHDAY_EVERY % 7)
        year = self.random.randrange(1950, 2009)
        if (day.month, day.day) == (2, 29):
            year -= year % 4  # a leap year, so 29 February exists
        return day.replace(year=year)


def contact_rows(
    factory: ContactFactory,
    *,
    owner_id: int,
    numbers: Iterable[int],
    phone_region: str,
    now: datetime,
) -> Iterator[dict[str, Any]]:
    """Table rows for `owner_id`, each checked as the API checks a `POST /api/contacts`."""
    for number in numbers:
        while True:
            try:
                checked = check_contact_fields(
                    ContactCreate.model_validate(factory.payload(number)).model_dump(),
                    phone_region=phone_region,
                    today=factory.today,
                )
                break
            except (ValidationError, InvalidFields):
                continue  # a rare unlucky draw: draw again
        yield (
            checked
            | derived_columns(checked)
            | {
                "owner_id": owner_id,
                "created_at": now,
                "updated_at": now,
            }
        )


def generate_rows(
    *,
    locales: Sequence[str],
    seed: int | None,
    today: date,
    owner_id: int,
    numbers: range,
    phone_region: str,
    now: datetime,
) -> Iterator[dict[str, Any]]:
    """`contact_rows` for `numbers`, in chunks spread over every CPU.

    Checking a row as the API does costs half again what Faker takes to make it, so
    one process would spend most of its time validating; the chunks keep every core
    busy while this process writes. Each chunk's generator is seeded with the seed and
    the chunk's position, so a seed gives the same rows however the work is shared out.
    """
    chunks = list(
        enumerate(numbers[i : i + CHUNK_SIZE] for i in range(0, len(numbers), CHUNK_SIZE))
    )
    make = partial(
        _chunk_rows,
        locales=locales,
        seed=seed,
        today=today,
        owner_id=owner_id,
        phone_region=phone_region,
        now=now,
    )
    if len(chunks) < 2 or (os.cpu_count() or 1) < 2:
        for chunk in chunks:
            yield from make(chunk)
        return
    with ProcessPoolExecutor(os.cpu_count()) as pool:
        for rows in pool.map(make, chunks):
            yield from rows


def _chunk_rows(
    chunk: tuple[int, range],
    *,
    locales: Sequence[str],
    seed: int | None,
    today: date,
    owner_id: int,
    phone_region: str,
    now: datetime,
) -> list[dict[str, Any]]:
    position, numbers = chunk
    factory = ContactFactory(locales, None if seed is None else f"{seed}/{position}", today)
    return list(
        contact_rows(
            factory, owner_id=owner_id, numbers=numbers, phone_region=phone_region, now=now
        )
    )


def write_rows(engine: Engine, rows: Iterable[dict[str, Any]], *, total: int) -> int:
    """Bulk-insert `rows`, one transaction and one `executemany` a batch; return the count."""
    written = 0
    rows = iter(rows)
    with tqdm(total=total, unit="contact", disable=None) as progress:
        while batch := list(islice(rows, BATCH_SIZE)):
            with engine.begin() as connection:
                connection.execute(insert(Contact), batch)
            written += len(batch)
            progress.update(len(batch))
    return written


def next_contact_number(session: Session) -> int:
    """Where this run's contact numbers start: after the highest contact id.

    A run writes as many rows as it numbers, so the ids grow past every number an
    earlier run used, and the emails made from the numbers never repeat for a user.
    """
    return (session.exec(select(func.max(Contact.id))).one() or 0) + 1


def ensure_user(session: Session, *, email: str, password: str, hasher: PasswordHasher) -> User:
    """The user with this email, created if missing; its password is set to `password`."""
    email = normalize_email(email)
    user = session.exec(select(User).where(User.email == email)).first()
    user = user or User(email=email, hashed_password="")
    user.hashed_password = hasher.hash_blocking(password)
    session.add(user)
    session.commit()
    session.refresh(user)
    return user


def delete_contacts(session: Session, *, owner_id: int) -> None:
    session.exec(delete(Contact).where(is_owner(owner_id)))
    session.commit()


def generated_password() -> str:
    """A demo password of letters and digits only: one that starts with `-` (as
    `token_urlsafe` may give) reads as an option when pasted after a command."""
    return "".join(secrets.choice(PASSWORD_ALPHABET) for _ in range(GENERATED_PASSWORD_LENGTH))


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Fill the database (DATABASE_URL, or the default SQLite file) with demo "
        "contacts, and print the credentials to log in with in Swagger UI."
    )
    parser.add_argument("--email", default=DEFAULT_EMAIL, help="the demo user's email")
    parser.add_argument("--password", help="the demo user's password (default: generated)")
    parser.add_argument("--count", type=int, default=DEFAULT_COUNT, help="contacts per user")
    parser.add_argument("--users", type=int, default=0, help="more users, each with contacts")
    parser.add_argument(
        "--locale",
        default=",".join(DEFAULT_LOCALES),
        help="Faker locales, comma-separated (default: %(default)s)",
    )
    parser.add_argument("--seed", type=int, help="a seed, for the same data on every run")
    parser.add_argument(
        "--reset", action="store_true", help="delete the seeded users' contacts first"
    )
    args = parser.parse_args(argv)

    if args.count < 0 or args.users < 0:
        parser.error("--count and --users must be 0 or more")
    try:
        args.email = normalize_email(TypeAdapter(EmailStr).validate_python(args.email))
    except ValidationError:
        parser.error(f"--email: {args.email!r} is not a valid email address")
    if args.password is not None and not (
        len(args.password) >= PASSWORD_MIN_LENGTH
        and len(args.password.encode()) <= BCRYPT_MAX_BYTES
    ):
        parser.error(
            f"--password: at least {PASSWORD_MIN_LENGTH} characters, "
            f"at most {BCRYPT_MAX_BYTES} bytes"
        )
    args.locales = [locale.strip() for locale in args.locale.split(",") if locale.strip()]
    try:
        Faker(args.locales)
    except AttributeError:
        parser.error(f"--locale: unknown locale in {args.locale!r}")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    settings = load_settings("seed")
    today = datetime.now(ZoneInfo(settings.timezone)).date()
    try:
        upgrade_to_head(settings.database_url)
    except OperationalError as exc:
        print(f"seed: cannot reach the database: {exc.orig}", file=sys.stderr)
        return 1

    engine = create_db_engine(settings.database_url)
    hasher = PasswordHasher(
        rounds=settings.bcrypt_rounds,
        concurrency=settings.hashing_concurrency,
        queue_seconds=settings.hashing_queue_seconds,
    )
    accounts = [(args.email, args.password or generated_password())]
    accounts += [
        (f"{args.email.split('@')[0]}{n}@{args.email.split('@')[1]}", generated_password())
        for n in range(1, args.users + 1)
    ]

    written, seconds = 0, 0.0
    with Session(engine) as session:
        for email, password in accounts:
            user = ensure_user(session, email=email, password=password, hasher=hasher)
            if args.reset:
                delete_contacts(session, owner_id=user.id)
            first = next_contact_number(session)
            rows = generate_rows(
                locales=args.locales,
                seed=args.seed,
                today=today,
                owner_id=user.id,
                numbers=range(first, first + args.count),
                phone_region=settings.phone_region,
                now=utcnow(),
            )
            started = time.perf_counter()
            written += write_rows(engine, rows, total=args.count)
            seconds += time.perf_counter() - started
    engine.dispose()
    hasher.close()

    rate = written / seconds if seconds else 0.0
    print(f"Wrote {written} contacts in {seconds:.2f} s ({rate:,.0f} rows/s).")
    print(f"Log in at {settings.public_docs_url} (Authorize) with:")
    for email, password in accounts:
        print(f"  email: {email}  password: {password}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
