"""The archivetag command line."""
