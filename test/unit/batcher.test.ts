/**
 * The gate's group commit (server/store/postgres/batcher.ts): a request alone goes at once; those that arrive while
 * a batch runs go together as the next; one bad request does not fail the others; an away database fails all.
 */
import assert from 'node:assert/strict';
import { Batcher } from '../../server/store/postgres/batcher';

class Away extends Error {}

describe('Batcher (group commit for the gate)', () => {
  it('sends a request alone at once, and the ones that arrive meanwhile as one next batch, answers in order', async () => {
    const batches: number[][] = [];
    const b = new Batcher<number, number>(
      async (xs) => {
        batches.push(xs);
        await new Promise((r) => setTimeout(r, 5));
        return xs.map((x) => x * 10);
      },
      () => false,
    );
    const answers = await Promise.all([1, 2, 3, 4].map((x) => b.submit(x)));
    assert.deepEqual(answers, [10, 20, 30, 40]);
    assert.deepEqual(batches, [[1], [2, 3, 4]]);
    assert.equal(await b.submit(5), 50, 'idle again: the next one goes alone');
    assert.deepEqual(batches.at(-1), [5]);
  });

  it('a batch that fails for one request is tried one by one: only that request fails', async () => {
    const b = new Batcher<number, number>(
      async (xs) => {
        await Promise.resolve();
        if (xs.includes(3)) throw new Error('bad request 3');
        return xs;
      },
      () => false,
    );
    const first = b.submit(0);
    const rest = [1, 2, 3, 4].map((x) => b.submit(x).then(String, (e: Error) => e.message));
    await first;
    assert.deepEqual(await Promise.all(rest), ['1', '2', 'bad request 3', '4']);
  });

  it('an away database fails every request of the batch, without retrying them one by one', async () => {
    let calls = 0;
    const b = new Batcher<number, number>(
      async (xs) => {
        calls++;
        await Promise.resolve();
        if (xs.length > 1) throw new Away('the database is away');
        return xs;
      },
      (e) => e instanceof Away,
    );
    const first = b.submit(0);
    const rest = [1, 2, 3].map((x) => b.submit(x).then(String, (e: Error) => e.message));
    await first;
    assert.deepEqual(await Promise.all(rest), Array(3).fill('the database is away'));
    assert.equal(calls, 2);
  });

  it('caps a batch at its size; the rest go in the batches after', async () => {
    const sizes: number[] = [];
    const b = new Batcher<number, number>(
      async (xs) => {
        sizes.push(xs.length);
        await Promise.resolve();
        return xs;
      },
      () => false,
      3,
    );
    await Promise.all(Array.from({ length: 8 }, (_, i) => b.submit(i)));
    assert.deepEqual(sizes, [1, 3, 3, 1]);
  });
});
