"""The web console: static files served by the API itself, speaking only the public API."""
