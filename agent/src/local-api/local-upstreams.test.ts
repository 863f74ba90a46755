import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { silentLogger, ValidationError } from '@weft/shared';
import { LocalUpstreams, parseUpstreamSpec, UPSTREAMS_FILE, type UpstreamSpec } from './local-upstreams.js';

/** Ports that "bind" unless listed as taken. */
function fakePorts(taken: number[] = []) {
  const open = new Map<string, number>();
  return {
    open: async (u: UpstreamSpec) => {
      if (taken.includes(u.localPort)) throw Object.assign(new Error('in use'), { code: 'EADDRINUSE' });
      open.set(u.service, u.localPort);
      return u.localPort;
    },
    close: async (service: string) => open.delete(service),
    open_: open,
  };
}

describe('local upstreams (weft upstream)', () => {
  it('validates a spec and names the field', () => {
    assert.deepEqual(parseUpstreamSpec({ service: 'postgres', localPort: 5433 }), { service: 'postgres', localPort: 5433 });
    for (const [raw, field] of [
      [{ service: 'Bad_Name', localPort: 5433 }, 'service'],
      [{ service: 'pg', localPort: 0 }, 'localPort'],
      [{ service: 'pg', localPort: '5433' }, 'localPort'],
      [{ service: 'pg', localPort: 5433, extra: 1 }, 'extra'],
    ] as const) {
      assert.throws(
        () => parseUpstreamSpec(raw),
        (err: unknown) => err instanceof ValidationError && err.field === field,
        JSON.stringify(raw),
      );
    }
  });

  it('persists upstreams in the data dir and opens them again on restore', async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'weft-upstreams-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const first = new LocalUpstreams(dir, fakePorts(), silentLogger);
    await first.add({ service: 'postgres', localPort: 5433 });
    await first.add({ service: 'redis', localPort: 6380 });
    assert.equal(await first.remove('redis'), true);
    assert.equal(await first.remove('redis'), false);
    assert.deepEqual(JSON.parse(readFileSync(join(dir, UPSTREAMS_FILE), 'utf8')), {
      upstreams: [{ service: 'postgres', localPort: 5433 }],
    });
    const ports = fakePorts();
    const second = new LocalUpstreams(dir, ports, silentLogger);
    await second.restore();
    assert.deepEqual(second.list(), [{ service: 'postgres', localPort: 5433 }]);
    assert.equal(ports.open_.get('postgres'), 5433);
  });

  it('refuses a port another upstream uses or the agent cannot bind, naming localPort', async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'weft-upstreams-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const u = new LocalUpstreams(dir, fakePorts([7000]), silentLogger);
    await u.add({ service: 'postgres', localPort: 5433 });
    await assert.rejects(
      u.add({ service: 'other', localPort: 5433 }),
      (e: unknown) => e instanceof ValidationError && e.field === 'localPort',
    );
    await assert.rejects(u.add({ service: 'other', localPort: 7000 }), /EADDRINUSE/);
    assert.deepEqual(
      u.list().map((x) => x.service),
      ['postgres'],
    );
  });

  it('skips unreadable entries of a persisted file and keeps the rest', async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'weft-upstreams-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    writeFileSync(
      join(dir, UPSTREAMS_FILE),
      JSON.stringify({
        upstreams: [
          { service: 'ok', localPort: 1234 },
          { service: 'x', localPort: 'no' },
        ],
      }),
    );
    const u = new LocalUpstreams(dir, fakePorts(), silentLogger);
    await u.restore();
    assert.deepEqual(u.list(), [{ service: 'ok', localPort: 1234 }]);
  });
});
