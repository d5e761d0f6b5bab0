"""The ground floor: settings, database engines, the clock, tokens and hashing, field
rules, domain errors, rate limits, waiting rooms, logging and serving.

May import: the standard library, third-party packages, and other `core` modules.
Never: `models`, `formats`, `crud`, `mail`, `api` or the app.
"""
