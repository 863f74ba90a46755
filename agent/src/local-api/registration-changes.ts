/**
 * What a registration of an instance id that is already registered changes.
 *
 * Registering the same name and port again used to replace the registration
 * silently (dropping its tags or its health check). The admin API now says
 * what changed in its answer (`changes`), and refuses the change with 409
 * `registration_exists` when the caller asked not to replace (`weft register`
 * without `--replace`). Each change is one readable line: `tags: [v1] -> []`.
 */
import { Defaults, formatDuration, type HealthCheckSpec, type LocalServiceSpec } from '@weft/shared';

/** The check an instance gets when its registration names none: a TCP connect, so a dead port is never `passing`. */
export function defaultHealthCheck(): HealthCheckSpec {
  return { kind: 'tcp', intervalMs: Defaults.healthIntervalMs, timeoutMs: Math.min(Defaults.healthTimeoutMs, Defaults.healthIntervalMs) };
}

export function describeHealthCheck(h: HealthCheckSpec | undefined): string {
  if (h === undefined) return 'none';
  const every = `every ${formatDuration(h.intervalMs)}, timeout ${formatDuration(h.timeoutMs)}`;
  return h.kind === 'http' ? `http ${h.path} ${every}` : `tcp ${every}`;
}

const list = (v: readonly string[]) => `[${v.join(', ')}]`;
const map = (m: Readonly<Record<string, string>>) =>
  `{${Object.keys(m)
    .sort()
    .map((k) => `${k}=${m[k]}`)
    .join(', ')}}`;

/** Every field that differs between the registration held and the new one, as `field: before -> after`; empty when equal. */
export function registrationChanges(before: LocalServiceSpec, after: LocalServiceSpec): string[] {
  const fields: [string, string, string][] = [
    ['name', before.name, after.name],
    ['address', before.address, after.address],
    ['port', String(before.port), String(after.port)],
    ['protocol', before.protocol, after.protocol],
    ['zone', before.zone ?? '(agent zone)', after.zone ?? '(agent zone)'],
    ['weight', String(before.weight), String(after.weight)],
    ['tags', list(before.tags), list(after.tags)],
    ['metadata', map(before.metadata), map(after.metadata)],
    ['health', describeHealthCheck(before.health), describeHealthCheck(after.health)],
  ];
  return fields.filter(([, b, a]) => b !== a).map(([field, b, a]) => `${field}: ${b} -> ${a}`);
}

/** A registration would change one held under the same id, and the caller asked not to replace it. */
export class RegistrationExistsError extends Error {
  readonly code = 'registration_exists';
  constructor(
    readonly instanceId: string,
    readonly changes: readonly string[],
  ) {
    super(
      `instance "${instanceId}" is already registered; registering it again would change ${changes.join('; ')} (replace it explicitly: weft register --replace, or POST /v1/services without ?replace=false)`,
    );
    this.name = 'RegistrationExistsError';
  }
}
