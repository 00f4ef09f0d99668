/**
 * A one-line progress bar on stderr (`[#####.....] 12/40`), drawn only when stderr is a
 * terminal: piped or redirected output stays clean lines. Lines printed on stdout while the bar
 * is shown first clear it, then it is redrawn, so the two never share a line on the terminal.
 */

export interface ProgressStream {
  write(text: string): unknown;
  isTTY?: boolean;
}

const WIDTH = 30;

/** The bar's text for `done` of `total`. */
export function renderProgress(done: number, total: number, width = WIDTH): string {
  const filled = total === 0 ? width : Math.min(width, Math.floor((done / total) * width));
  return `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${done}/${total}`;
}

export class ProgressBar {
  readonly #stream: ProgressStream | undefined;
  readonly #total: number;
  #done = 0;

  constructor(stream: ProgressStream, total: number) {
    this.#stream = stream.isTTY ? stream : undefined;
    this.#total = total;
    this.#draw();
  }

  /** Counts `n` more messages done. */
  advance(n = 1): void {
    this.#done += n;
    this.#draw();
  }

  /** Runs `print` (which writes a line elsewhere) with the bar cleared, then redraws it. */
  around(print: () => void): void {
    this.#clear();
    print();
    this.#draw();
  }

  /** Removes the bar for good. */
  finish(): void {
    this.#clear();
  }

  #draw(): void {
    this.#stream?.write(`\r${renderProgress(this.#done, this.#total)}`);
  }

  #clear(): void {
    this.#stream?.write('\r\x1b[2K');
  }
}
