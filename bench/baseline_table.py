"""The baseline app's one table: a row the size of a submitted response."""

from sqlalchemy import JSON, Column, MetaData, Table, Uuid

metadata = MetaData()
rows = Table("bench_baseline", metadata, Column("id", Uuid, primary_key=True), Column("body", JSON))
