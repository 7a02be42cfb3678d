/**
 * Structured logs (pino JSON to stdout, which journald collects). Components take a child
 * logger with their fields bound once; hot paths pass objects, never pre-built strings.
 */
import { pino, type Logger, type LevelWithSilent } from 'pino';

export type { Logger };

export interface LoggerOptions {
  level?: LevelWithSilent;
  name: string;
}

export function createLogger(options: LoggerOptions): Logger {
  return pino({
    name: options.name,
    level: options.level ?? (process.env.DFS_LOG_LEVEL as LevelWithSilent | undefined) ?? 'info',
    base: { pid: process.pid },
    timestamp: pino.stdTimeFunctions.isoTime,
  });
}

/** A logger that discards everything (library use and unit tests). */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
