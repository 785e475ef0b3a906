"""Shipped audio for the stand-ins (a package so wheels carry its ``*.wav`` files)."""
