"""Article sources: a folder of JSON files, or an HTTP API."""
