"""Plain functions over a session: every query the routes need, and nothing about HTTP."""
