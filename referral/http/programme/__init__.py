"""The programme's own backend: the server-to-server API, called with API keys."""
