import { parseDuration, ValidationError } from '@weft/shared';
import type { Command } from 'commander';
import { parseFlag } from '../cli-error.js';
import { connectTrust } from '../trust-client.js';
import { controlPlaneOption } from './services.js';

const KINDS = { join: 'TOKEN_KIND_JOIN', operator: 'TOKEN_KIND_OPERATOR', read: 'TOKEN_KIND_READ' } as const;

export function tokenCommand(program: Command): void {
  const token = program.command('token').description('tokens: join (enrol agents), operator (writes), read (reads)');
  token
    .command('create')
    .description('make a token and print it (once: only its hash is stored)')
    .option('--kind <kind>', 'join, operator or read', 'join')
    .option('--ttl <duration>', 'lifetime (default: 1h for join tokens, none for operator and read tokens)')
    .option('--uses <n>', 'join tokens: how many agents it may enrol', '1')
    .option('--agent-id <id>', 'join tokens: enrol exactly this agent id (also to re-enrol an enrolled agent)')
    .option('--description <text>', 'a note kept with the token')
    .option(...controlPlaneOption)
    .action(async (o: { kind: string; ttl?: string; uses: string; agentId?: string; description?: string; controlPlane: string }) => {
      const req = parseFlag(() => {
        if (!Object.hasOwn(KINDS, o.kind)) throw new ValidationError('--kind', 'must be join, operator or read');
        const uses = Number(o.uses);
        if (!Number.isInteger(uses) || uses < 1) throw new ValidationError('--uses', 'must be a positive integer');
        return {
          kind: KINDS[o.kind as keyof typeof KINDS],
          ttl_ms: o.ttl === undefined ? 0 : parseDuration(o.ttl, '--ttl'),
          uses: o.kind === 'join' ? uses : 0,
          agent_id: o.kind === 'join' ? (o.agentId ?? '') : '',
          description: o.description ?? '',
        };
      });
      const trust = connectTrust(o.controlPlane);
      try {
        const res = await trust.createToken(req);
        console.log(res.token);
        const expires = Number(res.expires_at_ms);
        console.error(`${o.kind} token ${res.token_id}${expires ? `, expires ${new Date(expires).toISOString()}` : ', no expiry'}`);
      } finally {
        trust.close();
      }
    });
}
