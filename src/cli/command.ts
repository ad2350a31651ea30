/** A subcommand of `dfs`: its help text and what it does; resolves to the exit code. */
export interface Command {
  readonly summary: string;
  readonly usage: string;
  run(argv: string[]): Promise<number>;
}

/** Exit codes: 0 ok, 1 the operation failed, 2 bad usage or configuration. */
export const EXIT_OK = 0;
export const EXIT_FAILED = 1;
export const EXIT_USAGE = 2;
