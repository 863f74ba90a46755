/**
 * The whole-request deadline (retries included). A caller may ask for a
 * shorter one with `x-weft-timeout-ms`; it is capped by the configured
 * default, so a caller can never make the mesh wait longer than the operator
 * allows. The outbound listener passes what is left to the peer agent in the
 * same header, so the inbound side never outwaits the caller.
 */
import { MeshError, MeshErrorCode } from '@weft/shared';
import { TIMEOUT_HEADER } from './headers.js';

export class Deadline {
  private readonly expiresAt: number;
  constructor(
    readonly budgetMs: number,
    private readonly now: () => number = Date.now,
  ) {
    this.expiresAt = now() + budgetMs;
  }

  remainingMs(): number {
    return Math.max(0, this.expiresAt - this.now());
  }

  get expired(): boolean {
    return this.remainingMs() <= 0;
  }
}

/** The budget for one request: the header's value when valid and smaller, else the default. */
export function requestBudgetMs(value: string | undefined, defaultMs: number): number | MeshError {
  if (value === undefined) return defaultMs;
  // Usually a plain number from the peer agent: parsed by hand, no trim or regex.
  const ms = plainMs(value);
  if (ms > 0) return Math.min(ms, defaultMs);
  if (ms === 0 || !/^\d{1,10}$/.test(value.trim()) || Number(value) <= 0) {
    return new MeshError(MeshErrorCode.badRequest, `${TIMEOUT_HEADER}: must be a positive integer number of milliseconds`);
  }
  return Math.min(Number(value), defaultMs);
}

/** `value` as 1–10 decimal digits (its number, 0 included), or -1 for anything else (spaces, signs, longer). */
function plainMs(value: string): number {
  const n = value.length;
  if (n === 0 || n > 10) return -1;
  let ms = 0;
  for (let i = 0; i < n; i++) {
    const d = value.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return -1;
    ms = ms * 10 + d;
  }
  return ms;
}
