/**
 * How the CLI reports failure: one clear line on stderr and a non-zero exit
 * code. Commands throw CliError; main.ts prints it.
 */
import { messageOf, ValidationError } from '@weft/shared';

export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
    this.name = 'CliError';
  }
}

/** Turns a flag that failed validation into a usage error (exit code 2). */
export function usageError(err: unknown): CliError {
  if (err instanceof ValidationError) return new CliError(err.message, 2);
  return new CliError(messageOf(err), 1);
}

/** Parses a flag with a @weft/shared validator, turning its error into a usage error. */
export function parseFlag<T>(parse: () => T): T {
  try {
    return parse();
  } catch (err) {
    throw usageError(err);
  }
}
