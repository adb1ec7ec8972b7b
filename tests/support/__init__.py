"""Test support: the real stack, the service processes, tokens and waiting helpers."""
