/**
 * A one-line status on stderr for commands that wait (`setrep -w`, `admin decommission
 * --wait`): "waiting: 3 of 12 files at 2 replicas". Redrawn in place (`\r`, erase to end of
 * line) and cut to the terminal width so it never wraps; erased before the command prints
 * its result or an error. Drawn only when stderr is a terminal and --json is off, so pipes,
 * logs and scripts see nothing of it.
 */
const COLUMNS_DEFAULT = 80;

export interface StatusOutput {
  write(text: string): unknown;
  readonly columns?: number | undefined;
  readonly isTTY?: boolean | undefined;
}

export class StatusLine {
  private shown = false;
  private readonly enabled: boolean;

  constructor(
    json: boolean,
    private readonly output: StatusOutput = process.stderr,
  ) {
    this.enabled = !json && output.isTTY === true;
  }

  show(text: string): void {
    if (!this.enabled) return;
    const width = Math.max(20, this.output.columns ?? COLUMNS_DEFAULT) - 1;
    this.output.write(`\r${text.length > width ? text.slice(0, width) : text}\x1b[K`);
    this.shown = true;
  }

  clear(): void {
    if (!this.shown) return;
    this.output.write('\r\x1b[K');
    this.shown = false;
  }
}
