"""Mail: the outbox and its sending over SMTP (`outbox`), and the messages an account
is sent, with the links in them (`messages`).

May import `core`, `models`, `formats` and `crud`. Never: `api` or the app.
"""
