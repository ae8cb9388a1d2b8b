/**
 * Money is counted in integer picodollars (1e-12 USD). OpenRouter quotes prices per token with at most ~10
 * decimals, so every price and every tokens × price product is an exact integer here; float dollars are only
 * produced at the edge (JSON results), never summed.
 *
 * A picodollar amount is a JS number while it is a safe integer (≤ ~$9,007); sums that could exceed that
 * use `sumPico`, which falls back to BigInt.
 */
import { formatUsd } from '../../protocol/format';

export type Pico = number;

const SCALE_DIGITS = 12;
const SCALE = 10n ** BigInt(SCALE_DIGITS);

/** Parses a decimal USD amount ("0.0000000375", "1e-7", 0.00012) into picodollars, rounding half up past 1e-12. */
export function parseUsd(value: string | number): bigint {
  const text = typeof value === 'number' ? numberToDecimal(value) : value.trim();
  const m = /^(-)?(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?$/.exec(text);
  if (!m || (m[2] === '' && (m[3] ?? '') === '')) throw new RangeError(`not a decimal amount: "${text}"`);
  const negative = m[1] === '-';
  let digits = (m[2] ?? '') + (m[3] ?? '');
  const exponent = Number(m[4] ?? 0) - (m[3] ?? '').length + SCALE_DIGITS;
  if (digits === '') digits = '0';
  let result: bigint;
  if (exponent >= 0) {
    result = BigInt(digits) * 10n ** BigInt(exponent);
  } else {
    const cut = -exponent;
    const keep = digits.length > cut ? digits.slice(0, digits.length - cut) : '0';
    const dropped = digits.length > cut ? digits.slice(digits.length - cut) : digits.padStart(cut, '0');
    result = BigInt(keep) + (dropped[0] !== undefined && dropped[0] >= '5' ? 1n : 0n);
  }
  return negative ? -result : result;
}

/**
 * Prices are a few hundred distinct strings, each parsed on every call's worst case and cost: a parse is
 * remembered. Bounded, since amounts from elsewhere pass here too.
 */
const parsedPrices = new Map<string, Pico>();
const MAX_PARSED_PRICES = 4096;

/** Picodollars as a JS number; throws if it would lose precision. */
export function toPico(value: string | number): Pico {
  if (typeof value === 'string') {
    const known = parsedPrices.get(value);
    if (known !== undefined) return known;
  }
  const big = parseUsd(value);
  const n = Number(big);
  if (!Number.isSafeInteger(n)) throw new RangeError(`amount too large for one call: ${String(value)} USD`);
  if (typeof value === 'string') {
    if (parsedPrices.size >= MAX_PARSED_PRICES) parsedPrices.clear();
    parsedPrices.set(value, n);
  }
  return n;
}

/** Exact decimal string of a picodollar amount, without trailing zeros ("0.000123", "12", "0"). */
export function formatPico(pico: Pico | bigint): string {
  const big = typeof pico === 'bigint' ? pico : BigInt(pico);
  const negative = big < 0n;
  const abs = negative ? -big : big;
  const whole = abs / SCALE;
  const frac = (abs % SCALE).toString().padStart(SCALE_DIGITS, '0').replace(/0+$/, '');
  return `${negative ? '-' : ''}${whole.toString()}${frac ? '.' + frac : ''}`;
}

/** An amount in a message, written as every client writes it (protocol/format.ts). */
export function usdText(pico: Pico | bigint): string {
  return formatUsd(picoToUsd(pico));
}

/** USD as a JS number for results; exact to the float's precision, never summed again. */
export function picoToUsd(pico: Pico | bigint): number {
  const n = Number(pico);
  // Dividing an exactly-held integer by 1e12 is correctly rounded, so it equals parsing the exact decimal; only
  // amounts beyond 2^53 picodollars need the string route.
  return Number.isSafeInteger(n) ? n / 1e12 : Number(formatPico(pico));
}

export function usdToPico(usd: number): Pico {
  return toPico(usd);
}

/** Sums picodollar amounts exactly, however large the total. */
export function sumPico(values: Iterable<Pico>): bigint {
  let fast = 0;
  let big = 0n;
  for (const v of values) {
    // Checked before it is kept: a float sum past 2^53 may already be rounded, so `fast` only ever holds exact sums.
    const next = fast + v;
    if (next > Number.MAX_SAFE_INTEGER || next < -Number.MAX_SAFE_INTEGER) {
      big += BigInt(fast);
      fast = v;
    } else fast = next;
  }
  return big + BigInt(fast);
}

/** Price per token (string, USD) × tokens, in picodollars, exact. */
export function priceTimes(pricePerToken: string | undefined, tokens: number): Pico {
  if (!pricePerToken || tokens === 0) return 0;
  return toPico(pricePerToken) * tokens;
}

function numberToDecimal(n: number): string {
  if (!Number.isFinite(n)) throw new RangeError(`not a finite amount: ${n}`);
  // String() gives the shortest round-tripping form, possibly in exponent notation, which parseUsd accepts.
  return String(n);
}
