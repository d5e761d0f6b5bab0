"""Plain functions over a session or an engine: every query and write the doors need,
and nothing about HTTP.

May import `core` and `models` (`birthdays` builds the birthday window's SQL). Never:
`formats`, `mail`, `api` or the app.
"""
