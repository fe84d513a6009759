"""taxiway: a self-hosted video editing API speaking the Runway (useapi.net) contract."""

__version__ = "0.1.0"
