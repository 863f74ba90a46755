import type { Command } from 'commander';
import { formatTable } from '../table.js';
import { connectTrust } from '../trust-client.js';
import { controlPlaneOption } from './services.js';

export function caCommand(program: Command): void {
  const ca = program.command('ca').description('the mesh CA: list roots, and rotate (add, activate, remove)');
  const print = (res: Awaited<ReturnType<ReturnType<typeof connectTrust>['listRoots']>>) => {
    console.log(`trust domain ${res.trust_domain}`);
    console.log(
      formatTable(
        ['FINGERPRINT', 'ACTIVE', 'EXPIRES', 'SUBJECT'],
        res.roots.map((r) => [r.fingerprint, r.active ? 'yes' : '', new Date(Number(r.not_after_ms)).toISOString(), r.subject]),
      ),
    );
  };
  const step = (name: string, description: string, s: 'STEP_ADD' | 'STEP_ACTIVATE' | 'STEP_REMOVE', takesFingerprint: boolean) => {
    const cmd = ca
      .command(takesFingerprint ? `${name} <fingerprint>` : name)
      .description(description)
      .option(...controlPlaneOption);
    cmd.action(async (...args: unknown[]) => {
      const fingerprint = takesFingerprint ? String(args[0]) : '';
      const o = (takesFingerprint ? args[1] : args[0]) as { controlPlane: string };
      const trust = connectTrust(o.controlPlane);
      try {
        print(await trust.rotateRoot({ step: s, fingerprint }));
      } finally {
        trust.close();
      }
    });
  };
  ca.command('list')
    .description('trusted roots; the active one issues new certificates')
    .option(...controlPlaneOption)
    .action(async (o: { controlPlane: string }) => {
      const trust = connectTrust(o.controlPlane);
      try {
        print(await trust.listRoots());
      } finally {
        trust.close();
      }
    });
  step('add', 'rotation step 1: a new root, trusted by everyone but not issuing yet', 'STEP_ADD', false);
  step('activate', 'rotation step 2 (after agents have the new bundle): new certificates come from this root', 'STEP_ACTIVATE', true);
  step('remove', 'rotation step 3 (after one certificate lifetime): stop trusting an old root', 'STEP_REMOVE', true);
}
