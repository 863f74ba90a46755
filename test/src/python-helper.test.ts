/**
 * The Python helper (client-python/weft_register.py), end to end with real
 * processes: a standard-library app registers itself with a real agent, calls
 * another service by name through the mesh, is reachable through the mesh,
 * and is deregistered when it gets SIGTERM. Skipped where python3 is absent.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { type AgentProc, echoHandler, getJson, Mesh, registerWith, send, viaProxy } from './harness.js';

const helperDir = join(dirname(fileURLToPath(import.meta.url)), '../../client-python');
const python = spawnSync('python3', ['--version']).status === 0;

/** Starts a python3 script in client-python/ and resolves with its parsed `ready` line (stderr). */
async function startPython(args: string[], children: ChildProcess[]): Promise<{ child: ChildProcess; ready: Record<string, unknown> }> {
  const child = spawn('python3', args, { cwd: helperDir, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  const lines: string[] = [];
  const ready = await new Promise<Record<string, unknown>>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ready line from python3 ${args[0]}:\n${lines.join('\n')}`)), 20_000);
    createInterface({ input: child.stderr! }).on('line', (line) => {
      lines.push(line);
      try {
        const rec = JSON.parse(line) as Record<string, unknown>;
        if (rec.msg === 'ready') {
          clearTimeout(timer);
          resolve(rec);
        }
      } catch {
        // not JSON
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`python3 ${args[0]} exited (${code}):\n${lines.join('\n')}`));
    });
  });
  return { child, ready };
}

describe('the Python registration helper', { skip: python ? false : 'python3 is not installed' }, () => {
  const mesh = new Mesh();
  const children: ChildProcess[] = [];
  let a: AgentProc;
  const services = async () => (await getJson<{ services: { id: string; service: string }[] }>(a.adminPort, '/v1/services')).services;

  before(async () => {
    const cp = await mesh.controlPlane();
    a = await mesh.agent('agent-a', cp.grpcPort);
    const other = await mesh.service(echoHandler('other-1'));
    await registerWith(a, { name: 'other-service', port: other.port });
  });
  after(async () => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    await mesh.close();
  });

  test('registers on start, calls a service by name through the mesh, and deregisters on SIGTERM', async () => {
    const { child, ready } = await startPython(
      [
        'example_stdlib_app.py',
        '--name',
        'py-web',
        '--call',
        'other-service',
        '--agent',
        `127.0.0.1:${a.adminPort}`,
        '--outbound',
        `127.0.0.1:${a.outboundPort}`,
      ],
      children,
    );
    const id = String(ready.id);
    assert.equal(
      ready.proxy,
      `http://py-web:***@127.0.0.1:${a.outboundPort}`,
      'HTTP_PROXY points at the agent outbound listener, with the credential its registration returned (masked in the log)',
    );
    assert.ok((await services()).some((s) => s.id === id && s.service === 'py-web'));

    const called = await send({ port: Number(ready.port), path: '/call' });
    assert.equal(called.status, 200, called.body.toString());
    const echoed = JSON.parse(called.body.toString()) as { instance: string; url: string };
    assert.equal(echoed.instance, 'other-1', 'http://other-service/hello reached other-service through the mesh');
    assert.equal(echoed.url, '/hello');

    const inbound = await viaProxy(a.outboundPort, 'http://py-web/');
    assert.equal(inbound.status, 200);
    assert.equal(inbound.body.toString(), 'hello from py-web');

    child.kill('SIGTERM');
    const [code] = await once(child, 'exit');
    assert.equal(code, 143, 'SIGTERM ends the app as it would have, after deregistering');
    assert.ok(!(await services()).some((s) => s.id === id), 'deregistered before the process ended');
  });

  test('the wrapper registers any command, gives it HTTP_PROXY and NO_PROXY, and deregisters when it exits', async () => {
    const other = await mesh.service(echoHandler('wrapped-1'));
    const r = spawnSync(
      'python3',
      [
        'weft_register.py',
        '--name',
        'py-wrapped',
        '--port',
        String(other.port),
        '--agent',
        `127.0.0.1:${a.adminPort}`,
        '--outbound',
        `127.0.0.1:${a.outboundPort}`,
        '--',
        'python3',
        '-c',
        'import os, urllib.request; print(os.environ["HTTP_PROXY"]); print(os.environ["NO_PROXY"]); ' +
          `print(urllib.request.urlopen("http://127.0.0.1:${a.adminPort}/v1/services").read().decode())`,
      ],
      { cwd: helperDir, encoding: 'utf8', timeout: 30_000 },
    );
    assert.equal(r.status, 0, r.stderr);
    const [proxy, noProxy, ...rest] = r.stdout.split('\n');
    const listed = JSON.parse(rest.join('\n')) as { services: { service: string }[] };
    // The service's proxy credential rides in the URL, so any HTTP_PROXY-aware client calls as py-wrapped.
    assert.match(proxy ?? '', new RegExp(`^http://py-wrapped:[A-Za-z0-9_%-]+@127\\.0\\.0\\.1:${a.outboundPort}$`));
    assert.match(noProxy, /(^|,)127\.0\.0\.1(,|$)/);
    assert.ok(
      listed.services.some((x) => x.service === 'py-wrapped'),
      'registered while the command ran (its loopback call bypassed the proxy)',
    );
    assert.ok(!(await services()).some((s) => s.service === 'py-wrapped'), 'deregistered when the command exited');
  });

  test('a refused registration raises RegistrationError naming the field', () => {
    const r = spawnSync(
      'python3',
      [
        '-c',
        'import weft_register as w\ntry:\n  w.register("Bad Name!", 1, agent="127.0.0.1:' +
          String(a.adminPort) +
          '")\nexcept w.RegistrationError as e:\n  print(e.status, e.field, e)',
      ],
      { cwd: helperDir, encoding: 'utf8', timeout: 30_000 },
    );
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^400 name name: /);
  });
});
