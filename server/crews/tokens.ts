/**
 * Crews' gateway tokens (`crew/token`): an API key for the OpenAI-compatible gateway that attributes every call
 * made with it to one crew, so an outside agent framework can be handed a key that cannot spend as anyone else.
 *
 * A token is `crt_` + 32 random bytes (base64url). Only its sha256 is stored; the token itself exists in the
 * answer to `create` / `rotate` and nowhere else. The gateway authenticates against an in-memory map of hashes
 * (rebuilt at start and after a restore, changed with every create / rotate / revoke), so a check costs one hash
 * and one lookup, and a revoked or replaced token is refused from the moment the change is made.
 *
 * Changes run one at a time (two concurrent creates cannot both issue a token for one crew).
 */
import { createHash, randomBytes } from 'node:crypto';
import { ErrorCodes } from '../../protocol';
import type { Crew, CrewToken } from '../../protocol/crews';
import type { Clock } from '../clock';
import { errors, DomainError } from '../errors';
import type { CrewTokenRecord, CrewTokenRepository } from '../store/repositories';

export const TOKEN_PREFIX = 'crt_';

export const sha256Hex = (token: string): string => createHash('sha256').update(token).digest('hex');

export interface CrewLookup {
  /** The crew of this id or name; NotFound otherwise. */
  get(ref: string): Promise<Crew>;
}

export class CrewTokenService {
  /** sha256 → crew id, for every live token. */
  private bySha = new Map<string, string>();
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly repo: CrewTokenRepository,
    private readonly crews: CrewLookup,
    private readonly clock: Clock,
  ) {}

  /** Loads the hashes; drops tokens whose crew is gone (a crash between deleting a crew and its token). */
  init(): Promise<void> {
    return this.serial(async () => {
      const next = new Map<string, string>();
      for (const t of await this.repo.list()) {
        if (await this.crewExists(t.crewId)) next.set(t.sha256, t.crewId);
        else await this.repo.delete(t.crewId);
      }
      this.bySha = next;
    });
  }

  token(p: CrewToken.Params): Promise<CrewToken.Result> {
    return this.serial(async () => {
      const crew = await this.crews.get(p.crew);
      const current = await this.repo.get(crew.id);
      const answer = (t: CrewTokenRecord | undefined, token: string | null, revoked = false): CrewToken.Result => ({
        crewId: crew.id,
        crew: crew.name,
        token,
        exists: t !== undefined,
        createdAt: t?.createdAt ?? null,
        revoked,
      });
      switch (p.action ?? 'show') {
        case 'show':
          return answer(current, null);
        case 'create':
          if (current)
            throw errors.conflict(
              `crew "${crew.name}" already has a gateway token (created ${current.createdAt}); ` +
                'it is shown only once: rotate it to get a new one, or revoke it',
            );
          return this.issue(crew.id, undefined).then(({ record, token }) => answer(record, token));
        case 'rotate':
          return this.issue(crew.id, current).then(({ record, token }) => answer(record, token));
        case 'revoke':
          if (!current) return answer(undefined, null);
          await this.remove(current);
          return answer(undefined, null, true);
      }
    });
  }

  /** Revokes the token of a crew that was deleted (no-op when it had none). */
  forgetCrew(crewId: string): Promise<void> {
    return this.serial(async () => {
      const current = await this.repo.get(crewId);
      if (current) await this.remove(current);
    });
  }

  /**
   * The crew a token belongs to, as it is now (a renamed crew's calls carry its new name); undefined for anything
   * else, including a token whose crew has just been deleted.
   */
  async authenticate(token: string): Promise<Crew | undefined> {
    if (!token.startsWith(TOKEN_PREFIX)) return undefined;
    const crewId = this.bySha.get(sha256Hex(token));
    if (crewId === undefined) return undefined;
    try {
      return await this.crews.get(crewId);
    } catch (e) {
      if (e instanceof DomainError && e.code === ErrorCodes.NotFound) return undefined;
      throw e;
    }
  }

  private async issue(
    crewId: string,
    previous: CrewTokenRecord | undefined,
  ): Promise<{ record: CrewTokenRecord; token: string }> {
    const token = TOKEN_PREFIX + randomBytes(32).toString('base64url');
    const record: CrewTokenRecord = {
      crewId,
      sha256: sha256Hex(token),
      createdAt: new Date(this.clock.now()).toISOString(),
    };
    // The old value stops working before the new one is durable: if the write fails, neither works (fail closed).
    if (previous) this.bySha.delete(previous.sha256);
    await this.repo.put(record);
    this.bySha.set(record.sha256, crewId);
    return { record, token };
  }

  private async remove(current: CrewTokenRecord): Promise<void> {
    this.bySha.delete(current.sha256);
    await this.repo.delete(current.crewId);
  }

  private async crewExists(crewId: string): Promise<boolean> {
    try {
      await this.crews.get(crewId);
      return true;
    } catch (e) {
      if (e instanceof DomainError && e.code === ErrorCodes.NotFound) return false;
      throw e;
    }
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn, fn);
    this.queue = run.catch(() => undefined);
    return run;
  }
}
