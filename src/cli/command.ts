// The contract between the CLI router and each command module (src/cli/commands/<name>.ts).
import type { Argv } from 'yargs';

export interface CliCommand {
  /** yargs command string, e.g. 'verify' or 'handler <operation>'. */
  readonly command: string;
  readonly describe: string;
  /** Declares options and examples. */
  builder(y: Argv): Argv;
  /** Runs the command and resolves to the process exit code (see ExitCode). Throw CvmAttestError for input problems. */
  run(args: Record<string, unknown>): Promise<number>;
}
