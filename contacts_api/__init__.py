"""contacts_api: a REST API for personal contacts, behind JWT accounts."""
