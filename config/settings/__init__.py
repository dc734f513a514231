"""Settings modules: ``base`` for running the service, ``test`` for the test suite."""
