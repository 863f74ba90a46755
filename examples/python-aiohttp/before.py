"""web, before the mesh: it calls other-service at an address written into the code.

    pip install aiohttp && python3 before.py

Every move of other-service (another host, another port, a second instance)
means editing and redeploying this file, and nothing retries, balances or
times out the call for you.
"""

from aiohttp import ClientSession, web

OTHER_SERVICE = "http://other-service:8080"  # a DNS name and a port someone has to keep right


async def hello(request: web.Request) -> web.Response:
    async with ClientSession() as session:
        async with session.get(f"{OTHER_SERVICE}/hello") as res:
            return web.Response(status=res.status, text=f"other-service says: {await res.text()}")


app = web.Application()
app.add_routes([web.get("/", hello)])

if __name__ == "__main__":
    web.run_app(app, host="127.0.0.1", port=8081)
