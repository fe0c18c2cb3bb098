"""What is stored: SQL tables, opening the database, and the queries every part shares."""
