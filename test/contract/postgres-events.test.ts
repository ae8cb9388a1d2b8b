/**
 * The event bridge (server/store/postgres/event-bridge.ts) between two instances on one real database: what one
 * raises reaches the other in order, many events to a NOTIFY; an instance never hears its own events back; a
 * payload of one event, as the first release sent it, is still read; an event too big for NOTIFY stays local.
 */
import assert from 'node:assert/strict';
import { EVENTS_CHANNEL, PgEventBridge } from '../../server/store/postgres/event-bridge';
import { eventually } from '../helpers';
import { postgresBackend, quietLog, type PostgresBackend } from './backends';

describe('PostgreSQL event bridge between two instances', function () {
  this.timeout(30_000);
  let pg: PostgresBackend;
  let a: PgEventBridge;
  let b: PgEventBridge;
  const heardA: [string, unknown][] = [];
  const heardB: [string, unknown][] = [];

  beforeEach(async () => {
    heardA.length = 0;
    heardB.length = 0;
    pg = await postgresBackend();
    a = new PgEventBridge(pg.db, 'instance-a', quietLog);
    b = new PgEventBridge(await pg.peer(), 'instance-b', quietLog);
    await a.start((m, p) => heardA.push([m, p]));
    await b.start((m, p) => heardB.push([m, p]));
  });
  afterEach(async () => {
    a?.stop();
    b?.stop();
    await pg?.close();
  });

  it('500 events raised at once on A reach B in order, in far fewer NOTIFYs; A hears none of its own', async () => {
    let notifies = 0;
    const query = pg.db.query.bind(pg.db);
    pg.db.query = (sql: string, params?: unknown[]) => {
      if (sql.includes('pg_notify')) notifies += (params![1] as unknown[]).length;
      return query(sql, params);
    };
    for (let i = 0; i < 500; i++) a.send('usage/recorded', { n: i, model: 'm/x', costUsd: '0.000001' });
    await eventually(() => heardB.length >= 500, '500 events on B');
    assert.equal(heardB.length, 500);
    assert.deepEqual(
      heardB.map(([, p]) => (p as { n: number }).n),
      Array.from({ length: 500 }, (_, i) => i),
    );
    assert.ok(heardB.every(([m]) => m === 'usage/recorded'));
    assert.ok(notifies < 50, `${notifies} NOTIFYs for 500 events`);
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(heardA.length, 0);
  });

  it('reads a one-event payload of the first release, and keeps an event too big for NOTIFY local', async () => {
    await pg.db.query('select pg_notify($1, $2)', [
      EVENTS_CHANNEL,
      JSON.stringify({ instance: 'old-instance', method: 'budget/alert', params: { kind: 'threshold' } }),
    ]);
    await eventually(() => heardB.length >= 1, 'the old payload on B');
    assert.deepEqual(heardB, [['budget/alert', { kind: 'threshold' }]]);
    b.send('run/progress', { delta: 'x'.repeat(9_000) });
    b.send('run/progress', { delta: 'small' });
    await eventually(() => heardA.length >= 2, 'two events on A');
    assert.equal(heardA.length, 2);
    assert.deepEqual(heardA[1], ['run/progress', { delta: 'small' }]);
  });

  it('packs by bytes, not characters: events of multi-byte text arrive whole', async () => {
    const text = '漢'.repeat(1_000); // 3,000 bytes in 1,000 characters
    for (let i = 0; i < 20; i++) a.send('run/progress', { n: i, delta: text });
    await eventually(() => heardB.length >= 20, '20 multi-byte events on B');
    assert.deepEqual(
      heardB.map(([, p]) => (p as { n: number; delta: string }).n),
      Array.from({ length: 20 }, (_, i) => i),
    );
    assert.ok(heardB.every(([, p]) => (p as { delta: string }).delta === text));
  });
});
