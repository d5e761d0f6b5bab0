"""Route modules, one per resource: each route parses, calls one CRUD function, returns."""
