import { parseDuration, TOKEN_KINDS, type TokenKindName, tokenKindFromProto, tokenKindToProto, ValidationError } from '@weft/shared';
import type { TokenInfo__Output } from '@weft/shared/generated/weft/v1/TokenInfo';
import type { Command } from 'commander';
import { parseFlag } from '../cli-error.js';
import { formatTable } from '../table.js';
import { connectTrust } from '../trust-client.js';
import { controlPlaneOption } from './services.js';

interface CreateFlags {
  kind?: string;
  operator?: boolean;
  scope?: string;
  ttl?: string;
  uses: string;
  agentId?: string;
  description?: string;
  controlPlane: string;
}

/**
 * The token's kind from `--kind join|operator|read`, or from the spelling
 * `--operator [--scope write|read]` (write: an operator token, read: a read
 * token); both at once is an error, neither is a join token.
 */
export function tokenKindOf(o: Pick<CreateFlags, 'kind' | 'operator' | 'scope'>): TokenKindName {
  if (o.scope !== undefined && !o.operator) throw new ValidationError('--scope', 'goes with --operator (--operator --scope read|write)');
  if (o.operator) {
    if (o.kind !== undefined) throw new ValidationError('--kind', 'cannot be combined with --operator (use one or the other)');
    const scope = o.scope ?? 'write';
    if (scope !== 'write' && scope !== 'read') throw new ValidationError('--scope', 'must be read or write');
    return scope === 'write' ? 'operator' : 'read';
  }
  const kind = o.kind ?? 'join';
  if (!(TOKEN_KINDS as readonly string[]).includes(kind)) throw new ValidationError('--kind', 'must be join, operator or read');
  return kind as TokenKindName;
}

const when = (msText: string): string => {
  const ms = Number(msText);
  return ms ? new Date(ms).toISOString().replace('.000Z', 'Z') : '-';
};

/** What a listed token can still do: valid, expired or used up. */
function tokenState(t: TokenInfo__Output, nowMs: number): string {
  const expires = Number(t.expires_at_ms);
  if (expires && expires <= nowMs) return 'expired';
  if (t.uses_left === 0) return 'used up';
  return 'valid';
}

export function formatTokens(tokens: TokenInfo__Output[], nowMs: number): string {
  const rows = tokens.map((t) => [
    t.token_id,
    tokenKindFromProto(t.kind) ?? String(t.kind),
    tokenState(t, nowMs),
    when(t.created_at_ms),
    when(t.expires_at_ms),
    t.uses_left < 0 ? '-' : String(t.uses_left),
    t.agent_id || '-',
    t.description || '-',
  ]);
  return formatTable(['TOKEN ID', 'KIND', 'STATE', 'CREATED', 'EXPIRES', 'USES LEFT', 'AGENT', 'DESCRIPTION'], rows);
}

export function tokenCommand(program: Command): void {
  const token = program.command('token').description('tokens: join (enrol agents), operator (writes), read (reads)');
  token
    .command('create')
    .description('make a token and print it (once: only its hash is stored)')
    .option('--kind <kind>', 'join, operator or read (default: join)')
    .option('--operator', 'an operator token: the same as --kind operator, or --kind read with --scope read')
    .option('--scope <scope>', 'with --operator: write (every call, the default) or read (read calls only)')
    .option('--ttl <duration>', 'lifetime (default: 1h for join tokens, none for operator and read tokens)')
    .option('--uses <n>', 'join tokens: how many agents it may enrol', '1')
    .option('--agent-id <id>', 'join tokens: enrol exactly this agent id (also to re-enrol an enrolled agent)')
    .option('--description <text>', 'a note kept with the token')
    .option(...controlPlaneOption)
    .action(async (o: CreateFlags) => {
      const { kind, req } = parseFlag(() => {
        const kind = tokenKindOf(o);
        const uses = Number(o.uses);
        if (!Number.isInteger(uses) || uses < 1) throw new ValidationError('--uses', 'must be a positive integer');
        return {
          kind,
          req: {
            kind: tokenKindToProto(kind),
            ttl_ms: o.ttl === undefined ? 0 : parseDuration(o.ttl, '--ttl'),
            uses: kind === 'join' ? uses : 0,
            agent_id: kind === 'join' ? (o.agentId ?? '') : '',
            description: o.description ?? '',
          },
        };
      });
      const trust = connectTrust(o.controlPlane);
      try {
        const res = await trust.createToken(req);
        console.log(res.token);
        const expires = Number(res.expires_at_ms);
        console.error(`${kind} token ${res.token_id}${expires ? `, expires ${new Date(expires).toISOString()}` : ', no expiry'}`);
      } finally {
        trust.close();
      }
    });

  token
    .command('list')
    .description('every token the control plane holds (ids, kinds, expiry, uses left; never a secret); needs an operator token')
    .option('--json', 'print JSON')
    .option(...controlPlaneOption)
    .action(async (o: { json?: boolean; controlPlane: string }) => {
      const trust = connectTrust(o.controlPlane);
      try {
        const res = await trust.listTokens();
        if (o.json) console.log(JSON.stringify(res.tokens, null, 2));
        else console.log(formatTokens(res.tokens, Date.now()));
      } finally {
        trust.close();
      }
    });

  token
    .command('revoke')
    .description('delete a token: every call with it is refused from then on (the last valid operator token cannot be revoked)')
    .argument('<token-id>', 'the id weft token list shows (the second part of weft.<kind>.<id>.…)')
    .option(...controlPlaneOption)
    .action(async (tokenId: string, o: { controlPlane: string }) => {
      const trust = connectTrust(o.controlPlane);
      try {
        const res = await trust.revokeToken(tokenId);
        const t = res.token;
        console.log(`revoked ${tokenKindFromProto(t?.kind) ?? 'token'} token ${t?.token_id ?? tokenId}`);
      } finally {
        trust.close();
      }
    });
}
