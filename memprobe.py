import asyncio, gc, os, tracemalloc, tempfile
from pathlib import Path
import httpx
from asgi_lifespan import LifespanManager
from bench.worker import pncp_records, REQUEST
from backend.config import Settings
from backend.main import create_app
from tests.fakes.pncp import FakePNCP

async def settle(c):
    for _ in range(200):
        h=(await c.get("/v1/health")).json()
        if h["worker"]["jobs_in_flight"]==0 and h.get("jobs_queued",0)==0: return
        await asyncio.sleep(0.1)

async def main():
    tmp = Path(tempfile.mkdtemp())
    with FakePNCP(pncp_records(5000)) as fake:
        s = Settings(_env_file=None, pncp_base_url=fake.base_url, pncp_max_pages=101, database_url=f"sqlite:///{tmp}/db.sqlite",
                     storage_dir=tmp/"files", redis_url="redis://127.0.0.1:6379/13", embedded_worker=True)
        app = create_app(s)
        async with LifespanManager(app) as m:
            async with httpx.AsyncClient(transport=httpx.ASGITransport(app=m.app), base_url="http://t", timeout=120) as c:
                await asyncio.sleep(1)
                for i in range(5):
                    r = await c.post("/v1/buscar", json=REQUEST); r.raise_for_status(); await settle(c)
                tracemalloc.start(10)
                gc.collect(); s1=tracemalloc.take_snapshot()
                for i in range(20):
                    r = await c.post("/v1/buscar", json=REQUEST); r.raise_for_status(); await settle(c)
                del r
                gc.collect(); s2=tracemalloc.take_snapshot()
                print("grew", sum(st.size_diff for st in s2.compare_to(s1,'filename'))/1e6, "MB")
                for st in s2.compare_to(s1, 'traceback')[:6]:
                    print(st)
                    for line in st.traceback.format()[-10:]: print("   ", line)
if __name__ == "__main__":
    asyncio.run(main())
