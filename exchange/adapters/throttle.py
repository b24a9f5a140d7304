"""Failed sign-in throttling on Redis, with exponential backoff.

Threats: password guessing against one account, password spraying from one
address across many accounts, and an attacker locking a victim out by
guessing wrong on purpose.

Failures are counted in three scopes, each with free attempts and then a
delay that doubles with every further failure:

- the pair (account, client address): the attacker's own address on the
  victim's account; its delay grows to hours, and only that address waits;
- the client address alone (spraying): likewise, for that address only;
- the account from every address: a slow ceiling on distributed guessing,
  capped at ``account_cap`` seconds so it slows sign-in but never locks
  the owner out.

Redis holds only SHA-256 digests of emails and addresses. When Redis is
unavailable every call raises :class:`ThrottleUnavailable`; callers refuse
to sign anyone in rather than skip the throttle (failing open would turn a
Redis outage into unlimited guessing).
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass

import redis


class ThrottleUnavailable(RuntimeError):
    """The throttle store did not answer; sign-in must not proceed."""


@dataclass(frozen=True)
class Scope:
    name: str
    free: int
    cap_seconds: int
    #: failures are forgotten this long after the last one
    memory_seconds: int


DEFAULT_SCOPES = (
    Scope("pair", free=3, cap_seconds=4 * 3600, memory_seconds=24 * 3600),
    Scope("addr", free=30, cap_seconds=4 * 3600, memory_seconds=24 * 3600),
    Scope("account", free=50, cap_seconds=60, memory_seconds=3600),
)


def _digest(value: str) -> str:
    return hashlib.sha256(value.strip().lower().encode()).hexdigest()


class LoginThrottle:
    def __init__(
        self, redis_url: str, scopes: tuple[Scope, ...] = DEFAULT_SCOPES, namespace: str = "login"
    ) -> None:
        self._redis = redis.Redis.from_url(redis_url, socket_timeout=1, socket_connect_timeout=1)
        self.scopes = scopes
        self._ns = f"exchange:throttle:{namespace}"

    def for_purpose(self, namespace: str) -> LoginThrottle:
        """The same policy under separate counters (e.g. second-factor codes)."""
        other = LoginThrottle.__new__(LoginThrottle)
        other._redis, other.scopes, other._ns = self._redis, self.scopes, f"exchange:throttle:{namespace}"
        return other

    def _subjects(self, account: str, addr: str) -> dict[str, str]:
        who, where = _digest(account), _digest(addr or "unknown")
        return {"pair": f"{who}:{where}", "addr": where, "account": who}

    def wait_seconds(self, account: str, addr: str) -> int:
        """Seconds before another attempt is allowed for this account from this address (0: now)."""
        subjects = self._subjects(account, addr)
        try:
            with self._redis.pipeline(transaction=False) as pipe:
                for scope in self.scopes:
                    pipe.pttl(f"{self._ns}:wait:{scope.name}:{subjects[scope.name]}")
                ttls = pipe.execute()
        except redis.RedisError as exc:
            raise ThrottleUnavailable(str(exc)) from None
        longest = max((int(t) for t in ttls if t is not None and int(t) > 0), default=0)
        return math.ceil(longest / 1000)

    def failed(self, account: str, addr: str) -> int:
        """Count a failure; return the delay (seconds) it imposes on this account from this address."""
        subjects = self._subjects(account, addr)
        try:
            with self._redis.pipeline(transaction=False) as pipe:
                for scope in self.scopes:
                    key = f"{self._ns}:count:{scope.name}:{subjects[scope.name]}"
                    pipe.incr(key)
                    pipe.expire(key, scope.memory_seconds)
                counts = pipe.execute()[0::2]
            delay = 0
            with self._redis.pipeline(transaction=False) as pipe:
                for scope, count in zip(self.scopes, counts, strict=True):
                    over = int(count) - scope.free
                    if over <= 0:
                        continue
                    seconds = min(scope.cap_seconds, 2 ** min(over - 1, 30))
                    pipe.set(f"{self._ns}:wait:{scope.name}:{subjects[scope.name]}", 1, ex=seconds)
                    delay = max(delay, seconds)
                pipe.execute()
        except redis.RedisError as exc:
            raise ThrottleUnavailable(str(exc)) from None
        return delay

    def succeeded(self, account: str, addr: str) -> None:
        """Forget this address's failures on this account (not the address's or account's totals)."""
        subjects = self._subjects(account, addr)
        try:
            self._redis.delete(
                f"{self._ns}:count:pair:{subjects['pair']}", f"{self._ns}:wait:pair:{subjects['pair']}"
            )
        except redis.RedisError as exc:
            raise ThrottleUnavailable(str(exc)) from None
