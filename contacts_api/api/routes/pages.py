"""The pages a mailed link opens: choose a new password, confirm an email.

Plain HTML forms that post back to their own address: no script, nothing loaded from
anywhere else, so they work offline and under a strict Content-Security-Policy. The
`GET` only shows the form, so a mail scanner that opens every link changes nothing;
the `POST` does the step, through the same CRUD functions as the JSON routes.
Not in the OpenAPI schema: they are for people, the JSON routes are for programs.
"""

import base64
import hashlib
from html import escape
from typing import Annotated

from fastapi import APIRouter, Form, Query, status
from fastapi.responses import HTMLResponse
from pydantic import TypeAdapter, ValidationError

from contacts_api.api.deps import EngineDep, PasswordHasherDep, TransactionDep
from contacts_api.core.exceptions import InvalidLink, RetryLater
from contacts_api.core.rules import BCRYPT_MAX_BYTES
from contacts_api.crud import links, users
from contacts_api.mail.messages import RESET_PAGE, VERIFY_PAGE
from contacts_api.models import PASSWORD_MIN_LENGTH, LinkPurpose, NewPassword

router = APIRouter(include_in_schema=False)

STYLE = (
    "body{font:16px/1.5 system-ui,sans-serif;max-width:26rem;margin:3rem auto;padding:0 1rem;"
    "color:#1d1d1f}h1{font-size:1.4rem}label{display:block;margin:1rem 0 .25rem}"
    "input{width:100%;padding:.5rem;font:inherit;box-sizing:border-box}"
    "button{margin-top:1.25rem;padding:.6rem 1.2rem;font:inherit;cursor:pointer}"
    ".error{color:#b00020}"
)
STYLE_HASH = base64.b64encode(hashlib.sha256(STYLE.encode()).digest()).decode()
# The page's own inline style and nothing else; forms post only here; framed by no one.
# No referrer: the address holds the token, and no other site may see it.
HEADERS = {
    "Content-Security-Policy": (
        f"default-src 'none'; style-src 'sha256-{STYLE_HASH}'; form-action 'self';"
        " frame-ancestors 'none'; base-uri 'none'"
    ),
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
    "X-Frame-Options": "DENY",
}
UNUSABLE_LINK = (
    "This link is unknown, has expired or was already used. Ask for a new one:"
    " a link works once, for a limited time."
)
BUSY = "Too many people are changing passwords right now. Please try again in a moment."
FormText = Annotated[str, Form()]
# A relative action posts back to this page's own path, wherever the service is mounted.
RESET_ACTION = RESET_PAGE.lstrip("/")
VERIFY_ACTION = VERIFY_PAGE.lstrip("/")
new_password_rules: TypeAdapter[str] = TypeAdapter(NewPassword)
# What breaking each of the password rules (`models.NewPassword`) is called on the page.
PASSWORD_PROBLEMS = {
    "string_too_short": f"The password must be at least {PASSWORD_MIN_LENGTH} characters long.",
    "string_pattern_mismatch": "The password cannot contain a NUL character.",
    "value_error": f"The password must be at most {BCRYPT_MAX_BYTES} bytes long in UTF-8.",
}


def page(title: str, body: str, status_code: int = status.HTTP_200_OK) -> HTMLResponse:
    """A whole page around `body` (HTML, escaped by the caller)."""
    html = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f"<title>{escape(title)} · contacts_api</title><style>{STYLE}</style></head>"
        f"<body><main><h1>{escape(title)}</h1>{body}</main></body></html>"
    )
    return HTMLResponse(html, status_code=status_code, headers=HEADERS)


def message(text: str, *, error: bool = False) -> str:
    return (
        f'<p class="error" role="alert">{escape(text)}</p>' if error else f"<p>{escape(text)}</p>"
    )


def reset_form(token: str, problem: str | None = None) -> str:
    return (
        (message(problem, error=True) if problem else "")
        + f'<form method="post" action="{RESET_ACTION}">'
        f'<input type="hidden" name="token" value="{escape(token)}">'
        '<label for="new_password">New password</label>'
        '<input id="new_password" name="new_password" type="password" required minlength="8"'
        ' autocomplete="new-password">'
        '<label for="repeat_password">The same again</label>'
        '<input id="repeat_password" name="repeat_password" type="password" required'
        ' minlength="8" autocomplete="new-password">'
        '<button type="submit">Set the new password</button></form>'
    )


def unusable_link(title: str) -> HTMLResponse:
    return page(title, message(UNUSABLE_LINK, error=True), status.HTTP_400_BAD_REQUEST)


@router.get(RESET_PAGE)
async def reset_password_page(engine: EngineDep, token: str = Query("")) -> HTMLResponse:
    try:
        await links.holder(engine, token=token, purpose=LinkPurpose.PASSWORD_RESET)
    except InvalidLink:
        return unusable_link("Reset your password")
    return page("Reset your password", reset_form(token))


@router.post(RESET_PAGE)
async def reset_password(
    engine: EngineDep,
    session: TransactionDep,
    hasher: PasswordHasherDep,
    token: FormText = "",
    new_password: FormText = "",
    repeat_password: FormText = "",
) -> HTMLResponse:
    title = "Reset your password"
    if new_password != repeat_password:
        problem = "The two passwords differ: type the same one twice."
        return page(title, reset_form(token, problem), status.HTTP_422_UNPROCESSABLE_CONTENT)
    try:
        new_password_rules.validate_python(new_password)
    except ValidationError as exc:
        problem = PASSWORD_PROBLEMS.get(exc.errors()[0]["type"], PASSWORD_PROBLEMS["value_error"])
        return page(title, reset_form(token, problem), status.HTTP_422_UNPROCESSABLE_CONTENT)
    try:
        await links.holder(engine, token=token, purpose=LinkPurpose.PASSWORD_RESET)
        await users.reset_password(session, token=token, new_password=new_password, hasher=hasher)
    except InvalidLink:
        return unusable_link(title)
    except RetryLater:
        return page(
            title,
            message(BUSY, error=True) + reset_form(token),
            status.HTTP_503_SERVICE_UNAVAILABLE,
        )
    done = (
        "Your password is changed, and every device was signed out. Log in with the new password."
    )
    return page("Password changed", message(done))


@router.get(VERIFY_PAGE)
async def verify_email_page(engine: EngineDep, token: str = Query("")) -> HTMLResponse:
    title = "Confirm your email"
    try:
        await links.holder(engine, token=token, purpose=LinkPurpose.EMAIL_VERIFICATION)
    except InvalidLink:
        return unusable_link(title)
    form = (
        message("One click confirms that this email address is yours.")
        + f'<form method="post" action="{VERIFY_ACTION}">'
        f'<input type="hidden" name="token" value="{escape(token)}">'
        '<button type="submit">Confirm my email</button></form>'
    )
    return page(title, form)


@router.post(VERIFY_PAGE)
async def verify_email(session: TransactionDep, token: FormText = "") -> HTMLResponse:
    try:
        await users.verify_email(session, token=token)
    except InvalidLink:
        return unusable_link("Confirm your email")
    return page("Email confirmed", message("Thank you: your email is confirmed."))
