"""Django's PostgreSQL backend with a breaker on new connections (see ``base``)."""
