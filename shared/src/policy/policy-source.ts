/**
 * Documents as they arrive from files, tagged with where they came from, and
 * validated together: every problem of every document is reported at once,
 * each reading `routes.yaml: doc 2: line 14: rules[1].match.path.regex: invalid …`
 * (documents are numbered from 1 within a file, field paths from 0; the line
 * only when the document came from YAML text).
 */
import { ValidationError } from '../errors.js';
import type { PolicyDocument } from './policy-types.js';
import { validatePolicyDocument } from './policy-validate.js';
import { problemsOf } from './policy-validate-fields.js';

export interface SourcedDocument {
  /** "routes.yaml: doc 2" (or "request: doc 1" when there is no file). */
  source: string;
  raw: unknown;
  /** The 1-based line of a field path in the source text, when known (YAML input). */
  lineOf?: (field: string) => number | undefined;
  /** Problems found before validation (YAML syntax); the document is not validated when there are any. */
  parseProblems?: readonly { problem: string; line?: number }[];
}

export interface ValidatedDocument {
  source: string;
  doc: PolicyDocument;
}

/** One problem of one document, located as precisely as the input allows. */
export interface DocumentProblem {
  source: string;
  field: string;
  problem: string;
  line?: number;
}

export function formatDocumentProblem(p: DocumentProblem): string {
  return `${p.source}: ${p.line !== undefined ? `line ${p.line}: ` : ''}${p.field ? `${p.field}: ` : ''}${p.problem}`;
}

/** Every problem of a set of documents; the message has one line per problem, `field` is the first one's. */
export class DocumentError extends ValidationError {
  readonly source: string;
  readonly problems: readonly DocumentProblem[];
  constructor(problems: readonly DocumentProblem[]) {
    super(problems[0]?.field ?? '', problems[0]?.problem ?? 'invalid');
    this.source = problems[0]?.source ?? '';
    this.problems = problems;
    this.message = problems.map(formatDocumentProblem).join('\n');
  }
}

export function sourceName(file: string, docIndex: number): string {
  return `${file}: doc ${docIndex + 1}`;
}

/**
 * Validates every document and throws one DocumentError listing every
 * problem of every document. Two documents of the same kind for the same
 * service are a problem too.
 */
export function validateSourcedDocuments(docs: readonly SourcedDocument[]): ValidatedDocument[] {
  const problems: DocumentProblem[] = [];
  const seen = new Map<string, string>();
  const valid: ValidatedDocument[] = [];
  for (const { source, raw, lineOf, parseProblems } of docs) {
    if (parseProblems && parseProblems.length > 0) {
      for (const p of parseProblems) problems.push({ source, field: '', problem: p.problem, line: p.line });
      continue;
    }
    const add = (field: string, problem: string) => problems.push({ source, field, problem, line: lineOf?.(field) });
    let doc: PolicyDocument;
    try {
      doc = validatePolicyDocument(raw);
    } catch (err) {
      if (!(err instanceof ValidationError)) throw err;
      for (const p of problemsOf(err)) add(p.field, p.problem);
      continue;
    }
    const key = `${doc.kind}/${doc.metadata.service}`;
    const first = seen.get(key);
    if (first !== undefined) add('metadata.service', `a second ${doc.kind} document for "${doc.metadata.service}" (first in ${first})`);
    else seen.set(key, source);
    valid.push({ source, doc });
  }
  if (problems.length > 0) throw new DocumentError(problems);
  return valid;
}
