"""Pure domain logic: no Flask, no SQLAlchemy, no I/O beyond what a function is handed."""
