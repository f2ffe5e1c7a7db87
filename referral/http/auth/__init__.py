"""Sign-in: the ``/api/v1/auth`` endpoints."""
