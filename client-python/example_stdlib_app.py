"""A standard-library HTTP service that registers itself with weft_register.

    python3 example_stdlib_app.py --name py-web --call orders

It listens on a port the OS picks, registers as --name with the local agent
(TCP health check), and answers:

* ``GET /``      ``hello from <name>``
* ``GET /call``  the answer of ``http://<call>/hello``, fetched with urllib through
  the mesh (HTTP_PROXY, set by weft_register)

It prints one JSON line ``{"msg": "ready", ...}`` on stderr once registered, and
deregisters on SIGTERM. The end-to-end test of the helper runs it
(test/src/python-helper.test.ts); no third-party package is needed.
"""

import argparse
import json
import re
import sys
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import weft_register

parser = argparse.ArgumentParser()
parser.add_argument("--name", required=True)
parser.add_argument("--call", required=True, help="the mesh service /call calls")
parser.add_argument("--agent", help="the agent admin API (default $WEFT_AGENT or 127.0.0.1:15000)")
parser.add_argument("--outbound", help="the agent outbound listener (default $WEFT_OUTBOUND or 127.0.0.1:15001)")
args = parser.parse_args()


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path == "/call":
            # The service name is the host: no port, no address. urllib reads HTTP_PROXY.
            try:
                with urllib.request.urlopen(f"http://{args.call}/hello", timeout=10) as res:
                    status, body = res.status, res.read()
            except urllib.error.HTTPError as err:
                status, body = err.code, err.read()
            self.answer(status, body)
        else:
            self.answer(200, f"hello from {args.name}".encode())

    def answer(self, status, body):
        self.send_response(status)
        self.send_header("content-type", "text/plain; charset=utf-8")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_):
        pass


server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
port = server.server_address[1]
reg = weft_register.register(args.name, port, health_tcp=True, interval="1s", agent=args.agent, outbound=args.outbound)
print(json.dumps({"msg": "ready", "port": port, "id": reg.id, "proxy": re.sub(r":[^:@/]+@", ":***@", reg.proxy_url)}), file=sys.stderr, flush=True)
try:
    server.serve_forever()
finally:
    server.server_close()
