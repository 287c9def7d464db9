"""Resident-facing domain logic with no Qt: catalog, identity, applications, references."""
