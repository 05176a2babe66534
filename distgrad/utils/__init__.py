"""Utilities: hook handles, progress bars, metrics logs."""
