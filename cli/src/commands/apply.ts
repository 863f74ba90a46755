/**
 * `weft apply -f FILE|DIR [--dry-run] [--wait]`: reads YAML documents,
 * validates them locally with the shared validator (every problem of every
 * document at once, each naming file, document, line and field), sends them to the control plane (which validates
 * again, authoritatively, and stores them in one transaction and one
 * revision), prints the per-service diff and the warnings, and with --wait
 * follows the agents' ACK/NACK of the new version. Also home of the small
 * config gRPC client the other policy commands share.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import {
  CONTROL_PLANE_TLS_OPTIONS,
  DocumentError,
  type DocumentProblem,
  externalResourceName,
  formatDocumentProblem,
  KIND_EXTERNAL_SERVICE,
  lineDiff,
  loadWeftProto,
  messageOf,
  type PolicyDocument,
  parseDuration,
  policyResourceName,
  type SourcedDocument,
  ValidationError,
  validateSourcedDocuments,
} from '@weft/shared';
import type { ApplyConfigResponse__Output } from '@weft/shared/generated/weft/v1/ApplyConfigResponse';
import type { ConfigChange__Output } from '@weft/shared/generated/weft/v1/ConfigChange';
import type { ConfigHistoryResponse__Output } from '@weft/shared/generated/weft/v1/ConfigHistoryResponse';
import type { GetConfigResponse__Output } from '@weft/shared/generated/weft/v1/GetConfigResponse';
import type { ListAgentsResponse__Output } from '@weft/shared/generated/weft/v1/ListAgentsResponse';
import { parsePolicyYaml, policyToYaml } from '@weft/shared/policy/policy-yaml';
import type { Command } from 'commander';
import { CliError } from '../cli-error.js';
import { controlPlaneClient } from '../control-plane-auth.js';
import { requiredOption } from '../required-option.js';
import { controlPlaneOption } from './services.js';

const CALL_TIMEOUT_MS = 10_000;

export interface ConfigClient {
  apply(documents: { source: string; json: string }[], dryRun: boolean): Promise<ApplyConfigResponse__Output>;
  get(service: string, kind: string): Promise<GetConfigResponse__Output>;
  delete(service: string, kind: string, dryRun: boolean): Promise<ApplyConfigResponse__Output>;
  history(service: string, limit: number): Promise<ConfigHistoryResponse__Output>;
  rollback(revision: string, dryRun: boolean): Promise<ApplyConfigResponse__Output>;
  listAgents(): Promise<ListAgentsResponse__Output>;
  close(): void;
}

export function connectConfig(address: string): ConfigClient {
  const { call, close } = controlPlaneClient(
    address,
    (creds) => new (loadWeftProto().Registry)(address, creds, CONTROL_PLANE_TLS_OPTIONS),
    CALL_TIMEOUT_MS,
  );
  return {
    apply: (documents, dry_run) => call('ApplyConfig', (c, md, o, cb) => c.ApplyConfig({ documents, dry_run }, md, o, cb)),
    get: (service, kind) => call('GetConfig', (c, md, o, cb) => c.GetConfig({ service, kind }, md, o, cb)),
    delete: (service, kind, dry_run) => call('DeleteConfig', (c, md, o, cb) => c.DeleteConfig({ service, kind, dry_run }, md, o, cb)),
    history: (service, limit) => call('ConfigHistory', (c, md, o, cb) => c.ConfigHistory({ service, limit }, md, o, cb)),
    rollback: (revision, dry_run) => call('RollbackConfig', (c, md, o, cb) => c.RollbackConfig({ revision, dry_run }, md, o, cb)),
    listAgents: () => call('ListAgents', (c, md, o, cb) => c.ListAgents({}, md, o, cb)),
    close,
  };
}

/** Every document of FILE, or of the .yaml/.yml/.json files in DIR (sorted by name). */
export function readDocuments(path: string): SourcedDocument[] {
  let files: string[];
  try {
    files = statSync(path).isDirectory()
      ? readdirSync(path)
          .filter((f) => /\.(ya?ml|json)$/.test(f))
          .sort()
          .map((f) => join(path, f))
      : [path];
  } catch (err) {
    throw new CliError(`${path}: ${messageOf(err)}`, 2);
  }
  const docs: SourcedDocument[] = [];
  for (const file of files) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      throw new CliError(`${file}: ${messageOf(err)}`, 2);
    }
    docs.push(...parsePolicyYaml(text, basename(file)));
  }
  if (docs.length === 0) throw new CliError(`${path}: no documents found`, 2);
  return docs;
}

/**
 * Every problem of the documents, one per line after a count, so an operator
 * fixes a file in one round (`routes.yaml: doc 2: line 14: rules[1].timeout: invalid duration …`).
 */
export function validationReport(problems: readonly DocumentProblem[], outcome: string): string {
  const count = problems.length === 1 ? '1 problem' : `${problems.length} problems`;
  return [`${count}; ${outcome}`, ...problems.map((p) => `  ${formatDocumentProblem(p)}`)].join('\n');
}

const toYaml = (json: string) => (json === '' ? '' : policyToYaml([JSON.parse(json) as PolicyDocument]));

/** Prints each change as a header line and a YAML line diff. */
export function printResult(res: ApplyConfigResponse__Output, verb: string): void {
  const changed = res.changes.filter((c) => c.action !== 'unchanged');
  for (const c of res.changes) {
    console.log(`${c.kind} ${c.service}: ${c.action}${res.dry_run && c.action !== 'unchanged' ? ' (dry run)' : ''}`);
    if (c.action === 'unchanged') continue;
    for (const line of lineDiff(toYaml(c.before_json), toYaml(c.after_json)))
      if (!line.startsWith('  ') || changed.length === 1) console.log(`    ${line}`);
  }
  for (const w of res.warnings) console.log(`warning: ${w}`);
  if (res.dry_run) console.log(`dry run: nothing ${verb}; stored revision is ${res.revision}`);
  else if (changed.length === 0) console.log(`nothing changed; revision ${res.revision}`);
  else console.log(`${verb} as revision ${res.revision}`);
}

/** The stream resources a set of changes touches: policy/<service>, or external/<host> for an ExternalService. */
function changedResources(changes: readonly ConfigChange__Output[]): Set<string> {
  const names = new Set<string>();
  for (const c of changes) {
    if (c.action === 'unchanged') continue;
    if (c.kind !== KIND_EXTERNAL_SERVICE) names.add(policyResourceName(c.service));
    else
      for (const json of [c.before_json, c.after_json])
        if (json) names.add(externalResourceName((JSON.parse(json) as { host: string }).host));
  }
  return names;
}

/**
 * Waits until every agent subscribed to a resource the changes touch holds
 * `revision` (ACK) or rejected it (NACK). Returns false when any NACKed or
 * the wait timed out; true at once when nothing changed.
 */
export async function waitForAgents(
  client: ConfigClient,
  changes: readonly ConfigChange__Output[],
  revision: string,
  timeoutMs: number,
): Promise<boolean> {
  const names = changedResources(changes);
  if (names.size === 0) return true;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const res = await client.listAgents();
    const pending: string[] = [];
    const nacked: string[] = [];
    let acked = 0;
    for (const a of res.agents.filter((x) => x.connected)) {
      for (const r of a.resources.filter((x) => names.has(x.name))) {
        const who = `${a.agent?.agent_id ?? '?'} ${r.name}`;
        if (r.rejected_version === revision) nacked.push(`${who}: NACK: ${r.error}`);
        else if (
          Number(r.acked_version || 0) >= Number(revision) ||
          (r.acked_version === '' && r.sent_version === '' && !r.rejected_version)
        )
          acked++;
        else pending.push(`${who}: holds ${r.acked_version || 'nothing'}`);
      }
    }
    if (pending.length === 0 || Date.now() > deadline) {
      if (acked > 0 || pending.length + nacked.length > 0)
        console.log(`agents: ${acked} ACKed, ${nacked.length} NACKed, ${pending.length} pending`);
      else console.log('agents: no agent uses these services yet');
      for (const line of [...nacked, ...pending.map((p) => `${p} (timed out)`)]) console.log(`  ${line}`);
      return nacked.length === 0 && pending.length === 0;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}

export const waitOptions = [
  ['--wait', 'return when every subscribed agent has ACKed the new version (or report which NACKed and why)'],
  ['--timeout <duration>', 'how long --wait waits', '30s'],
] as const;

export function applyCommand(program: Command): void {
  const apply = program
    .command('apply')
    .description('validate and store traffic-policy documents (YAML, one or more per file, `kind:` per document)');
  requiredOption(apply, '-f, --file <path>', 'a YAML file or a directory of them')
    .option('--dry-run', 'validate and print the diff against what is stored; store nothing')
    .option(...waitOptions[0])
    .option(...waitOptions[1])
    .option(...controlPlaneOption)
    .action(async (o: { file: string; dryRun?: boolean; wait?: boolean; timeout: string; controlPlane: string }) => {
      const docs = readDocuments(o.file);
      try {
        validateSourcedDocuments(docs);
      } catch (err) {
        if (err instanceof DocumentError) throw new CliError(validationReport(err.problems, 'nothing applied'), 2);
        if (err instanceof ValidationError) throw new CliError(err.message, 2);
        throw err;
      }
      const timeoutMs = parseDuration(o.timeout, '--timeout');
      const client = connectConfig(o.controlPlane);
      try {
        const res = await client.apply(
          docs.map((d) => ({ source: d.source, json: JSON.stringify(d.raw) })),
          o.dryRun === true,
        );
        printResult(res, 'applied');
        if (o.wait && !o.dryRun) {
          if (!(await waitForAgents(client, res.changes, res.revision, timeoutMs)))
            throw new CliError('not every agent accepted the new config', 1);
        }
      } finally {
        client.close();
      }
    });
}
