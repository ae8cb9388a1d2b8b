/**
 * Shows the daemon's log (`server.log` in the data directory, written by whichever client started it) in the
 * output channel: the recent tail once, then what is appended, as it is appended (fs.watch, no polling loop).
 */
import fs from 'node:fs';
import type * as vscode from 'vscode';

const INITIAL_BYTES = 16 * 1024;
const MISSING_RETRY_MS = 250;

export class LogTail {
  private offset = 0;
  private watcher: fs.FSWatcher | undefined;
  private reading = false;
  private again = false;
  private disposed = false;
  private retry: NodeJS.Timeout | undefined;

  constructor(
    private readonly file: string,
    private readonly output: vscode.OutputChannel,
  ) {
    try {
      const size = fs.statSync(file).size;
      this.offset = Math.max(0, size - INITIAL_BYTES);
    } catch {
      // Not there yet: the daemon creates it when it starts.
    }
    this.watch();
    this.read();
  }

  private watch(): void {
    try {
      this.watcher = fs.watch(this.file, () => this.read());
      this.watcher.on('error', () => undefined);
    } catch {
      // Retried on the next read (the file appears when the daemon starts).
    }
  }

  private read(): void {
    if (this.disposed) return;
    if (this.reading) {
      this.again = true;
      return;
    }
    this.reading = true;
    fs.open(this.file, 'r', (err, fd) => {
      if (err) {
        // Not there yet (a first start: the daemon creates it after we begin to tail): look again shortly, since
        // there is no file to watch until then.
        if (!this.watcher && !this.disposed) this.retry = setTimeout(() => this.read(), MISSING_RETRY_MS);
        return this.done();
      }
      if (!this.watcher) this.watch();
      fs.fstat(fd, (e2, st) => {
        if (e2) return fs.close(fd, () => this.done());
        if (st.size < this.offset) this.offset = 0; // rotated or truncated
        const len = st.size - this.offset;
        if (len <= 0) return fs.close(fd, () => this.done());
        const buf = Buffer.alloc(len);
        fs.read(fd, buf, 0, len, this.offset, (e3, n) => {
          fs.close(fd, () => undefined);
          if (!e3 && n > 0) {
            this.offset += n;
            this.output.append(buf.subarray(0, n).toString('utf8'));
          }
          this.done();
        });
      });
    });
  }

  private done(): void {
    this.reading = false;
    if (this.again) {
      this.again = false;
      this.read();
    }
  }

  dispose(): void {
    this.disposed = true;
    clearTimeout(this.retry);
    this.watcher?.close();
  }
}
