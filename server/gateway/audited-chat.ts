/**
 * Gateway calls do not pass through the rpc router, so this gives them what the router gives chat/complete:
 * an audit entry (client kind `gateway`) and per-method metrics.
 */
import type { ChatComplete } from '../../protocol';
import type { Clock } from '../clock';
import type { CallContext, ChatService } from '../costs/chat';
import { summarize, type AuditLog } from '../rpc/audit';
import { DomainError } from '../errors';
import type { Metrics } from '../rpc/metrics';

export function auditedChat(
  chat: ChatService,
  audit: AuditLog,
  metrics: Metrics,
  clock: Clock,
): { complete(p: ChatComplete.Params, ctx?: CallContext, principal?: string): Promise<ChatComplete.Result> } {
  return {
    async complete(p, ctx, principal) {
      const started = performance.now();
      let errorCode: number | null = null;
      try {
        return await chat.complete(p, ctx);
      } catch (e) {
        errorCode = e instanceof DomainError ? e.code : -32603;
        throw e;
      } finally {
        const ms = performance.now() - started;
        metrics.record('gateway/chat.completions', ms, errorCode !== null);
        audit.record({
          at: new Date(clock.now()).toISOString(),
          principal: principal ?? 'server-token',
          clientKind: 'gateway',
          clientId: `gateway:${p.crew ?? '-'}/${p.agent ?? '-'}`,
          method: 'chat/complete',
          summary: summarize('chat/complete', p),
          outcome: errorCode === null ? 'ok' : 'error',
          errorCode,
          durationMs: Math.round(ms * 1000) / 1000,
        });
      }
    },
  };
}
