/**
 * Runs a suite's body and then its teardown whatever happens, Ctrl-C and SIGTERM
 * included, so an interrupted benchmark leaves no daemon running and no temp dir behind.
 * On a signal the teardown runs once and the process exits 130; a teardown already under
 * way is not started again.
 */
export async function withTeardown<T>(teardown: () => Promise<void>, body: () => Promise<T>): Promise<T> {
  let done: Promise<void> | null = null;
  const once = (): Promise<void> => (done ??= teardown());
  const onSignal = (): void => {
    void once().finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    return await body();
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await once();
  }
}
