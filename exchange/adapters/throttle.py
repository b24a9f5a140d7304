"""Failed sign-in throttling on Redis.

Counts failures per account (hashed email, so Redis holds no addresses) in a
fixed window. When Redis is unavailable the throttle lets requests through:
sign-in must keep working, and argon2 already makes guessing slow.
"""

from __future__ import annotations

import hashlib

import redis


class LoginThrottle:
    def __init__(self, redis_url: str, limit: int = 10, window_seconds: int = 900) -> None:
        self._redis = redis.Redis.from_url(redis_url, socket_timeout=1, socket_connect_timeout=1)
        self.limit, self.window = limit, window_seconds

    @staticmethod
    def _key(email: str) -> str:
        return "exchange:login-failures:" + hashlib.sha256(email.strip().lower().encode()).hexdigest()

    def blocked(self, email: str) -> bool:
        try:
            count = self._redis.get(self._key(email))
        except redis.RedisError:
            return False
        return count is not None and int(count) >= self.limit

    def failed(self, email: str) -> None:
        key = self._key(email)
        try:
            with self._redis.pipeline() as pipe:
                pipe.incr(key)
                pipe.expire(key, self.window, nx=True)
                pipe.execute()
        except redis.RedisError:
            return

    def succeeded(self, email: str) -> None:
        try:
            self._redis.delete(self._key(email))
        except redis.RedisError:
            return
