"""A PNCP double with the live API's timing and failures, serving national volume.

    with LivePNCP(time_scale=0.01, seed=1) as live:      # 100 times faster than the real API
        ... httpx.AsyncClient(base_url=live.base_url) ...
        live.counts_by_status()                         # {200: 412, 429: 21, 500: 3, ...}
        live.max_requests_in_one_second()

It answers any query the consulta API takes (the three endpoints, every UF at once when `uf` is
absent) from the demo records of `backend.pncp.demo`, or from `set_records([...])`, and behaves
the way the live API behaved in a 446-request collection run paced at one request per second
(the telemetry kept with the team's PNCP samples; only the figures below come from it):

- latency of a page: lognormal with the measured median, 1.4 s, and 95th percentile, 3.6 s (so
  sigma = ln(3.6 / 1.4) / 1.645, about 0.57), clipped to the fastest and slowest answers seen,
  0.21 s and 17.6 s;
- HTTP 500 on 3 requests in 446 (about 0.7 %), answered 30 to 34 s after the request, with
  PNCP's bare-string body labelled application/json;
- read stalls on 4 in 446 (about 0.9 %): no answer for 45 s, the read timeout of that run, so any
  client waiting less gives up (the page is sent afterwards, to nobody);
- HTTP 429, PNCP's HTML page, on 21 in 446 (about 4.7 %) although the run never exceeded one
  request a second ("background" 429s), answered quickly, in 0.04 to 0.09 s;
- a token bucket shared by all requests (by default 5 requests a second, burst of 25): a request
  that finds it empty gets the same 429 page. The run never went faster than one request a
  second, so rate and burst are assumptions, not measurements: constructor arguments.

`time_scale` multiplies every duration above, so a test can run the API's behaviour fast; the
bucket and the counters run on real seconds (they are what a client's pacing is measured
against). Each request draws its fate from one `random.Random(seed)`, in arrival order, with the
same number of draws whatever the fate: the same seed and arrival order give the same fates.
Every behaviour can be switched off (`timing`, `errors`, `rate_limit`), and each share changed.
"""

from __future__ import annotations

import math
import random
import statistics
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from starlette.requests import Request
from starlette.responses import Response

from tests.fakes.pncp import FakePNCP, RecordedRequest, canned_response, db_error_500, rate_limited

# Shares of the 446 requests of the telemetry run.
SERVER_ERROR_SHARE = 3 / 446
STALL_SHARE = 4 / 446
BACKGROUND_429_SHARE = 21 / 446

# Seconds of a normal answer (200 or 204).
LATENCY_MEDIAN = 1.4
LATENCY_P95 = 3.6
LATENCY_SIGMA = math.log(LATENCY_P95 / LATENCY_MEDIAN) / statistics.NormalDist().inv_cdf(0.95)
LATENCY_MIN = 0.21
LATENCY_MAX = 17.6

SERVER_ERROR_AFTER = (30.0, 34.4)  # seconds before a 500 comes back
STALL_SECONDS = 45.0
RATE_LIMITED_AFTER = (0.04, 0.09)  # seconds before a 429 comes back

DEFAULT_RATE = 5.0  # requests a second refilling the bucket
DEFAULT_BURST = 25  # requests the full bucket admits at once

_LATENCY = statistics.NormalDist(math.log(LATENCY_MEDIAN), LATENCY_SIGMA)

FateKind = Literal["normal", "stall", "500-text", "429-background", "429-bucket"]


def latency_at(u: float) -> float:
    """The page latency (seconds, unscaled) at quantile `u` of the fitted lognormal, clipped.

    One uniform draw per request, by inversion, so every request uses the same number of draws.
    """
    u = min(max(u, 1e-12), 1 - 1e-12)
    return min(max(math.exp(_LATENCY.inv_cdf(u)), LATENCY_MIN), LATENCY_MAX)


class TokenBucket:
    """`rate` tokens a second, at most `burst` held, full at first; each admitted request takes one.

    Refused requests take nothing. Thread-safe; `clock` is injectable for tests.
    """

    def __init__(self, rate: float, burst: int, clock: Callable[[], float] = time.monotonic) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError(f"a token bucket needs rate > 0 and burst >= 1, not {rate} and {burst}")
        self.rate = rate
        self.burst = burst
        self._clock = clock
        self._lock = threading.Lock()
        self._tokens = float(burst)
        self._stamp = clock()

    def take(self) -> bool:
        """Whether a request arriving now is admitted."""
        with self._lock:
            now = self._clock()
            self._tokens = min(float(self.burst), self._tokens + (now - self._stamp) * self.rate)
            self._stamp = now
            if self._tokens >= 1:
                self._tokens -= 1
                return True
            return False

    def refill(self) -> None:
        with self._lock:
            self._tokens = float(self.burst)
            self._stamp = self._clock()


@dataclass(frozen=True, slots=True)
class Fate:
    """What happens to one request: its kind and how long (unscaled seconds) before it is answered."""

    kind: FateKind
    seconds: float


def max_in_window(times: Iterable[float], window: float = 1.0) -> int:
    """The largest number of `times` inside any window [t, t + window) (a sliding window)."""
    ordered = sorted(times)
    best = first = 0
    for last, t in enumerate(ordered):
        while ordered[first] <= t - window:
            first += 1
        best = max(best, last - first + 1)
    return best


def per_second(times: Iterable[float]) -> list[int]:
    """How many `times` fall in each whole second counted from the first one (gaps give 0)."""
    ordered = sorted(times)
    if not ordered:
        return []
    counts = [0] * (int(ordered[-1] - ordered[0]) + 1)
    for t in ordered:
        counts[int(t - ordered[0])] += 1
    return counts


class LivePNCP(FakePNCP):
    """FakePNCP with the live API's latency, failures and rate limit (see the module docstring)."""

    def __init__(
        self,
        records: Sequence[Mapping[str, Any]] | None = None,
        *,
        time_scale: float = 1.0,
        seed: int | str = 0,
        rate: float = DEFAULT_RATE,
        burst: int = DEFAULT_BURST,
        background_429: float = BACKGROUND_429_SHARE,
        server_errors: float = SERVER_ERROR_SHARE,
        stalls: float = STALL_SHARE,
        timing: bool = True,
        errors: bool = True,
        rate_limit: bool = True,
    ) -> None:
        """`timing`: page latency and the 429's quick answer; `errors`: the 500s, stalls and
        background 429s, at the shares given; `rate_limit`: the token bucket."""
        if time_scale < 0:
            raise ValueError(f"time_scale must be >= 0, not {time_scale}")
        shares = (background_429, server_errors, stalls)
        if min(shares) < 0 or sum(shares) > 1:
            raise ValueError(f"shares must be >= 0 and add up to at most 1, not {shares}")
        super().__init__(records)
        self.time_scale = time_scale
        self.seed = seed
        self.background_429 = background_429
        self.server_errors = server_errors
        self.stalls = stalls
        self.timing = timing
        self.errors = errors
        self.bucket: TokenBucket | None = TokenBucket(rate, burst) if rate_limit else None
        self._live_lock = threading.Lock()
        self._rng = random.Random(seed)

    # --- counters ------------------------------------------------------------------------------

    def counts_by_status(self) -> dict[int | None, int]:
        """Requests by HTTP status sent; None for those still being answered."""
        return dict(Counter(r.status for r in self.requests))

    def counts_by_kind(self) -> dict[str, int]:
        """Requests by what happened to them: "normal", "stall", "500-text", "429-background",
        "429-bucket" (or the kind of a scripted response). A stall's status is that of the page
        sent after it, which its client had usually given up on."""
        return dict(Counter(r.kind for r in self.requests))

    def max_requests_in_one_second(self) -> int:
        """The most requests that arrived within any one second (sliding window)."""
        return max_in_window(r.started for r in self.requests)

    def requests_per_second_series(self) -> list[int]:
        """Requests arrived in each second since the first one (the first second is index 0)."""
        return per_second(r.started for r in self.requests)

    def reset(self) -> None:
        """Forget requests and scripts, refill the bucket, and start the seed's fates over."""
        super().reset()
        with self._live_lock:
            self._rng = random.Random(self.seed)
        if self.bucket is not None:
            self.bucket.refill()

    # --- serving -------------------------------------------------------------------------------

    def fate(self) -> Fate:
        """Draw the fate of a request arriving now (takes a token when the bucket admits it)."""
        with self._live_lock:
            u_kind, u_latency, u_wait = self._rng.random(), self._rng.random(), self._rng.random()
        quick = _between(RATE_LIMITED_AFTER, u_wait) if self.timing else 0.0
        if self.bucket is not None and not self.bucket.take():
            return Fate("429-bucket", quick)
        latency = latency_at(u_latency) if self.timing else 0.0
        if self.errors:
            if u_kind < self.background_429:
                return Fate("429-background", quick)
            u_kind -= self.background_429
            if u_kind < self.server_errors:
                return Fate("500-text", _between(SERVER_ERROR_AFTER, u_wait))
            u_kind -= self.server_errors
            if u_kind < self.stalls:
                return Fate("stall", STALL_SECONDS + latency)
        return Fate("normal", latency)

    async def _respond(self, request: Request, recorded: RecordedRequest) -> Response:
        fate = self.fate()
        recorded.kind = fate.kind
        await self._sleep(fate.seconds * self.time_scale, request)
        if fate.kind in ("429-background", "429-bucket"):
            return canned_response(rate_limited())
        if fate.kind == "500-text":
            return canned_response(db_error_500())
        return await super()._respond(request, recorded)


def _between(bounds: tuple[float, float], u: float) -> float:
    low, high = bounds
    return low + (high - low) * u
