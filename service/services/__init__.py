"""Use cases: each takes a session (and keys where needed), calls the domain, commits once."""
