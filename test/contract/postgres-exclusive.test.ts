/**
 * Background work on a shared store runs on one instance at a time (PgDatabase.exclusive, an advisory lock):
 * while one instance runs a job, another skips it; afterwards either may run it; a failing job lets go.
 */
import assert from 'node:assert/strict';
import { postgresBackend, type PostgresBackend } from './backends';

describe('PostgreSQL: one instance at a time runs a background job', function () {
  this.timeout(20_000);
  let pg: PostgresBackend;
  beforeEach(async () => (pg = await postgresBackend()));
  afterEach(async () => pg?.close());

  it('skips a job another instance is running, runs it once that one is done, and lets go of a failed one', async () => {
    const other = await pg.peer();
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    const first = pg.db.exclusive('reconcile', async () => {
      await held;
      return 'ran on A';
    });
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(await other.exclusive('reconcile', async () => 'ran on B'), undefined, 'B skips while A runs it');
    assert.equal(await other.exclusive('expiry-sweep', async () => 'other job'), 'other job', 'other jobs are free');
    release();
    assert.equal(await first, 'ran on A');
    assert.equal(await other.exclusive('reconcile', async () => 'ran on B'), 'ran on B');
    await assert.rejects(
      pg.db.exclusive('reconcile', () => Promise.reject(new Error('boom'))),
      /boom/,
    );
    assert.equal(await other.exclusive('reconcile', async () => 'after a failure'), 'after a failure');
  });
});
