"""Categories group items: the example of a foreign key the database enforces (DB-3, DB-4)."""
