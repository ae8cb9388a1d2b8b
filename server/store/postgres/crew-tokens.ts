/**
 * Crews' gateway tokens in crew_crew_tokens: one row per crew, the sha256 under a unique key (one hash is one
 * crew's token), listed in the order first written (`seq`; a rotation keeps its place, as in the local store).
 * Writes notify Channels.crewTokens (`{instance, crewId}`) in their transaction, for services that keep the hashes
 * in memory (the gateway's lookup).
 */
import { errors } from '../../errors';
import type { CrewTokenRecord, CrewTokenRepository } from '../repositories';
import type { PgDatabase } from './db';
import { Channels, isUniqueViolation, notifyOnCommit, translateWriteError } from './shared';

const SHA_KEY = 'crew_crew_tokens_sha256';

export class PgCrewTokenRepository implements CrewTokenRepository {
  constructor(
    private readonly db: PgDatabase,
    private readonly instanceId: string,
  ) {}

  async list(): Promise<CrewTokenRecord[]> {
    const rows = await this.db.query<{ record: CrewTokenRecord }>('select record from crew_crew_tokens order by seq');
    return rows.map((r) => r.record);
  }

  async get(crewId: string): Promise<CrewTokenRecord | undefined> {
    const [row] = await this.db.query<{ record: CrewTokenRecord }>(
      'select record from crew_crew_tokens where crew_id = $1',
      [crewId],
    );
    return row?.record;
  }

  async put(token: CrewTokenRecord): Promise<void> {
    try {
      await this.db.tx(async (tx) => {
        await tx.query(
          `insert into crew_crew_tokens (crew_id, sha256, record) values ($1, $2, $3)
           on conflict (crew_id) do update set sha256 = excluded.sha256, record = excluded.record`,
          [token.crewId, token.sha256, JSON.stringify(token)],
        );
        await notifyOnCommit(tx, Channels.crewTokens, { instance: this.instanceId, crewId: token.crewId });
      });
    } catch (e) {
      if (isUniqueViolation(e, SHA_KEY)) throw errors.conflict('this token hash is already the token of another crew');
      throw translateWriteError(e);
    }
  }

  async delete(crewId: string): Promise<boolean> {
    return this.db.tx(async (tx) => {
      const { rowCount } = await tx.query('delete from crew_crew_tokens where crew_id = $1', [crewId]);
      if (!rowCount) return false;
      await notifyOnCommit(tx, Channels.crewTokens, { instance: this.instanceId, crewId, deleted: true });
      return true;
    });
  }
}
