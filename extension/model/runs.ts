/** A crew run as a Markdown document, and its progress as one line (plain data; no `vscode` import). */
import { approvalFigure, type CrewEstimate, type Run, type RunProgress } from '../../protocol';
import { counted, formatCount as count, formatEnum, formatUsd as money } from '../../protocol/format';

export function runDocument(run: Run): string {
  const lines = [
    `# ${run.crew}: ${run.task.split('\n')[0]}`,
    '',
    `**${formatEnum(run.status)}** · ${run.process} · ${counted(run.steps.length, 'step')} · ${count(run.usage.promptTokens)} → ${count(run.usage.completionTokens)} tokens · ${money(run.costUsd)} (exact: $${run.cost})${run.maxCostUsd ? ` of a ${money(run.maxCostUsd)} ceiling` : ''}`,
    '',
    `Run \`${run.id}\`, started ${run.startedAt}${run.finishedAt ? `, finished ${run.finishedAt}` : ''}${run.memoryId ? `; saved as memory \`${run.memoryId}\`` : ''}.`,
  ];
  if (run.error) lines.push('', `> ${run.error.message}`);
  if (run.output !== null) lines.push('', '## Result', '', run.output);
  lines.push('', '## Steps');
  for (const s of run.steps)
    lines.push(
      '',
      `### ${s.index + 1}. ${s.agent} (${s.role}) — ${formatEnum(s.status)}`,
      '',
      `\`${s.model}\` · ${count(s.usage.promptTokens)} → ${count(s.usage.completionTokens)} tokens · ${money(s.costUsd)}${s.costEstimated ? ' (estimated)' : ''}${s.memories.length ? ` · ${counted(s.memories.length, 'memory', 'memories')} in context (${s.memories.filter((m) => m.influenced).length} used)` : ''}`,
      '',
      s.role === 'member' && s.instruction !== run.task ? `_Asked:_ ${s.instruction}\n\n${s.output}` : s.output,
    );
  return lines.join('\n') + '\n';
}

export function progressLine(p: RunProgress): string {
  const totals = `${count(p.tokens)} tokens · ${money(p.costUsd)}`;
  if (p.event === 'started') return 'started';
  if (p.event === 'finished') return `${formatEnum(p.status ?? '')} · ${totals}`;
  const ended =
    p.event !== 'step-finished' || !p.stepStatus || p.stepStatus === 'ok'
      ? ''
      : p.stepStatus === 'budget_exceeded'
        ? ' refused by a budget'
        : p.stepStatus === 'cancelled'
          ? ' cancelled'
          : ' failed';
  return `step ${(p.step ?? 0) + 1}: ${p.agent}${ended} · ${totals}`;
}

/**
 * Whether a run needs the user's yes before it starts, and the words of the question: the estimate's figures, what
 * they rest on, and the limit they are above. Null when the approval figure is within `limitUsd` (or asking is off).
 */
export function approvalQuestion(e: CrewEstimate.Result, limitUsd: number): { message: string; detail: string } | null {
  const f = approvalFigure(e);
  const usd = (v: number | null) => (v === null ? 'unknown' : money(v));
  if (limitUsd <= 0 || f.usd <= limitUsd) return null;
  const figures = [
    `Typical ${usd(e.typicalUsd)}`,
    `high ${usd(e.highUsd)}`,
    `worst case ${money(e.worstCaseUsd)}`,
    ...(e.maxCostUsd !== null ? [`ceiling ${money(e.maxCostUsd)}`] : []),
  ].join(' · ');
  const perAgent = e.agents.map(
    (a) =>
      `${a.agent} (${a.model}): ${a.steps.typical === a.steps.high ? a.steps.typical : `${a.steps.typical}–${a.steps.high}`} ` +
      `call${a.steps.high === 1 ? '' : 's'}, ${a.historyCalls ? `${usd(a.perCallTypicalUsd)} a call typically` : 'no history yet'}`,
  );
  return {
    message: `Run ${e.crew}? Its ${f.what} is ${money(f.usd)}, above your ${money(limitUsd)} limit for asking.`,
    detail: [figures, '', ...perAgent, ...(e.notes.length ? ['', ...e.notes] : [])].join('\n'),
  };
}
