// The run's prompt building and the lead's answer parsing (server/runs/prompts.ts): pure functions.
import assert from 'node:assert/strict';
import type { Agent } from '../../protocol';
import { contentWords, influenced, leadMessages, memberMessages, parseLeadReply } from '../../server/runs/prompts';

const agent = (name: string, role = ''): Agent => ({
  name,
  role,
  model: 'openai/gpt-4o-mini',
  systemPrompt: '',
  temperature: null,
  maxTokens: null,
  budget: null,
  promptCache: false,
});
const members = [agent('researcher', 'finds facts'), agent('Writer', 'drafts')];

describe('parseLeadReply', () => {
  it('reads a delegation by member name (any case), with prose or code fences around the JSON', () => {
    for (const reply of [
      '{"delegate": "researcher", "instruction": "find facts"}',
      'Sure. ```json\n{"delegate": "RESEARCHER", "instruction": "find facts"}\n``` done',
      'I think {"delegate":"researcher","instruction":"find facts","why":{"note":"a } in a string"}} works',
    ]) {
      const d = parseLeadReply(reply, members);
      assert.equal(d.kind, 'delegate', reply);
      if (d.kind === 'delegate') {
        assert.equal(d.member.name, 'researcher');
        assert.equal(d.instruction, 'find facts');
      }
    }
  });

  it('reads a final answer; a reply without JSON is the answer itself', () => {
    assert.deepEqual(parseLeadReply('{"final": " Done. "}', members), { kind: 'final', answer: 'Done.' });
    assert.deepEqual(parseLeadReply('  The answer is 42. ', members), { kind: 'final', answer: 'The answer is 42.' });
  });

  it('names the problem with an unknown member, a missing instruction or neither key', () => {
    const d1 = parseLeadReply('{"delegate": "boss", "instruction": "x"}', members);
    assert.deepEqual(d1, { kind: 'invalid', problem: 'there is no member named "boss" (members: researcher, Writer)' });
    const d2 = parseLeadReply('{"delegate": "writer"}', members);
    assert.equal(d2.kind, 'invalid');
    assert.match((d2 as { problem: string }).problem, /"instruction" for Writer is missing/);
    assert.equal(parseLeadReply('{"thoughts": "hmm"}', members).kind, 'invalid');
  });
});

describe('influenced', () => {
  const memory = 'Postgres partial indexes made the nightly revenue report ten times faster';
  it("counts only the memory's own words, not those the agent was asked about", () => {
    const asked = contentWords('Write about the faster nightly revenue report');
    assert.equal(influenced(memory, asked, contentWords('The nightly revenue report is faster now.')), false);
    assert.equal(influenced(memory, asked, contentWords('We added Postgres partial indexes.')), true);
  });
  it('needs more hits from a longer memory', () => {
    const long = 'alpha bravo charlie delta echo foxtrot golf hotel india juliet kilo lima';
    assert.equal(influenced(long, new Set(), contentWords('alpha bravo')), false);
    assert.equal(influenced(long, new Set(), contentWords('alpha bravo charlie')), true);
  });
  it('ignores short and common words', () => {
    assert.deepEqual([...contentWords('The cat would have been with them')], []);
  });
});

describe('run prompts', () => {
  it('put memories in the system message and the task and earlier work in the user message', () => {
    const [sys, mem, user] = memberMessages({
      agent: { ...agent('writer', 'drafts'), systemPrompt: 'Be brief.' },
      crew: 'launch',
      task: 'Announce v2',
      instruction: null,
      prior: [{ agent: 'researcher', role: 'finds facts', output: 'v2 is faster' }],
      memories: [{ content: 'Users love speed' }],
    });
    assert.equal(sys!.role, 'system');
    assert.match(sys!.content, /^Be brief\.\n\nYou are writer, drafts, in the crew "launch"\./);
    assert.doesNotMatch(sys!.content, /Users love speed/, 'the first system message stays the same from call to call');
    assert.deepEqual(mem, {
      role: 'system',
      content: 'What the crew remembers (use it where it helps):\n- Users love speed',
    });
    assert.equal(
      user!.content,
      'Task: Announce v2\n\nWork so far:\n\n### researcher (finds facts)\nv2 is faster\n\nDo your part as drafts.',
    );
  });
  it("tell the lead its members, the answer format, how many delegations are left and the last answer's problem", () => {
    const [sys, user] = leadMessages({
      lead: agent('boss'),
      members,
      crew: 'launch',
      task: 'Announce v2',
      prior: [],
      memories: [],
      stepsLeft: 0,
      problem: 'there is no member named "x"',
    });
    assert.match(sys!.content, /- researcher: finds facts\n- Writer: drafts/);
    assert.match(sys!.content, /\{"final": "<your answer to the task>"\}/);
    assert.match(user!.content, /No delegations are left/);
    assert.match(user!.content, /could not be followed: there is no member named "x"$/);
  });
});
