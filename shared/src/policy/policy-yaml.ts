/**
 * YAML in and out for policy documents (the CLI's side; the control plane and
 * the agent exchange JSON). Kept out of the package index so programs that
 * never read YAML do not load the parser.
 */
import { parseAllDocuments, stringify } from 'yaml';
import { DocumentError, type SourcedDocument, sourceName } from './policy-source.js';
import type { PolicyDocument } from './policy-types.js';

/** Splits a multi-document YAML text into documents; a syntax error names file, document and line. */
export function parsePolicyYaml(text: string, file: string): SourcedDocument[] {
  const out: SourcedDocument[] = [];
  const docs = parseAllDocuments(text, { prettyErrors: false });
  if (!Array.isArray(docs)) return out;
  docs.forEach((d, i) => {
    const source = sourceName(file, i);
    const err = d.errors[0];
    if (err) {
      const line = err.linePos?.[0]?.line;
      throw new DocumentError(source, '', `invalid YAML${line ? ` at line ${line}` : ''}: ${err.message.split('\n')[0]}`);
    }
    const raw: unknown = d.toJS();
    // An empty document (a trailing `---`) is not an error.
    if (raw === null || raw === undefined) return;
    out.push({ source, raw });
  });
  return out;
}

/** Documents as multi-document YAML that parsePolicyYaml + validation accept back unchanged. */
export function policyToYaml(docs: readonly PolicyDocument[]): string {
  return docs.map((d) => stringify(d, { lineWidth: 0 })).join('---\n');
}
