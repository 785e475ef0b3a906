"""parley's own store: SQLAlchemy Core tables, the engine factory and migrations."""
