/**
 * Crews in crew_crews: the record whole as jsonb, listed in the order first written (`seq`), with the name as the
 * crews service compares names (JavaScript toLowerCase) under a unique key. The service refuses a taken name
 * before writing; the key makes that hold when two instances create or rename at once: the second write is a
 * Conflict naming the crew that has the name.
 */
import { errors } from '../../errors';
import type { CrewRecord, CrewRepository } from '../repositories';
import type { PgDatabase } from './db';
import { isUniqueViolation, translateWriteError } from './shared';

const NAME_KEY = 'crew_crews_name_key';

export class PgCrewRepository implements CrewRepository {
  constructor(private readonly db: PgDatabase) {}

  async list(): Promise<CrewRecord[]> {
    const rows = await this.db.query<{ record: CrewRecord }>('select record from crew_crews order by seq');
    return rows.map((r) => r.record);
  }

  async get(id: string): Promise<CrewRecord | undefined> {
    const [row] = await this.db.query<{ record: CrewRecord }>('select record from crew_crews where id = $1', [id]);
    return row?.record;
  }

  async put(crew: CrewRecord): Promise<void> {
    try {
      await this.db.query(
        `insert into crew_crews (id, name_key, record) values ($1, $2, $3)
         on conflict (id) do update set name_key = excluded.name_key, record = excluded.record`,
        [crew.id, crew.name.toLowerCase(), JSON.stringify(crew)],
      );
    } catch (e) {
      if (isUniqueViolation(e, NAME_KEY)) {
        const [taken] = await this.db.query<{ id: string; name: string }>(
          "select id, record->>'name' as name from crew_crews where name_key = $1",
          [crew.name.toLowerCase()],
        );
        throw errors.conflict(
          `name: a crew named "${taken?.name ?? crew.name}" already exists${taken ? ` (${taken.id})` : ''}`,
        );
      }
      throw translateWriteError(e);
    }
  }

  async delete(id: string): Promise<boolean> {
    const rows = await this.db.query('delete from crew_crews where id = $1 returning id', [id]);
    return rows.length > 0;
  }
}
