// `crew webhook add|list|remove` through the real binary and a sandbox daemon: a subscription added from the CLI
// receives a signed budget alert on a local receiver; list never shows the secret; remove takes a unique id prefix;
// bad events and URLs are usage errors; --help has an example.
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { WebhookDelivery, WebhookList, WebhookSubscription } from '../../protocol';
import { crew, crewJson, eventually, Sandbox } from './helpers';

const SECRET = 'cli-webhook-secret-99';

describe('crew webhook (sandbox daemon)', function () {
  this.timeout(30_000);
  const box = new Sandbox();
  let dataDir: string;
  let receiver: http.Server;
  let url: string;
  const got: { raw: string; signature: string | undefined }[] = [];
  const run = (args: string[]) => crew(args, { dataDir });
  const json = <T>(args: string[]) => crewJson<T>(args, { dataDir });

  before(async () => {
    dataDir = await box.dir();
    receiver = http.createServer((req, res) => {
      let raw = '';
      req.setEncoding('utf8');
      req.on('data', (d: string) => (raw += d));
      req.on('end', () => {
        got.push({ raw, signature: req.headers['x-crew-signature'] as string | undefined });
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/webhook/crew`;
    const start = await crew(['--sandbox', 'server', 'start'], { dataDir });
    assert.equal(start.code, 0, start.stderr);
  });
  after(async () => {
    await box.cleanup();
    await new Promise<void>((r) => {
      receiver?.close(() => r());
      receiver?.closeAllConnections();
    });
  });

  let added: WebhookSubscription;

  it('add prints the subscription; the server then POSTs signed deliveries to it', async () => {
    const table = await run(['webhook', 'add', url, '--event', 'budget.alert', '--secret', SECRET]);
    assert.equal(table.code, 0, table.stderr);
    assert.match(table.stdout, /^id\s+[0-9a-f-]{36}$/m);
    assert.match(table.stdout, /^events\s+budget\.alert$/m);
    assert.match(table.stdout, /^signed\s+yes$/m);
    assert.ok(!table.stdout.includes(SECRET));

    const { run: r, json: res } = await json<WebhookSubscription>([
      'webhook',
      'add',
      'http://localhost:5678/webhook/runs',
      '--event',
      'run.finished,budget.alert',
      '--event',
      'run.finished',
      '--crew',
      'ops',
      '--description',
      'n8n runs',
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(res.events, ['run.finished', 'budget.alert']);
    assert.equal(res.crew, 'ops');
    assert.equal(res.signed, false);
    added = res;

    const limit = await run(['budget', 'set', '--scope', 'global', '--limit', '0.000001', '--period', 'daily']);
    assert.equal(limit.code, 0, limit.stderr);
    const chat = await run(['chat', '--model', 'openai/gpt-4o-mini', 'Say hello']);
    assert.ok(chat.code === 0 || chat.code === 3, chat.stderr);
    await eventually(async () => assert.ok(got.length > 0, 'a delivery'), 400);
    const delivery = JSON.parse(got[0]!.raw) as WebhookDelivery;
    assert.equal(delivery.event, 'budget.alert');
    assert.equal(got[0]!.signature, `sha256=${createHmac('sha256', SECRET).update(got[0]!.raw).digest('hex')}`);
  });

  it('list shows every subscription, never the secret', async () => {
    const table = await run(['webhook', 'list']);
    assert.equal(table.code, 0, table.stderr);
    assert.match(table.stdout, /^ID\s+URL\s+EVENTS\s+CREW\s+BUDGET\s+SIGNED/m);
    assert.match(table.stdout, /run\.finished,budget\.alert\s+ops\s+all\s+no\s+\S+.*n8n runs$/m);
    assert.ok(!table.stdout.includes(SECRET));
    const { json: res } = await json<WebhookList.Result>(['webhook', 'list']);
    assert.equal(res.webhooks.length, 2);
    assert.ok(!JSON.stringify(res).includes(SECRET));
  });

  it('remove takes an id or a unique prefix', async () => {
    const r = await run(['webhook', 'remove', added.id.slice(0, 8)]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, `removed webhook ${added.id}\n`);
    const { json: res } = await json<WebhookList.Result>(['webhook', 'list']);
    assert.deepEqual(
      res.webhooks.map((w) => w.url),
      [url],
    );
    const again = await run(['webhook', 'remove', added.id]);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /not found/);
  });

  it('refuses an unknown event or a non-http URL as usage errors; --help has an example', async () => {
    const event = await run(['webhook', 'add', url, '--event', 'budget.exceeded']);
    assert.equal(event.code, 2, event.stderr);
    assert.match(event.stderr, /budget\.alert or run\.finished/);
    const noEvent = await run(['webhook', 'add', url]);
    assert.equal(noEvent.code, 2, noEvent.stderr);
    const badUrl = await run(['webhook', 'add', 'ftp://example.com/x', '--event', 'run.finished']);
    assert.equal(badUrl.code, 2, badUrl.stderr);
    const help = await run(['webhook', 'add', '--help']);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /Examples?:\n\s+crew webhook add http:\/\/localhost:5678\/webhook\/crew/);
  });
});
