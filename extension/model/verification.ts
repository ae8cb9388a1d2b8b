/** What a ledger verification found, in one sentence for a notification (plain data; no `vscode` import). */
import { DEFAULT_VERIFY_DAYS, type CostVerify } from '../../protocol/verify';
import { counted } from '../../protocol/format';

export function verificationSummary(r: CostVerify.Result): string {
  if (r.checked === 0) return `No calls with a generation id to check in the last ${DEFAULT_VERIFY_DAYS} days.`;
  const parts = [`${counted(r.checked, 'call')} checked against OpenRouter: ${r.matched} matched`];
  if (r.drifted.length) parts.push(`${r.drifted.length} drifted${r.fixed ? ` (${r.fixed} corrected)` : ''}`);
  if (r.missing.length) parts.push(`${r.missing.length} unknown to OpenRouter`);
  if (r.zeroCost.length) parts.push(`${r.zeroCost.length} with tokens but no cost`);
  const tail = r.drifted.length && !r.fixed ? '. Correct them with: crew cost verify --fix' : '.';
  return parts.join(', ') + tail;
}
