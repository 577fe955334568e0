"""The database layer: declarative base, portable column types, engine and session factory, migrations."""
