"""Leader election on a coordination.k8s.io Lease, as client-go's `leaderelection` does it.

With several replicas (and during every rolling update of one), exactly one operator reconciles:
the one holding the Lease. The others wait, serving only `/healthz`, `/metrics` and the Flagger
webhook (which read, never write). Why a Lease and not kopf's peering: docs/decisions.md.

- The holder renews every `retry_period`; if it has not renewed for `renew_deadline` it stops
  leading (the process exits, its replica restarts as a candidate) before another replica may
  take over.
- A candidate takes the Lease when its record has not changed for `lease_duration`, measured on
  the candidate's own clock from when it last saw the record change (never by comparing clocks
  with the holder's `renewTime`), so clock skew cannot make two leaders.
- Every write is an update with the `resourceVersion` read, so two candidates cannot both win.
- A holder that stops cleanly releases the Lease (`holderIdentity` emptied), so a standby takes
  over at once instead of after `lease_duration`.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from lightkube import ApiError, AsyncClient
from lightkube.generic_resource import create_namespaced_resource

from trodden.log import get_logger
from trodden.metrics import Gauge

log = get_logger(__name__)

# A dict-backed Lease: lightkube's typed model writes MicroTime without the microseconds the API
# server's RFC3339Micro parser requires.
Lease = create_namespaced_resource("coordination.k8s.io", "v1", "Lease", "leases")
LEADER = Gauge("trodden_operator_leader", "1 while this replica holds the leader Lease")


class LeadershipLost(RuntimeError):
    pass


def micro_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass
class LeaderElector:
    client: AsyncClient
    namespace: str
    name: str
    identity: str
    lease_duration: float = 15.0
    renew_deadline: float = 10.0
    retry_period: float = 2.0

    def __post_init__(self) -> None:
        self._observed: tuple[Any, ...] | None = None
        self._observed_at = 0.0
        self._renewed_at = 0.0
        self.leading = False

    async def _get(self) -> dict[str, Any] | None:
        try:
            lease = await self.client.get(Lease, self.name, namespace=self.namespace)
        except ApiError as err:
            if err.status.code == 404:
                return None
            raise
        found: dict[str, Any] = lease.to_dict()  # type: ignore[no-untyped-call]
        return found

    def _spec(self, previous: dict[str, Any] | None) -> dict[str, Any]:
        now = micro_time(datetime.now(UTC))
        old = (previous or {}).get("spec") or {}
        ours = old.get("holderIdentity") == self.identity
        return {
            "holderIdentity": self.identity,
            "leaseDurationSeconds": int(self.lease_duration),
            "acquireTime": old.get("acquireTime") if ours and old.get("acquireTime") else now,
            "renewTime": now,
            "leaseTransitions": int(old.get("leaseTransitions") or 0) + (0 if ours or not previous else 1),
        }

    async def try_acquire_or_renew(self) -> bool:
        """One attempt; True when this replica holds the Lease afterwards."""
        lease = await self._get()
        if lease is None:
            body = {
                "apiVersion": "coordination.k8s.io/v1",
                "kind": "Lease",
                "metadata": {"name": self.name, "namespace": self.namespace},
                "spec": self._spec(None),
            }
            try:
                await self.client.create(Lease.from_dict(body))  # type: ignore[attr-defined]
            except ApiError as err:
                if err.status.code == 409:
                    return False
                raise
            return True
        spec = lease.get("spec") or {}
        record = (spec.get("holderIdentity"), spec.get("renewTime"), spec.get("leaseDurationSeconds"))
        if record != self._observed:
            self._observed, self._observed_at = record, time.monotonic()
        holder = spec.get("holderIdentity")
        duration = float(spec.get("leaseDurationSeconds") or self.lease_duration)
        if holder and holder != self.identity and time.monotonic() < self._observed_at + duration:
            return False  # someone else holds it, and has renewed within its lease duration
        lease["spec"] = self._spec(lease)
        try:
            await self.client.replace(Lease.from_dict(lease))  # type: ignore[attr-defined]
        except ApiError as err:
            if err.status.code == 409:  # someone else wrote it first
                return False
            raise
        return True

    async def acquire(self) -> None:
        """Wait until this replica leads."""
        announced = False
        while True:
            try:
                if await self.try_acquire_or_renew():
                    break
            except (ApiError, OSError) as err:
                log.warning("leader election: could not read or write the Lease", lease=self.name, error=str(err))
            if not announced:
                log.info(
                    "standing by: another replica leads", lease=f"{self.namespace}/{self.name}", identity=self.identity
                )
                announced = True
            await asyncio.sleep(self.retry_period)
        self._renewed_at = time.monotonic()
        self.leading = True
        LEADER.set(1)
        log.info("leading", lease=f"{self.namespace}/{self.name}", identity=self.identity)

    async def hold(self) -> None:
        """Renew until the renew deadline passes without a renewal; then raise LeadershipLost."""
        while True:
            await asyncio.sleep(self.retry_period)
            try:
                if await self.try_acquire_or_renew():
                    self._renewed_at = time.monotonic()
                    continue
                lost = "another replica holds the Lease"
            except (ApiError, OSError) as err:
                lost = f"could not renew the Lease: {err}"
            if not await self._still_in_time():
                self.leading = False
                LEADER.set(0)
                raise LeadershipLost(lost)

    async def _still_in_time(self) -> bool:
        return time.monotonic() - self._renewed_at < self.renew_deadline

    async def release(self) -> None:
        """Give the Lease up (when stopping cleanly), so a standby takes over at once."""
        if not self.leading:
            return
        self.leading = False
        LEADER.set(0)
        try:
            lease = await self._get()
            if lease is None or (lease.get("spec") or {}).get("holderIdentity") != self.identity:
                return
            lease["spec"] = {
                **lease["spec"],
                "holderIdentity": None,
                "leaseDurationSeconds": 1,
                "renewTime": micro_time(datetime.now(UTC)),
            }
            await self.client.replace(Lease.from_dict(lease))  # type: ignore[attr-defined]
            log.info("leader Lease released", lease=f"{self.namespace}/{self.name}")
        except (ApiError, OSError) as err:
            log.warning("could not release the leader Lease; a standby takes over when it expires", error=str(err))
