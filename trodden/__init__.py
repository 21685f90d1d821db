"""Trodden: real user sessions become a regression suite, replayed against every new deployment."""

__version__ = "0.1.0"
