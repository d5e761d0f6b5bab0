"""Entity tags of contacts: the `ETag` a contact is answered with, and reading the
`If-Match` / `If-None-Match` headers a client sends back (RFC 9110, section 13).

A contact's tag is `"<id>-<version>"`: the version moves on with every change, and
the id keeps one contact's tag from ever matching another's.
"""

import re

ANY = "*"
# One entity tag in a list: optionally weak (`W/`), then a quoted opaque string.
ENTITY_TAG = re.compile(r'\s*(W/)?("[^"]*")\s*')
CONTACT_TAG = re.compile(r'"([0-9]+)-([0-9]+)"')


def contact_etag(contact_id: int, version: int) -> str:
    return f'"{contact_id}-{version}"'


def _tags(header: str) -> list[tuple[bool, str]]:
    """The (weak, tag) pairs of a header's comma-separated list; `*` as a tag of its own."""
    if header.strip() == ANY:
        return [(False, ANY)]
    return [
        (bool(found.group(1)), found.group(2))
        for part in header.split(",")
        if (found := ENTITY_TAG.fullmatch(part))
    ]


def expected_versions(if_match: str | None, contact_id: int) -> frozenset[int] | None:
    """The versions of this contact an `If-Match` accepts; `None` when any will do (no
    header, or `*`). A weak tag never matches (If-Match compares strongly), and a tag
    of another contact or of another form matches nothing: the change gets `412`."""
    if if_match is None:
        return None
    tags = _tags(if_match)
    if (False, ANY) in tags:
        return None
    return frozenset(
        int(found.group(2))
        for weak, tag in tags
        if not weak and (found := CONTACT_TAG.fullmatch(tag)) and int(found.group(1)) == contact_id
    )


def none_match(if_none_match: str | None, etag: str) -> bool:
    """Whether an `If-None-Match` names `etag` (compared weakly) or is `*`: then a `GET`
    answers `304` and no body, the client's copy being current."""
    if if_none_match is None:
        return False
    return any(tag in (etag, ANY) for _, tag in _tags(if_none_match))
