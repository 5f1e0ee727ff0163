"""Use cases. Each takes a database session (the unit of work) and an actor."""
