"""Operator API: compliance."""

from __future__ import annotations

from backoffice.api.framework import Api

api = Api()
