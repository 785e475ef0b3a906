"""Organizations (tenants) and their operator API keys."""
