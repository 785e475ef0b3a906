"""The operator API: JSON over HTTP, one organization per key, roles checked."""
