"""The signed-in user: the ``/api/v1/profile`` endpoints."""
