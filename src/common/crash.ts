/**
 * The daemons' last line of defence: an exception or a rejection nobody handled is our own
 * bug (a failed assertion, see protocol/errors.ts, or a throw we did not foresee). The
 * process logs it at fatal with its stack and exits non-zero at once, without stopping
 * cleanly: a clean stop would run more code on state that just broke an invariant. systemd
 * (`Restart=on-failure`) or the local cluster's supervisor starts it again, and everything
 * it acknowledged is already on disk (edit log group commit, finalized replicas).
 *
 * Exit status 70 (EX_SOFTWARE, sysexits.h) says "internal software error", so an operator
 * can tell a bug from a refused configuration (1) or a failed disk (2).
 */
import type { Logger } from './logger.js';

export const EXIT_BUG = 70;

let installed = false;

export function crashOnUncaught(log: Logger): void {
  if (installed) return;
  installed = true;
  const die = (err: unknown, origin: string): void => {
    try {
      log.fatal({ err, origin }, 'internal error; exiting');
    } finally {
      process.exit(EXIT_BUG);
    }
  };
  process.on('uncaughtException', (err) => die(err, 'uncaughtException'));
  process.on('unhandledRejection', (reason) => die(reason, 'unhandledRejection'));
}
