"""Pure domain model: no I/O, no imports from other punte layers."""
