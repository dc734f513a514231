"""The ``bulkyard`` command-line client: a pure HTTP and WebSocket client of the
API, importing neither Django nor any other part of Bulkyard (docs/cli.md)."""
