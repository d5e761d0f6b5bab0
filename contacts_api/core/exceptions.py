"""What can go wrong in the domain, said without HTTP.

CRUD, security and rate-limit code raise these; `app.py` turns each into its status
code in one place, so no function below the routes needs to know about HTTP.
"""


class DomainError(Exception):
    """Base of the errors a client can cause; the message is safe to show them."""

    message = "Request failed"

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message or self.message)

    def __reduce__(self) -> tuple[object, ...]:
        """Pickled with its message and attributes, whatever its `__init__` takes: an
        import's child process sends the errors it raises to the server
        (`import_worker`). Python's default would call `__init__` with the message."""
        return _restored, (type(self), self.args, self.__dict__)


def _restored(
    kind: type[DomainError], args: tuple[object, ...], state: dict[str, object]
) -> DomainError:
    error = kind.__new__(kind)
    error.args = args
    error.__dict__.update(state)
    return error


class EmailAlreadyRegistered(DomainError):
    message = "Email already registered"


class InvalidCredentials(DomainError):
    message = "Incorrect email or password"


class InvalidToken(DomainError):
    message = "Could not validate credentials"


class WrongPassword(DomainError):
    """The signed-in user's password, asked again before a serious change, is wrong."""

    message = "Wrong password"


class SessionNotFound(DomainError):
    """No such live login among the current user's."""

    message = "Session not found"


class InvalidLink(DomainError):
    """A mailed link's token that is unknown, expired or already used."""

    message = "This link is unknown, has expired or was already used: ask for a new one"


class EmailNotVerified(DomainError):
    """A login refused while `REQUIRE_VERIFIED_EMAIL` is on and the email is unverified."""

    message = (
        "Verify your email first: open the link we mailed you. Lost it? Ask for a password"
        " reset (POST /api/auth/password-reset): its link verifies the email too"
    )


class EmailAlreadyVerified(DomainError):
    message = "Your email is already verified"


class CalendarNotFound(DomainError):
    """No calendar has this address: it never had, or it was replaced or revoked."""

    message = "Calendar not found"


class NoCalendarLink(CalendarNotFound):
    """The user has no working calendar link: never made, revoked, or ended with every
    login."""

    message = "You have no calendar link"


class ContactNotFound(DomainError):
    """No such contact among the current user's: someone else's is not found either."""

    message = "Contact not found"


class ImportTooLarge(DomainError):
    """A vCard file larger, with more cards, or longer to read than one import takes."""


class ClientGone(DomainError):
    """The client closed the connection while its request was being worked on: the work
    stops (nobody reads the answer)."""

    message = "The client went away: the request was stopped"


class ContactChanged(DomainError):
    """An `If-Match` named a version of the contact that is no longer the current one."""

    message = "The contact has changed since you read it: read it again, then retry"


class ContactEmailTaken(DomainError):
    message = "You already have a contact with this email"


class RetryLater(DomainError):
    """Refused for now; `retry_after` says in how many seconds a retry may succeed."""

    def __init__(self, retry_after: int = 1) -> None:
        super().__init__()
        self.retry_after = retry_after


class RateLimited(RetryLater):
    message = "Too many requests, try again later"


class HashingBusy(RetryLater):
    """More logins are waiting for a password check than can be served promptly."""

    message = "Too many logins at once, try again shortly"


class SchemaBehind(RetryLater):
    """The database was never migrated, or not to the code's latest migration."""

    message = "The database schema is behind the code: run `alembic upgrade head`"


class DatabaseUnavailable(RetryLater):
    """The database is down, stalls, or has no free connection (said by an import's
    child process; a request's own database errors are answered where the app is built)."""

    message = "Database unavailable, try again shortly"


class ImportsBusy(RetryLater):
    """More imports are waiting for their turn than can be served promptly."""

    message = "Too many imports at once, try again shortly"

    def __init__(self) -> None:
        super().__init__(retry_after=5)


class RateLimitStorageUnavailable(RetryLater):
    """Redis, which holds the rate limits' counts, does not answer."""

    message = "Rate-limit storage (Redis) unavailable, try again shortly"
