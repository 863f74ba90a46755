/**
 * Documents as they arrive from files, tagged with where they came from so
 * every error reads `routes.yaml: doc 2: rules[1].match.path.regex: invalid …`
 * (documents are numbered from 1 within a file, field paths from 0).
 */
import { ValidationError } from '../errors.js';
import type { PolicyDocument } from './policy-types.js';
import { validatePolicyDocument } from './policy-validate.js';

export interface SourcedDocument {
  /** "routes.yaml: doc 2" (or "request: doc 1" when there is no file). */
  source: string;
  raw: unknown;
}

export interface ValidatedDocument {
  source: string;
  doc: PolicyDocument;
}

/** A validation error that also names the file and document. */
export class DocumentError extends ValidationError {
  readonly source: string;
  constructor(source: string, field: string, problem: string) {
    super(field, problem);
    this.source = source;
    this.message = `${source}: ${field ? `${field}: ` : ''}${problem}`;
  }
}

export function sourceName(file: string, docIndex: number): string {
  return `${file}: doc ${docIndex + 1}`;
}

/** The problem text of a ValidationError without its field prefix. */
export function problemOf(err: ValidationError): string {
  return err.field && err.message.startsWith(`${err.field}: `) ? err.message.slice(err.field.length + 2) : err.message;
}

/**
 * Validates every document; the first error wins and names source and field.
 * Two documents of the same kind for the same service are an error too.
 */
export function validateSourcedDocuments(docs: readonly SourcedDocument[]): ValidatedDocument[] {
  const seen = new Map<string, string>();
  return docs.map(({ source, raw }) => {
    let doc: PolicyDocument;
    try {
      doc = validatePolicyDocument(raw);
    } catch (err) {
      if (err instanceof ValidationError) throw new DocumentError(source, err.field, problemOf(err));
      throw err;
    }
    const key = `${doc.kind}/${doc.metadata.service}`;
    const first = seen.get(key);
    if (first !== undefined)
      throw new DocumentError(
        source,
        'metadata.service',
        `a second ${doc.kind} document for "${doc.metadata.service}" (first in ${first})`,
      );
    seen.set(key, source);
    return { source, doc };
  });
}
