// What every handler command and the worker run with: the agent's paths, our state paths, the
// process environment, the logger, the clock, and how to run this CLI again (to start the worker).
import type { HandlerEnvironment } from './handler-environment.js';
import type { ExtLogger } from './logger.js';
import { statePaths, type StatePaths } from './state.js';

export interface HandlerContext {
  readonly env: HandlerEnvironment;
  readonly paths: StatePaths;
  readonly processEnv: NodeJS.ProcessEnv;
  readonly logger: ExtLogger;
  readonly now: () => Date;
  /** argv that runs this CLI again (`node [execArgv] <entry>`), to start the worker. */
  readonly self: { readonly execPath: string; readonly args: readonly string[] };
}

export function makeContext(env: HandlerEnvironment, logger: ExtLogger, processEnv: NodeJS.ProcessEnv = process.env): HandlerContext {
  return {
    env,
    logger,
    processEnv,
    paths: statePaths(env.extensionDir),
    now: () => new Date(),
    self: { execPath: process.execPath, args: [...process.execArgv, process.argv[1] ?? ''] },
  };
}
