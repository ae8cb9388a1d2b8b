/** The extension's tail of the daemon's log: it must reach the output channel on a first start too. */
import assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type * as vscode from 'vscode';
import { LogTail } from '../../extension/log-tail';
import { eventually } from '../helpers/harness';

function channel(): { output: vscode.OutputChannel; text: () => string } {
  let text = '';
  const output = { append: (s: string) => void (text += s) } as unknown as vscode.OutputChannel;
  return { output, text: () => text };
}

describe('extension: log tail', () => {
  let dir: string;
  beforeEach(async () => (dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'crew-logtail-'))));
  afterEach(() => fsp.rm(dir, { recursive: true, force: true }));

  it('shows a log that did not exist yet when the tail began (a first start), and what is appended after', async () => {
    const file = path.join(dir, 'server.log');
    const c = channel();
    const tail = new LogTail(file, c.output);
    try {
      await new Promise((r) => setTimeout(r, 300));
      await fsp.writeFile(file, 'crew-server starting\n');
      await eventually(() => c.text() === 'crew-server starting\n', 'the first line in the channel');
      await fsp.appendFile(file, 'listening\n');
      await eventually(() => c.text() === 'crew-server starting\nlistening\n', 'the appended line');
    } finally {
      tail.dispose();
    }
  });

  it('starts from the recent end of a long log', async () => {
    const file = path.join(dir, 'server.log');
    await fsp.writeFile(file, 'x'.repeat(100_000) + '\nlast line\n');
    const c = channel();
    const tail = new LogTail(file, c.output);
    try {
      await eventually(() => c.text().endsWith('last line\n'), 'the end of the log');
      assert.ok(c.text().length <= 16 * 1024, `showed ${c.text().length} bytes`);
    } finally {
      tail.dispose();
    }
  });
});
