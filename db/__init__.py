"""Storage: SQLAlchemy models, sessions, migrations, and the data functions (session in, caller commits)."""
