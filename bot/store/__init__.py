"""Storage: SQLAlchemy 2 async tables, the database handle and small repository functions."""
