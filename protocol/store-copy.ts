/**
 * What `crew-server --copy to|from` prints on stdout (one JSON document) and `crew store copy` renders: a copy of
 * a data directory's local store into an empty PostgreSQL database, or back, checked row for row.
 */
export interface StoreCopyKind {
  kind: string;
  source: number;
  target: number;
  /** sha256 of the canonical records on each side. */
  sourceDigest: string;
  targetDigest: string;
  match: boolean;
}

export interface StoreCopyResult {
  ok: boolean;
  direction: 'to' | 'from';
  /** Where from and where to (a database never with its password). */
  source: string;
  target: string;
  kinds: StoreCopyKind[];
  ledger: { rows: number; sourcePico: string; targetPico: string; idsKept: boolean };
  notCopied: { kind: string; count: number; why: string }[];
  verified: boolean;
  ms: number;
}

/** What it prints when the copy did not happen or did not verify. */
export interface StoreCopyFailure {
  ok: false;
  /** `in-use`: a server uses the source or target; `not-empty`: the target holds data; `failed`: anything else. */
  reason: 'in-use' | 'not-empty' | 'failed' | 'unverified';
  message: string;
  result?: StoreCopyResult;
}

/** crew-server's exit codes for a copy: 0 copied and verified. */
export const STORE_COPY_EXIT = { failed: 1, inUse: 3, notEmpty: 6, unverified: 7 } as const;
