"""Guardian: case management for an NHS Guardian Service (referred-but-not-seen patients)."""
