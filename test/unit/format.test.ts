/**
 * The dashboards' formatting: amounts keep the digits that matter (calls cost fractions of a cent), percentages,
 * sizes, ratios and UTC dates read the same everywhere.
 */
import assert from 'node:assert/strict';
import {
  counted,
  formatBytes,
  formatEnum,
  formatCount,
  formatDate,
  formatDateTime,
  formatDay,
  formatPercent,
  formatRatio,
  formatScope,
  formatShare,
  formatUsd,
} from '../../protocol/format';

describe('formatting of figures (every client and server message)', () => {
  it('formats dollars with cents from $1 and up to four significant digits below, no trailing zeros past cents', () => {
    assert.equal(formatUsd(0), '$0.00');
    assert.equal(formatUsd(1234.5), '$1,234.50');
    assert.equal(formatUsd(1), '$1.00');
    assert.equal(formatUsd(0.999999), '$1.00');
    assert.equal(formatUsd(0.5), '$0.50');
    assert.equal(formatUsd(0.01), '$0.01');
    assert.equal(formatUsd(0.0123), '$0.0123');
    assert.equal(formatUsd(0.123456), '$0.1235');
    assert.equal(formatUsd(0.000254), '$0.000254');
    assert.equal(formatUsd(0.00003075), '$0.00003075');
    assert.equal(formatUsd(0.0000105), '$0.0000105');
    assert.equal(formatUsd(0.00515), '$0.00515');
    assert.equal(formatUsd(0.005), '$0.005');
    assert.equal(formatUsd(0.000000000001), '$0.000000000001');
    assert.equal(formatUsd(-2.5), '-$2.50');
    assert.equal(formatUsd(Number.NaN), '—');
  });

  it('counts things in the right number and writes enums as words', () => {
    assert.equal(counted(1, 'memory', 'memories'), '1 memory');
    assert.equal(counted(2, 'memory', 'memories'), '2 memories');
    assert.equal(counted(0, 'step'), '0 steps');
    assert.equal(counted(1204, 'step'), '1,204 steps');
    assert.equal(formatEnum('budget_exceeded'), 'budget exceeded');
  });

  it('formats percentages, shares, counts, bytes and ratios', () => {
    assert.equal(formatPercent(127.2), '127.2%');
    assert.equal(formatPercent(0), '0%');
    assert.equal(formatPercent(95.04), '95%');
    assert.equal(formatPercent(95.25), '95.3%');
    assert.equal(formatShare(0.5), '50%');
    assert.equal(formatCount(1234567), '1,234,567');
    assert.equal(formatBytes(623), '623 B');
    assert.equal(formatBytes(2048), '2.0 KB');
    assert.equal(formatBytes(5 * 1024 * 1024), '5.0 MB');
    assert.equal(formatRatio(2.345), '2.3×');
  });

  it('formats days and instants in UTC, whatever the local zone', () => {
    assert.equal(formatDay('2026-03-05'), 'Mar 5');
    assert.equal(formatDay('2026-12-31T23:59:59.000Z'), 'Dec 31');
    assert.equal(formatDateTime('2026-03-05T14:02:59.000Z'), '2026-03-05 14:02 UTC');
    assert.equal(formatDateTime(null), '—');
    assert.equal(formatDate('2026-03-05T23:30:00.000-02:00'), '2026-03-06');
    assert.equal(formatScope('crew:ops'), 'crew ops');
    assert.equal(formatScope('agent:ops/writer'), 'agent ops/writer');
    assert.equal(formatScope('global'), 'global');
  });
});
