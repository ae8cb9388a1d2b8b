/** Money in integer picodollars: parsing OpenRouter's decimal strings, formatting, and sums that stay exact. */
import assert from 'node:assert/strict';
import { formatPico, parseUsd, picoToUsd, priceTimes, sumPico, toPico } from '../../server/costs/money';

const MAX = Number.MAX_SAFE_INTEGER;

describe('money (picodollars)', () => {
  describe('parseUsd', () => {
    it('parses OpenRouter price strings exactly, including 10 decimals', () => {
      assert.equal(parseUsd('0.0000000375'), 37_500n);
      assert.equal(parseUsd('0.00000015'), 150_000n);
      assert.equal(parseUsd('0.0000003833'), 383_300n);
      assert.equal(parseUsd('0.00012'), 120_000_000n);
      assert.equal(parseUsd('12'), 12_000_000_000_000n);
      assert.equal(parseUsd('0'), 0n);
      assert.equal(parseUsd(' 1.5 '), 1_500_000_000_000n);
    });

    it('parses exponent notation, as strings and as JSON numbers (usage.cost arrives as a number)', () => {
      assert.equal(parseUsd('1e-7'), 100_000n);
      assert.equal(parseUsd(1e-7), 100_000n);
      assert.equal(parseUsd('3.75E-8'), 37_500n);
      assert.equal(parseUsd(0.0000105), 10_500_000n);
      assert.equal(parseUsd('1.23e2'), 123_000_000_000_000n);
      assert.equal(parseUsd(2.5e-10), 250n);
    });

    it('rounds half up past the 12th decimal, and keeps the sign', () => {
      assert.equal(parseUsd('0.0000000000005'), 1n);
      assert.equal(parseUsd('0.00000000000049'), 0n);
      assert.equal(parseUsd('0.0000000000015'), 2n);
      assert.equal(parseUsd('-0.5'), -500_000_000_000n);
    });

    it('refuses what is not an amount', () => {
      for (const bad of ['', '.', 'abc', '1e', '1.2.3', '$1', '1,5'])
        assert.throws(() => parseUsd(bad), RangeError, JSON.stringify(bad));
      assert.throws(() => parseUsd(Number.NaN), RangeError);
      assert.throws(() => parseUsd(Number.POSITIVE_INFINITY), RangeError);
    });
  });

  describe('formatPico', () => {
    it('is the exact decimal, without trailing zeros', () => {
      assert.equal(formatPico(37_500), '0.0000000375');
      assert.equal(formatPico(0), '0');
      assert.equal(formatPico(12_000_000_000_000), '12');
      assert.equal(formatPico(1), '0.000000000001');
      assert.equal(formatPico(-1_500_000_000_000n), '-1.5');
      assert.equal(formatPico(10n ** 30n), '1000000000000000000');
    });

    it('round-trips with parseUsd for prices with up to 12 decimals', () => {
      for (const s of ['0.0000000375', '0.000015', '0.0048', '0.005', '123.456789012345', '0.000000000001'])
        assert.equal(formatPico(parseUsd(s)), s);
    });
  });

  describe('sumPico', () => {
    it('summing 0.1 ten times is exactly 1 (floats are not)', () => {
      let float = 0;
      for (let i = 0; i < 10; i++) float += 0.1;
      assert.notEqual(float, 1, 'the float sum drifts, which is why money is never summed as floats');
      const tenth = toPico('0.1');
      const total = sumPico(Array.from({ length: 10 }, () => tenth));
      assert.equal(total, 1_000_000_000_000n);
      assert.equal(formatPico(total), '1');
      assert.equal(picoToUsd(total), 1);
    });

    it('sums many small 10-decimal prices exactly', () => {
      const price = toPico('0.0000000375');
      const total = sumPico(Array.from({ length: 1_000_000 }, () => price));
      assert.equal(formatPico(total), '0.0375');
    });

    it('stays exact past Number.MAX_SAFE_INTEGER picodollars (about $9,007)', () => {
      assert.equal(sumPico([MAX, 2]), BigInt(MAX) + 2n);
      assert.equal(sumPico([MAX - 2, 4, 1]), BigInt(MAX) + 3n);
      assert.equal(sumPico([MAX, MAX, MAX, 1]), 3n * BigInt(MAX) + 1n);
      const many = Array.from({ length: 10_001 }, (_, i) => MAX - i);
      const expected = many.reduce((a, v) => a + BigInt(v), 0n);
      assert.equal(sumPico(many), expected);
    });

    it('handles negatives (corrections) and the empty sum', () => {
      assert.equal(sumPico([]), 0n);
      assert.equal(sumPico([5, -3, -2]), 0n);
      assert.equal(sumPico([-MAX, -2]), -BigInt(MAX) - 2n);
    });
  });

  it('priceTimes multiplies a per-token price exactly', () => {
    assert.equal(priceTimes('0.0000000375', 3), 112_500);
    assert.equal(formatPico(priceTimes('0.0000025', 1_000_000)), '2.5');
    assert.equal(priceTimes(undefined, 100), 0);
    assert.equal(priceTimes('0.00001', 0), 0);
  });

  it('toPico refuses a single amount it cannot hold exactly', () => {
    assert.equal(toPico('9000'), 9_000_000_000_000_000);
    assert.throws(() => toPico('10000'), RangeError);
  });
});
