/**
 * Applied savings recommendations in crew_applied_recommendations, in the order appended (`seq`), kept to the
 * newest 1,000 as in the local store (the audit log has them all).
 */
import type { AppliedRecommendation } from '../../../protocol/recommendations';
import type { AppliedRecommendationRepository } from '../repositories';
import type { PgDatabase } from './db';
import { translateWriteError } from './shared';

export const MAX_APPLIED_RECOMMENDATIONS = 1_000;

export class PgAppliedRecommendationRepository implements AppliedRecommendationRepository {
  constructor(private readonly db: PgDatabase) {}

  async list(limit: number): Promise<AppliedRecommendation[]> {
    if (!(limit > 0)) return [];
    const rows = await this.db.query<{ record: AppliedRecommendation }>(
      'select record from crew_applied_recommendations order by seq desc limit $1',
      [limit],
    );
    return rows.map((r) => r.record);
  }

  async get(id: string): Promise<AppliedRecommendation | undefined> {
    const [row] = await this.db.query<{ record: AppliedRecommendation }>(
      'select record from crew_applied_recommendations where id = $1 order by seq desc limit 1',
      [id],
    );
    return row?.record;
  }

  async append(entry: AppliedRecommendation): Promise<void> {
    try {
      await this.db.tx(async (tx) => {
        await tx.query('insert into crew_applied_recommendations (id, record) values ($1, $2)', [
          entry.id,
          JSON.stringify(entry),
        ]);
        await tx.query(
          `delete from crew_applied_recommendations
           where seq <= (select seq from crew_applied_recommendations order by seq desc offset $1 limit 1)`,
          [MAX_APPLIED_RECOMMENDATIONS],
        );
      });
    } catch (e) {
      throw translateWriteError(e);
    }
  }
}
