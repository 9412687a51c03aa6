"""Utilities shared by the entry points, models and data modes."""
