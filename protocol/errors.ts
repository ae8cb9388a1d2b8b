/**
 * Error codes. JSON-RPC reserves -32768..-32000 and LSP -32899..-32800; domain codes are positive and stable.
 * Every domain error carries a `data` object a client can act on (see the …Data types).
 */
export const ErrorCodes = {
  ParseError: -32700,
  InvalidRequest: -32600,
  MethodNotFound: -32601,
  InvalidParams: -32602,
  InternalError: -32603,
  /** LSP's RequestCancelled: the client cancelled ($/cancelRequest or a closed HTTP request). */
  RequestCancelled: -32800,

  BudgetExceeded: 1001,
  NotFound: 1002,
  UnknownModel: 1003,
  RateLimited: 1004,
  Unauthorized: 1005,
  Conflict: 1006,

  UpstreamUnauthorized: 1101,
  UpstreamPaymentRequired: 1102,
  UpstreamForbidden: 1103,
  UpstreamRateLimited: 1104,
  UpstreamUnavailable: 1105,
  UpstreamTimeout: 1106,
  UpstreamStreamError: 1107,
  UpstreamBadRequest: 1108,

  StoreCorrupt: 1201,
  StoreTooNew: 1202,
  StoreIo: 1203,
  BackupInvalid: 1204,
  /** A memory archive file failed its checks (data: reason, archiveId, sha256); nothing was restored. */
  ArchiveInvalid: 1205,
  /**
   * The shared database (PostgreSQL) cannot be reached right now (data: StoreUnavailableData). Retryable: nothing
   * was recorded or spent; the server reconnects on its own.
   */
  StoreUnavailable: 1206,
} as const;

export type ErrorCode = (typeof ErrorCodes)[keyof typeof ErrorCodes];

export interface InvalidParamsData {
  /** Dotted path of the offending field, e.g. `messages.0.content`. */
  field: string;
  issues: { field: string; message: string }[];
}

export interface BudgetExceededData {
  budgetId: string;
  scope: string;
  period: string;
  limitUsd: number;
  spentUsd: number;
  reservedUsd: number;
  /** The worst-case cost of the refused call. */
  requestedUsd: number;
  periodEnd: string | null;
}

export interface NotFoundData {
  entity: string;
  id: string;
}

export interface UnknownModelData {
  model: string;
  suggestions: string[];
}

export interface RateLimitedData {
  retryAfterMs: number;
  limitPerSecond: number;
}

export interface UpstreamErrorData {
  status: number | null;
  /** OpenRouter's error code or message, with any key redacted. */
  upstreamMessage: string;
  retryAfterMs?: number;
  generationId?: string;
}

export interface StoreUnavailableData {
  retryable: true;
  /** Where the database was expected (`host:port/database`, never a password). */
  store: string;
  reason: string;
}
