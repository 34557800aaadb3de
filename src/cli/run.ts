/**
 * The CLI's outermost frame: runs a command's main function and turns its outcome into an exit
 * status. Diagnosed errors (SalipError) print one readable line and exit 2; anything else is a
 * bug and prints its stack and exits 1.
 */
import { isSalipError } from '../core/errors.js';

/** Where runCli reports; injected by tests, process.stderr / process.exitCode by default. */
export interface CliIo {
  stderr: { write(text: string): unknown };
  /** Receives the exit status. The default sets process.exitCode so buffered stdout is flushed. */
  exit: (code: number) => void;
}

/** Exit status for a SalipError (bad input, missing file, ...). */
export const EXIT_USER_ERROR = 2;
/** Exit status for an unexpected error (a bug). */
export const EXIT_INTERNAL_ERROR = 1;

/**
 * Runs `main(argv)` and exits with its status. A SalipError prints `salip: <CODE>: <message>`
 * (plus stack and causes with --debug) and exits 2; any other error prints its stack and exits 1.
 * Resolves to the exit status given to io.exit.
 */
export async function runCli(main: (argv: string[]) => Promise<number>, argv: string[], io: Partial<CliIo> = {}): Promise<number> {
  const stderr = io.stderr ?? process.stderr;
  const exit =
    io.exit ??
    ((code: number) => {
      process.exitCode = code;
    });
  const debug = hasDebugFlag(argv);
  let code: number;
  try {
    const status = await main(argv);
    code = Number.isInteger(status) ? status : EXIT_INTERNAL_ERROR;
  } catch (error) {
    if (isSalipError(error)) {
      stderr.write(`salip: ${error.code}: ${error.message}\n`);
      if (debug) stderr.write(describeForDebug(error));
      code = EXIT_USER_ERROR;
    } else {
      stderr.write(`salip: internal error (please report it):\n${describeForDebug(error)}`);
      code = EXIT_INTERNAL_ERROR;
    }
  }
  exit(code);
  return code;
}

/** True when --debug appears before any `--` terminator. */
function hasDebugFlag(argv: readonly string[]): boolean {
  for (const arg of argv) {
    if (arg === '--') return false;
    if (arg === '--debug' || arg === '--debug=true') return true;
  }
  return false;
}

/** The stack of an error and of each error in its cause chain. */
function describeForDebug(error: unknown): string {
  const lines: string[] = [];
  let current: unknown = error;
  for (let depth = 0; current !== undefined && depth < 8; depth++) {
    const text = current instanceof Error ? (current.stack ?? `${current.name}: ${current.message}`) : String(current);
    lines.push(depth === 0 ? text : `Caused by: ${text}`);
    current = current instanceof Error ? current.cause : undefined;
  }
  return lines.join('\n') + '\n';
}
