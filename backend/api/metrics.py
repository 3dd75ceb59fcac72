"""GET /metrics: Prometheus' text format, every process of the service added up."""

from __future__ import annotations

import anyio
from fastapi import APIRouter, Response

from backend.api.deps import Services
from backend.runtime import metrics

router = APIRouter(tags=["operações"])


@router.get("/metrics", include_in_schema=False)
async def prometheus_metrics(services: Services) -> Response:
    depth = await services.queue.queue_depth()
    if depth is not None:
        metrics.QUEUE_DEPTH.set(depth)
    body, content_type = await anyio.to_thread.run_sync(metrics.exposition)
    return Response(body, media_type=content_type)
