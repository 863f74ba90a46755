import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { decodeNotice, encodeNotice, MAX_NOTICE_BYTES } from './change-notice.js';

describe('change notices', () => {
  test('a change round-trips with its services and agents', () => {
    const text = encodeNotice('r1', { kind: 'registry', revision: 42, services: ['orders'], agents: ['a1'] });
    assert.deepEqual(decodeNotice(text), {
      form: 'change',
      replica: 'r1',
      kind: 'registry',
      revision: 42,
      services: ['orders'],
      agents: ['a1'],
    });
  });

  test('a change too large for one notice becomes a reload of everything after the previous revision', () => {
    const services = Array.from({ length: 2_000 }, (_, i) => `service-${i}`);
    const text = encodeNotice('r1', { kind: 'registry', revision: 900, services });
    assert.ok(Buffer.byteLength(text) <= MAX_NOTICE_BYTES);
    assert.deepEqual(decodeNotice(text), { form: 'reload', replica: 'r1', kind: 'registry', revision: 900, reloadAfter: 899 });
  });

  test('a bad change is refused before sending, naming the field', () => {
    assert.throws(() => encodeNotice('r1', { kind: 'Registry!', revision: 1 }), /change\.kind/);
    assert.throws(() => encodeNotice('r1', { kind: 'registry', revision: -1 }), /change\.revision/);
    assert.throws(() => encodeNotice('r1', { kind: 'registry', revision: 1, services: [''] }), /change\.services\[0\]/);
  });

  test('hostile payloads are reported as invalid with the cause, never thrown', () => {
    const cases: [string | undefined, RegExp][] = [
      [undefined, /empty/],
      ['{', /not JSON/],
      ['[1]', /not an object/],
      ['{"v":2,"r":"x","k":"registry","rev":1}', /^v:/],
      ['{"v":1,"r":"","k":"registry","rev":1}', /^r:/],
      ['{"v":1,"r":"x","k":"REG","rev":1}', /^k:/],
      ['{"v":1,"r":"x","k":"registry","rev":1.5}', /^rev:/],
      ['{"v":1,"r":"x","k":"registry","rev":1,"s":"orders"}', /^s:/],
      ['{"v":1,"r":"x","k":"registry","rev":1,"a":[3]}', /^a:/],
      ['{"v":1,"r":"x","k":"registry","rev":1,"after":-2}', /^after:/],
    ];
    for (const [payload, cause] of cases) {
      const r = decodeNotice(payload);
      assert.ok('invalid' in r, `accepted ${payload}`);
      assert.match(r.invalid, cause, String(payload));
    }
  });
});
