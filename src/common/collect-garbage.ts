/**
 * A full garbage collection on demand, for the rare moment that leaves a large heap of
 * garbage behind while nothing is being served: a NameNode that just loaded a checkpoint
 * image (the image's bytes, hundreds of MiB at ten million files, and the loader's
 * temporaries). V8 would free them at its own pace; collected before the NameNode listens,
 * its memory after start-up is its namespace, not what it took to read it.
 *
 * Node exposes `gc` only under --expose-gc; the flag set at run time gives a new context
 * the function (v8.setFlagsFromString), without asking every launcher for a node flag.
 */
import v8 from 'node:v8';
import vm from 'node:vm';

let gc: (() => void) | null = null;

/** Collects every generation now; returns the ms it took. */
export function collectGarbage(): number {
  if (gc === null) {
    v8.setFlagsFromString('--expose-gc');
    gc = vm.runInNewContext('gc') as () => void;
  }
  const started = performance.now();
  gc();
  return performance.now() - started;
}
