// The formatting rules every table relies on: money never rounds a small cost away, colour follows
// NO_COLOR / FORCE_COLOR / TTY, bars and alignment ignore escape codes.
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { bar, colorEnabled, colors, money, Output, stripAnsi, visibleLength } from '../../cli/output';

function capture(): { stream: Writable & { isTTY?: boolean }; text: () => string } {
  let out = '';
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      out += chunk.toString();
      cb();
    },
  });
  return { stream, text: () => out };
}

describe('cli/output', () => {
  it('money is written as every client writes it: cents from $1, up to four significant digits below', () => {
    assert.equal(money(0), '$0.00');
    assert.equal(money(0.000123), '$0.000123');
    assert.equal(money(0.0000102), '$0.0000102');
    assert.equal(money(0.000001234567), '$0.000001235');
    assert.equal(money(1e-12), '$0.000000000001');
    assert.equal(money(5), '$5.00');
    assert.equal(money(12.5), '$12.50');
    assert.equal(money(0.1), '$0.10');
    assert.equal(money(1234.56789), '$1,234.57');
    assert.equal(money(-0.25), '-$0.25');
    assert.equal(money(null), '—');
  });

  it('colour: FORCE_COLOR wins, then NO_COLOR, then whether the stream is a terminal; --no-color always wins', () => {
    assert.equal(colorEnabled({ isTTY: true }, {}, undefined), true);
    assert.equal(colorEnabled({ isTTY: false }, {}, undefined), false);
    assert.equal(colorEnabled({ isTTY: true }, { NO_COLOR: '1' }, undefined), false);
    assert.equal(colorEnabled({ isTTY: false }, { FORCE_COLOR: '1' }, undefined), true);
    assert.equal(colorEnabled({ isTTY: true }, { FORCE_COLOR: '0' }, undefined), false);
    assert.equal(colorEnabled({ isTTY: true }, { FORCE_COLOR: '1', NO_COLOR: '1' }, undefined), true);
    assert.equal(colorEnabled({ isTTY: true }, { FORCE_COLOR: '1' }, false), false);
    assert.equal(colorEnabled({ isTTY: true }, { TERM: 'dumb' }, undefined), false);
  });

  it('bar fills in proportion, caps at 100 %, and is coloured by state only when colour is on', () => {
    assert.equal(bar(colors(false), 50, 'ok', 10), '█████░░░░░ 50%');
    assert.equal(bar(colors(false), 250, 'exceeded', 4), '████ 250%');
    assert.equal(bar(colors(false), 0, 'ok', 4), '░░░░ 0%');
    const painted = bar(colors(true), 80, 'warning', 10);
    assert.ok(painted.includes('\u001b[33m████████'), 'yellow for warning');
    assert.equal(visibleLength(painted), '████████░░ 80%'.length);
  });

  it('table pads by visible width (colour codes do not shift columns) and right-aligns numbers', () => {
    const { stream, text } = capture();
    const out = new Output('table', undefined, stream, stream, { FORCE_COLOR: '1' });
    out.table(
      [
        { key: 'name', header: 'NAME', paint: (_r, c) => c.red },
        { key: 'n', header: 'N', align: 'right' },
      ],
      [
        { name: 'a', n: 1 },
        { name: 'longer', n: 100 },
      ],
    );
    const lines = text().trimEnd().split('\n').map(stripAnsi);
    assert.deepEqual(lines, ['NAME      N', 'a         1', 'longer  100']);
  });

  it('list prints one key: value block per record', () => {
    const { stream, text } = capture();
    const out = new Output('list', undefined, stream, stream, {});
    out.list(
      [
        { key: 'id', header: 'ID' },
        { key: 'tags', header: 'TAGS' },
      ],
      [
        { id: 1, tags: ['x', 'y'] },
        { id: 2, tags: [] },
      ],
    );
    assert.equal(text(), 'id: 1\ntags: x,y\n\nid: 2\ntags: \n');
  });
});
