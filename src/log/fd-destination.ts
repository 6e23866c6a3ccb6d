import { writeSync } from 'node:fs';
import type { DestinationStream } from 'pino';

/** How long to wait before writing again to a descriptor that is full (EAGAIN), as sonic-boom does. */
const BUSY_WAIT_MS = 100;
const sleeper = new Int32Array(new SharedArrayBuffer(4));

/**
 * Writes each log line to `fd` at once with write(2), whole, before returning: a request's line is
 * out before its reply, and nothing waits in memory when the process exits.
 *
 * pino.destination({ sync: true }) does the same through sonic-boom, which also counts bytes twice,
 * emits an event and schedules a drain tick for every line: about 4 µs of a cache hit's ~100 µs of
 * JavaScript (issue 15). A full pipe (EAGAIN) is waited out as sonic-boom waits it out; any other
 * error (EPIPE: the reader is gone) is thrown to the caller, as sonic-boom throws it.
 */
export class FdDestination implements DestinationStream {
  constructor(readonly fd: number) {}

  write(line: string): void {
    const len = Buffer.byteLength(line);
    let n = this.#writeOnce(line);
    if (n === len) return;
    const rest = Buffer.from(line);
    while (n < len) n += this.#writeOnce(rest.subarray(n));
  }

  #writeOnce(data: string | Buffer): number {
    for (;;) {
      try {
        // Two calls, one per overload: writeSync takes a string or a Buffer, not the union.
        return typeof data === 'string' ? writeSync(this.fd, data) : writeSync(this.fd, data);
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code !== 'EAGAIN' && code !== 'EBUSY') throw e;
        Atomics.wait(sleeper, 0, 0, BUSY_WAIT_MS);
      }
    }
  }
}
