"""Outbound HTTP under the server's rules, shared by every part that fetches
or calls a URL (outbound requests and webhooks, images named by URL): the
destination check (``safety``), per-host politeness across workers
(``politeness``) and one request made safely with retries (``client``)."""
