/** For tests that drive the gateway with the real `openai` SDK: the APIError a call must fail with. */
import assert from 'node:assert/strict';
import { APIError } from 'openai';

export async function apiFailure(p: Promise<unknown>): Promise<APIError> {
  const e = await p.then(
    () => assert.fail('the call succeeded'),
    (x: unknown) => x,
  );
  assert.ok(e instanceof APIError, `expected an APIError, got ${String(e)}`);
  return e;
}
