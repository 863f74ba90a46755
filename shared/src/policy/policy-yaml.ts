/**
 * YAML in and out for policy documents (the CLI's side; the control plane and
 * the agent exchange JSON). Kept out of the package index so programs that
 * never read YAML do not load the parser.
 *
 * Each document read from YAML can say on which line a field path is, so a
 * validation problem names file, document, line and field.
 */
import { isMap, isScalar, isSeq, LineCounter, type Node, parseAllDocuments, stringify } from 'yaml';
import type { SourcedDocument } from './policy-source.js';
import { sourceName } from './policy-source.js';
import type { PolicyDocument } from './policy-types.js';

/**
 * Splits a multi-document YAML text into documents. A document with syntax
 * errors comes back with `parseProblems` (every error, with its line) so
 * validation reports them together with the other documents' problems.
 */
export function parsePolicyYaml(text: string, file: string): SourcedDocument[] {
  const out: SourcedDocument[] = [];
  const lines = new LineCounter();
  const docs = parseAllDocuments(text, { prettyErrors: false, lineCounter: lines });
  if (!Array.isArray(docs)) return out;
  docs.forEach((d, i) => {
    const source = sourceName(file, i);
    if (d.errors.length > 0) {
      const parseProblems = d.errors.map((err) => ({
        problem: `invalid YAML: ${err.message.split('\n')[0]}`,
        line: err.linePos?.[0]?.line ?? lines.linePos(err.pos[0]).line,
      }));
      out.push({ source, raw: undefined, parseProblems });
      return;
    }
    const raw: unknown = d.toJS();
    // An empty document (a trailing `---`) is not an error.
    if (raw === null || raw === undefined) return;
    const root = d.contents as Node | null;
    out.push({ source, raw, lineOf: (field) => fieldLine(root, field, lines) });
  });
  return out;
}

/**
 * The line of `field` (`rules[2].requestHeaders.set.content-length`) in the
 * document `root`: the line of the deepest node the path reaches (a missing
 * field is reported on its parent's line). Map keys may contain dots and are
 * matched longest first, case-insensitively (the validator lowercases
 * header names).
 */
export function fieldLine(root: Node | null, field: string, lines: LineCounter): number | undefined {
  if (!root?.range) return undefined;
  const lineAt = (offset: number) => lines.linePos(offset).line;
  let node: unknown = root;
  let line = lineAt(root.range[0]);
  let rest = field;
  while (rest !== '') {
    const index = /^\[(\d+)\]\.?/.exec(rest);
    if (index) {
      if (!isSeq(node)) break;
      const item = node.items[Number(index[1])] as Node | undefined;
      if (!item?.range) break;
      node = item;
      line = lineAt(item.range[0]);
      rest = rest.slice(index[0].length);
      continue;
    }
    if (!isMap(node)) break;
    let best: { key: string; pair: (typeof node.items)[number] } | undefined;
    const lower = rest.toLowerCase();
    for (const pair of node.items) {
      if (!isScalar(pair.key)) continue;
      const key = String(pair.key.value);
      const k = key.toLowerCase();
      const fits = lower === k || lower.startsWith(`${k}.`) || lower.startsWith(`${k}[`);
      if (fits && (!best || key.length > best.key.length)) best = { key, pair };
    }
    if (!best) break;
    const keyNode = best.pair.key as Node;
    if (keyNode.range) line = lineAt(keyNode.range[0]);
    node = best.pair.value;
    rest = rest.slice(best.key.length).replace(/^\./, '');
  }
  return line;
}

/** Documents as multi-document YAML that parsePolicyYaml + validation accept back unchanged. */
export function policyToYaml(docs: readonly PolicyDocument[]): string {
  return docs.map((d) => stringify(d, { lineWidth: 0 })).join('---\n');
}
