"""The REST door: dependencies (`deps`), routes (`routes/`), the middleware, ETags,
and the import worker the import route hands its files to.

May import every layer below: `core`, `models`, `formats`, `crud`, `mail`. Never the
app (`app.py`, `main.py`), and never the CardDAV door (`dav/`, to come).
"""
