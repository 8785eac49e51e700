"""Shared code of every Lambda in the stack: models, settings, adapters, domain logic."""
