/**
 * The protocol contract is changed only on purpose: the method table (name + mutating), the notifications and
 * the protocol version are snapshotted in __snapshots__/methods.json. Every method is documented in
 * protocol/README.md.
 *
 *   UPDATE_SNAPSHOT=1 npx mocha test/unit/contract.test.ts   # after a deliberate change
 */
import assert from 'node:assert/strict';
import { existsSync, promises as fsp } from 'node:fs';
import path from 'node:path';
import { METHODS, NOTIFICATIONS, PROTOCOL_VERSION } from '../../protocol';

const SNAPSHOT = path.join(__dirname, '__snapshots__', 'methods.json');
const README = path.resolve(__dirname, '..', '..', 'protocol', 'README.md');

interface Contract {
  protocolVersion: string;
  methods: { method: string; mutating: boolean }[];
  notifications: string[];
}

function current(): Contract {
  return {
    protocolVersion: PROTOCOL_VERSION,
    methods: Object.entries(METHODS)
      .map(([method, spec]) => ({ method, mutating: spec.mutating }))
      .sort((a, b) => a.method.localeCompare(b.method)),
    notifications: [...NOTIFICATIONS].sort(),
  };
}

describe('protocol contract', () => {
  it('matches the snapshot of methods, notifications and PROTOCOL_VERSION', async () => {
    const now = current();
    // One method per line (as prettier formats it), so a change reads as a one-line diff in review.
    const text =
      `{\n  "protocolVersion": ${JSON.stringify(now.protocolVersion)},\n  "methods": [\n` +
      now.methods.map((m) => `    { "method": ${JSON.stringify(m.method)}, "mutating": ${m.mutating} }`).join(',\n') +
      `\n  ],\n  "notifications": [${now.notifications.map((n) => JSON.stringify(n)).join(', ')}]\n}\n`;
    if (process.env.UPDATE_SNAPSHOT === '1') {
      await fsp.mkdir(path.dirname(SNAPSHOT), { recursive: true });
      await fsp.writeFile(SNAPSHOT, text);
      return;
    }
    const saved = existsSync(SNAPSHOT) ? (JSON.parse(await fsp.readFile(SNAPSHOT, 'utf8')) as Contract) : undefined;
    assert.deepEqual(
      now,
      saved,
      'protocol changed: update the snapshot deliberately with UPDATE_SNAPSHOT=1 and bump PROTOCOL_VERSION when incompatible',
    );
  });

  it('method names are domain/verb; notifications are method names or $/…', () => {
    for (const m of Object.keys(METHODS)) assert.match(m, /^[a-z]+\/[a-z][A-Za-z]*$/, m);
    for (const n of NOTIFICATIONS) assert.match(n, /^(\$\/[a-z]+|[a-z]+\/[a-z][A-Za-z]*)$/, n);
  });

  it('every method and notification is documented in protocol/README.md', async function () {
    if (!existsSync(README)) {
      // protocol/README.md is written by another change; until it exists this check is pending, not passing.
      this.skip();
    }
    const doc = await fsp.readFile(README, 'utf8');
    const missing = [...Object.keys(METHODS), ...NOTIFICATIONS].filter((m) => !doc.includes(`\`${m}\``));
    assert.deepEqual(missing, [], `protocol/README.md does not document: ${missing.join(', ')}`);
  });
});
