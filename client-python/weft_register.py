"""Register a Python service with the local Weft agent; standard library only.

    import weft_register
    reg = weft_register.register("web", 8080, health_http="/healthz")
    # ... serve; calls to http://orders/... now go through the mesh

``register`` POSTs the instance to the agent's admin API (127.0.0.1:15000 by
default, ``$WEFT_AGENT``), keeps retrying while the agent is not up yet, and
then:

* sets ``HTTP_PROXY``/``http_proxy`` for this process (and ``NO_PROXY`` for
  loopback), so ``urllib``, ``requests``, ``httpx`` and
  ``aiohttp.ClientSession(trust_env=True)`` call ``http://orders/`` through
  the agent. When the agent hands out a proxy credential for the registration
  (``proxyUrl``/``credential`` in its answer), the proxy URL carries it, so
  calls are attributed to this service; an agent without them gets the plain
  outbound address.
* deregisters at interpreter exit (``atexit``) and on SIGTERM when nothing
  else handles it (SIGTERM then ends the process as SystemExit(143), which
  runs ``atexit``). aiohttp's ``web.run_app`` turns SIGTERM into a normal
  exit, so the ``atexit`` deregistration runs there too.

Also a wrapper for any program: ``python3 weft_register.py --name web --port
8080 -- python3 app.py`` registers, runs the command with HTTP_PROXY set,
forwards SIGTERM/SIGINT to it and deregisters when it exits.

The agent's contract: README.md, "Agent admin API". Errors the agent returns
(400 naming the field, 409 when the id is registered differently and
``replace=False``) raise ``RegistrationError`` with its message.
"""

from __future__ import annotations

import atexit
import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence

DEFAULT_AGENT = "http://127.0.0.1:15000"
DEFAULT_OUTBOUND = "http://127.0.0.1:15001"
LOOPBACK = ("localhost", "127.0.0.1", "::1")

# Calls to the agent must never go through a proxy (the agent is one, and HTTP_PROXY is ours).
_direct = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class RegistrationError(Exception):
    """The agent refused the registration; ``field`` names the input at fault when it says."""

    def __init__(self, message: str, status: int, field_name: str = "", changes: Sequence[str] = ()):
        super().__init__(message)
        self.status = status
        self.field = field_name
        self.changes = list(changes)


@dataclass
class Registration:
    id: str
    service: str
    agent: str
    synced: bool
    #: The URL to use as HTTP_PROXY: with this service's credential when the agent gave one.
    proxy_url: str
    #: The proxy credential secret, when the agent hands one out (None otherwise).
    credential: Optional[str] = None
    #: Set when nothing accepted a connection on the port at registration.
    warning: Optional[str] = None
    #: What a registration of an id already registered changed (``"tags: [v1] -> []"``).
    changes: List[str] = field(default_factory=list)
    _done: bool = field(default=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def deregister(self, timeout: float = 5.0) -> bool:
        """Removes the registration (once; later calls do nothing). False when the agent could not be told."""
        with self._lock:
            if self._done:
                return True
            self._done = True
        url = f"{self.agent}/v1/services/{urllib.parse.quote(self.id, safe='')}"
        try:
            _call("DELETE", url, None, timeout)
            return True
        except RegistrationError as err:
            return err.status == 404
        except OSError:
            return False


def _agent_url(agent: Optional[str]) -> str:
    a = agent or os.environ.get("WEFT_AGENT") or DEFAULT_AGENT
    return (a if "://" in a else f"http://{a}").rstrip("/")


def _call(method: str, url: str, body: Optional[dict], timeout: float) -> dict:
    data = None if body is None else json.dumps(body).encode("utf-8")
    req = urllib.request.Request(url, data=data, method=method)
    if data is not None:
        req.add_header("content-type", "application/json")
    try:
        with _direct.open(req, timeout=timeout) as res:
            text = res.read().decode("utf-8") or "{}"
            return json.loads(text)
    except urllib.error.HTTPError as err:
        try:
            answer = json.loads(err.read().decode("utf-8") or "{}")
        except ValueError:
            answer = {}
        raise RegistrationError(
            str(answer.get("message") or f"agent answered {err.code}"),
            err.code,
            str(answer.get("field") or ""),
            answer.get("changes") or (),
        ) from None


def _proxy_url(answer: dict, outbound: str) -> str:
    """The agent's proxyUrl when it gives one; else the outbound address, with the credential when there is one."""
    if isinstance(answer.get("proxyUrl"), str):
        return answer["proxyUrl"]
    credential = answer.get("credential")
    parts = urllib.parse.urlsplit(outbound if "://" in outbound else f"http://{outbound}")
    if isinstance(credential, str) and credential:
        user = urllib.parse.quote(str(answer.get("service", "")), safe="")
        secret = urllib.parse.quote(credential, safe="")
        return f"{parts.scheme}://{user}:{secret}@{parts.netloc}"
    return f"{parts.scheme}://{parts.netloc}"


def set_proxy_env(proxy_url: str, env: Optional[Dict[str, str]] = None) -> Dict[str, str]:
    """Points both spellings of HTTP_PROXY at the agent and keeps loopback out of it (NO_PROXY)."""
    target = os.environ if env is None else env
    target["HTTP_PROXY"] = target["http_proxy"] = proxy_url
    present = [h for h in (target.get("NO_PROXY") or target.get("no_proxy") or "").split(",") if h.strip()]
    merged = present + [h for h in LOOPBACK if h not in present]
    target["NO_PROXY"] = target["no_proxy"] = ",".join(merged)
    return target


def register(
    name: str,
    port: int,
    *,
    health_http: Optional[str] = None,
    health_tcp: bool = False,
    interval: str = "5s",
    tags: Sequence[str] = (),
    metadata: Optional[Dict[str, str]] = None,
    instance_id: Optional[str] = None,
    address: Optional[str] = None,
    protocol: Optional[str] = None,
    agent: Optional[str] = None,
    outbound: Optional[str] = None,
    replace: bool = True,
    retry_for: float = 30.0,
    set_env: bool = True,
    deregister_at_exit: bool = True,
) -> Registration:
    """Registers ``name`` on ``port`` with the local agent; see the module docstring."""
    body: dict = {"name": name, "port": port, "tags": list(tags)}
    if metadata:
        body["metadata"] = dict(metadata)
    if instance_id:
        body["id"] = instance_id
    if address:
        body["address"] = address
    if protocol:
        body["protocol"] = protocol
    if health_http:
        body["health"] = {"http": health_http, "interval": interval}
    elif health_tcp:
        body["health"] = {"tcp": True, "interval": interval}
    base = _agent_url(agent)
    url = f"{base}/v1/services" + ("" if replace else "?replace=false")
    deadline = time.monotonic() + retry_for
    while True:
        try:
            answer = _call("POST", url, body, 10.0)
            break
        except RegistrationError:
            raise
        except OSError as err:  # the agent is not listening (yet): it may start after us
            if time.monotonic() >= deadline:
                raise RegistrationError(f"cannot reach the Weft agent at {base}: {err}", 0) from None
            time.sleep(0.25)
    reg = Registration(
        id=str(answer["id"]),
        service=str(answer.get("service", name)),
        agent=base,
        synced=bool(answer.get("synced", False)),
        proxy_url=_proxy_url(answer, outbound or os.environ.get("WEFT_OUTBOUND") or DEFAULT_OUTBOUND),
        credential=answer.get("credential") if isinstance(answer.get("credential"), str) else None,
        warning=answer.get("warning"),
        changes=list(answer.get("changes") or []),
    )
    if reg.warning:
        print(f"weft: warning: {reg.warning}", file=sys.stderr)
    if set_env:
        set_proxy_env(reg.proxy_url)
    if deregister_at_exit:
        atexit.register(reg.deregister)
        _exit_on_sigterm()
    return reg


def _exit_on_sigterm() -> None:
    """SIGTERM with no handler of the app's own kills without running atexit: make it a SystemExit instead."""
    if threading.current_thread() is not threading.main_thread():
        return
    if signal.getsignal(signal.SIGTERM) in (signal.SIG_DFL, None):
        signal.signal(signal.SIGTERM, lambda signum, _frame: sys.exit(128 + signum))


def _main(argv: Sequence[str]) -> int:
    import argparse

    p = argparse.ArgumentParser(
        prog="weft_register.py",
        description="register a service with the local Weft agent, run COMMAND with HTTP_PROXY set, deregister when it exits",
    )
    p.add_argument("--name", required=True)
    p.add_argument("--port", required=True, type=int)
    p.add_argument("--health-http")
    p.add_argument("--health-tcp", action="store_true")
    p.add_argument("--interval", default="5s")
    p.add_argument("--tag", action="append", default=[])
    p.add_argument("--id")
    p.add_argument("--agent")
    p.add_argument("--outbound")
    p.add_argument("command", nargs=argparse.REMAINDER, help="-- COMMAND [ARGS...]")
    o = p.parse_args(argv)
    command = o.command[1:] if o.command[:1] == ["--"] else o.command
    if not command:
        p.error("a command to run is required after --")
    try:
        reg = register(
            o.name,
            o.port,
            health_http=o.health_http,
            health_tcp=o.health_tcp,
            interval=o.interval,
            tags=o.tag,
            instance_id=o.id,
            agent=o.agent,
            outbound=o.outbound,
            set_env=False,
            deregister_at_exit=False,
        )
    except RegistrationError as err:
        print(f"weft_register: {err}", file=sys.stderr)
        return 2
    child = subprocess.Popen(command, env=set_proxy_env(reg.proxy_url, dict(os.environ)))
    forward = lambda signum, _frame: child.send_signal(signum)  # noqa: E731
    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    try:
        code = child.wait()
    finally:
        reg.deregister()
    return code if code >= 0 else 128 - code


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
