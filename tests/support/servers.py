"""Real servers for end-to-end tests (re-exported from `worker.devtools.embedded`)."""

from worker.devtools.embedded import CeleryProcess, RedisServer, free_port, redis_server_binary

__all__ = ["CeleryProcess", "RedisServer", "free_port", "redis_server_binary"]
