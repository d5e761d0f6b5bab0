"""contacts_api: a REST API for personal contacts, behind JWT accounts.

The folders are the layers, each allowed to import only those below it (its own
`__init__` says so, and `tests/test_layers.py` holds every module to it):

    core/      settings, database engines, the clock, security, field rules, errors,
               rate limits, logging, serving: imports nothing of the project above it
    models.py  the SQLModel families: tables and API schemas (imports core's rules and
               clock only: never the database, security or a file format)
    formats/   files in and out (vCard, iCalendar): pure, no database
    crud/      every query and write, on a session or an engine
    mail/      the outbox and its sending, and the account's messages
    api/       the REST door: dependencies, routes, and the import worker
    app.py     builds the app from all of them; main.py and __main__.py serve it

A second door, CardDAV, will stand in `dav/` beside `api/`: over the same `crud`,
never calling into `api/` (nor `api/` into it).
"""
