"""GET /metrics: Prometheus' text format, every process of the service added up."""

from __future__ import annotations

import logging

import anyio
from fastapi import APIRouter, Response

from backend.api.deps import Services
from backend.codes import today_brasilia
from backend.runtime import metrics

router = APIRouter(tags=["operações"])
logger = logging.getLogger(__name__)


@router.get("/metrics", include_in_schema=False)
async def prometheus_metrics(services: Services) -> Response:
    depth = await services.queue.queue_depth()
    if depth is not None:
        metrics.QUEUE_DEPTH.set(depth)
    if services.arbiter is not None:
        try:
            await services.arbiter.budget()  # sets the arbiter's gauges
        except Exception:  # the database failing: the other metrics still go out
            logger.exception("metrics: the arbiter's budget could not be read")
    if services.tokens is not None:
        try:
            usage = await services.usage.today(today_brasilia(services.clock), services.plans)
        except Exception:
            logger.exception("metrics: the searches by plan could not be read")
        else:
            for plan in services.plans:
                metrics.SEARCHES_BY_PLAN.labels(plan, "today").set(usage.hoje.get(plan, 0))
                metrics.SEARCHES_BY_PLAN.labels(plan, "month").set(usage.mes.get(plan, 0))
            metrics.USERS_AT_LIMIT.set(usage.no_limite)
    body, content_type = await anyio.to_thread.run_sync(metrics.exposition)
    return Response(body, media_type=content_type)
