import type { DestinationStream } from 'pino';

/**
 * Collects log lines and hands them to `out` once per event-loop turn. Under load a turn carries
 * many requests, so one write() syscall carries many lines instead of one each; alone, a line waits
 * at most until the current turn ends. Whatever is pending is written on process exit.
 */
export class BatchedDestination implements DestinationStream {
  #pending: string[] = [];
  #scheduled = false;
  readonly #flush = (): void => this.flush();

  constructor(private readonly out: DestinationStream) {
    process.on('exit', this.#flush);
  }

  write(line: string): void {
    this.#pending.push(line);
    if (!this.#scheduled) {
      this.#scheduled = true;
      setImmediate(this.#flush);
    }
  }

  flush(): void {
    this.#scheduled = false;
    if (this.#pending.length === 0) return;
    const data = this.#pending.length === 1 ? this.#pending[0]! : this.#pending.join('');
    this.#pending = [];
    this.out.write(data);
  }
}
