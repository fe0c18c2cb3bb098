"""archivetag: make audio and video archives searchable by what they sound like."""

__version__ = "0.1.0"
