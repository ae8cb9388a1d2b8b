/**
 * The Costs page's line on the last ledger verification (webviews/src/view-models/costs.ts `verificationView`): what
 * it says when nothing was verified, when the books agree, when calls drifted (fixed or not), and when some calls are
 * only worth a look.
 */
import assert from 'node:assert/strict';
import type { VerificationSummary } from '../../protocol';
import { verificationView } from '../../webviews/src/view-models/costs';

const summary = (over: Partial<VerificationSummary> = {}): VerificationSummary => ({
  verifiedAt: '2026-03-05T14:02:00.000Z',
  from: '2026-02-26T14:02:00.000Z',
  to: '2026-03-05T14:02:00.000Z',
  thresholdUsd: 0.000001,
  checked: 1204,
  matched: 1204,
  drifted: 0,
  missing: 0,
  zeroCost: 0,
  fixed: 0,
  driftUsd: 0,
  keyUsage: null,
  ...over,
});

describe('webviews: the last ledger verification', () => {
  it('never verified: says so and how to verify', () => {
    const v = verificationView(null);
    assert.equal(v.state, 'never');
    assert.match(v.details.join(' '), /crew cost verify/);
  });

  it('the books agree: when, the range and the count, in the shared formats', () => {
    const v = verificationView(summary());
    assert.equal(v.state, 'agrees');
    assert.equal(
      v.headline,
      'Last verified 2026-03-05 14:02 UTC: 1,204 calls from 2026-02-26 to 2026-03-05, 1,204 matching OpenRouter.',
    );
    assert.deepEqual(v.details, []);
  });

  it('drift left as it is reads as drift, with the amount and the way to fix it; fixed drift does not', () => {
    const open = verificationView(summary({ matched: 1202, drifted: 2, driftUsd: 0.0125 }));
    assert.equal(open.state, 'drift');
    assert.deepEqual(open.details, [
      '2 calls drifted (+$0.0125 against the ledger): crew cost verify --fix appends corrections.',
    ]);
    const fixed = verificationView(summary({ matched: 1202, drifted: 2, driftUsd: -0.0125, fixed: 2 }));
    assert.equal(fixed.state, 'agrees');
    assert.deepEqual(fixed.details, ['2 calls drifted (-$0.0125 against the ledger), 2 corrections made.']);
  });

  it("unknown and zero-cost calls are worth a look; the month's key usage is shown beside the ledger's", () => {
    const v = verificationView(
      summary({
        matched: 1203,
        missing: 1,
        zeroCost: 1,
        keyUsage: {
          label: 'ops',
          periods: [
            {
              period: 'month',
              from: '2026-03-01T00:00:00.000Z',
              ledgerUsd: 4.5,
              upstreamUsd: 4.75,
              differenceUsd: 0.25,
            },
          ],
        },
      }),
    );
    assert.equal(v.state, 'look');
    assert.deepEqual(v.details, [
      '1 call unknown to OpenRouter.',
      '1 call with tokens but no cost.',
      'This month: ledger $4.50, OpenRouter\'s key "ops" $4.75.',
    ]);
  });
});
