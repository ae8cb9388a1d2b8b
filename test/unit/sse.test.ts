import { strict as assert } from 'node:assert';
import { SseReader } from '../../server/openrouter/sse';

describe('SseReader (OpenRouter-style Server-Sent Events)', () => {
  const stream =
    ': OPENROUTER PROCESSING\n\n' +
    'data: {"a":1}\n\n' +
    'event: ignored\r\ndata: {"b":\r\ndata: 2}\r\n\r\n' +
    ': OPENROUTER PROCESSING\n\n' +
    'data:{"c":3}\n\n' +
    'data: [DONE]\n\n';
  const expected = ['{"a":1}', '{"b":\n2}', '{"c":3}', '[DONE]'];

  it('yields each data event, skipping comments and other fields, whole or cut at any byte', () => {
    for (let cut = 0; cut <= stream.length; cut++) {
      const events: string[] = [];
      const r = new SseReader((d) => events.push(d));
      r.push(stream.slice(0, cut));
      r.push(stream.slice(cut));
      assert.deepEqual(events, expected, `cut at ${cut}`);
    }
    const one: string[] = [];
    const r = new SseReader((d) => one.push(d));
    for (const ch of stream) r.push(ch);
    assert.deepEqual(one, expected);
  });

  it('holds an event without its blank line back (a cut stream yields no half event)', () => {
    const events: string[] = [];
    new SseReader((d) => events.push(d)).push('data: {"a":1}\n\ndata: {"b":');
    assert.deepEqual(events, ['{"a":1}']);
  });
});
