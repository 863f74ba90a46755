"""web, in the mesh: it calls http://other-service/ and the local Weft agent finds it.

    pip install aiohttp
    PYTHONPATH=../../client-python python3 after.py

Two changes from before.py:

1. weft_register.register() tells the local agent that web runs on port 8081
   (deregistered again when the process exits), and points HTTP_PROXY at the
   agent (with web's proxy credential when the agent hands one out).
2. The URL names the service only: no host, no port. trust_env=True makes
   aiohttp honour HTTP_PROXY (it ignores it without); the agent picks a healthy
   instance of other-service on any host, with the mesh's deadline, retries of
   what is safe to retry, and mutual TLS to the other host.
"""

import sys
from pathlib import Path

from aiohttp import ClientSession, web

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "client-python"))
import weft_register  # noqa: E402

PORT = 8081


async def hello(request: web.Request) -> web.Response:
    async with ClientSession(trust_env=True) as session:
        async with session.get("http://other-service/hello") as res:
            return web.Response(status=res.status, text=f"other-service says: {await res.text()}")


async def healthz(request: web.Request) -> web.Response:
    return web.Response(text="ok")


app = web.Application()
app.add_routes([web.get("/", hello), web.get("/healthz", healthz)])

if __name__ == "__main__":
    # Registering before listening is fine: the health check keeps web out of rotation until it answers.
    weft_register.register("web", PORT, health_http="/healthz")
    web.run_app(app, host="127.0.0.1", port=PORT)  # SIGTERM ends run_app normally: atexit deregisters
