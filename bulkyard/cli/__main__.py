"""``python -m bulkyard.cli``: the same as the ``bulkyard`` console script."""

from bulkyard.cli.main import app

app()
