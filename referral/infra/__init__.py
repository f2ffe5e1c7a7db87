"""What the domain stands on: the tables and database access (the hot read path in ``reads``), SMS delivery and
the verified-token cache. Nothing here knows a rule of the product or an HTTP request.
"""
