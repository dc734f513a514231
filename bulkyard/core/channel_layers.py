"""channels_redis' channel layer on a connection pool that bursts cannot break.

channels_redis (4.3) gives each event loop a pool built with redis-py's
defaults, and redis-py 8 changed two of them:

- An asyncio ``ConnectionPool`` holds at most 100 connections, and when all
  are in use it raises ``MaxConnectionsError`` at once rather than wait. Every
  group operation takes a connection, so 200 WebSockets closing together (200
  ``group_discard``) failed by the dozen.
- Reads time out after 5 s (``socket_timeout``): exactly as long as the
  blocking ``BZPOPMIN`` with which the layer waits for messages, which Redis
  answers only when it ends. Any consumer that received nothing for 5 s died
  with ``TimeoutError`` (channels_redis issue 422).

Here each pool is a ``BlockingConnectionPool``: at most ``max_connections``
connections to Redis, and an operation beyond them waits for a free one (up
to ``timeout`` seconds) instead of failing. Socket operations have no timeout,
as before redis-py 8 (the behaviour channels_redis is built for). A longer
timeout is no cure on Python 3.11: redis-py then sends through
``asyncio.wait_for``, which can swallow a cancellation that arrives as the send
completes, and the receive loop of a closed consumer would go on popping
forever, holding a connection. A Redis that vanishes is still noticed: the
connections keep TCP keepalive on (redis-py 8's default, ~45 s).
See docs/decisions/0003-live-progress-and-pages.md.
"""

from typing import Any

from channels_redis.core import RedisChannelLayer as ChannelsRedisLayer
from redis.asyncio import BlockingConnectionPool


def pool_options(host: dict[str, Any]) -> dict[str, Any]:
    """The keyword arguments of a host's pool; what the host sets wins."""
    return {"socket_timeout": None, **host}


class RedisChannelLayer(ChannelsRedisLayer):
    """``channels_redis.core.RedisChannelLayer`` whose hosts are dicts with an
    ``address`` (a redis:// URL) and options of ``BlockingConnectionPool``
    (``max_connections``, ``timeout``) or of its connections."""

    def create_pool(self, index: int) -> BlockingConnectionPool:
        options = pool_options(dict(self.hosts[index]))
        return BlockingConnectionPool.from_url(options.pop("address"), **options)
