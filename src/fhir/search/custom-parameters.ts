/**
 * Custom search parameters (http://hl7.org/fhir/R4/searchparameter.html) added at runtime:
 * SearchParameter resources in the store whose status is not `retired` extend the R4 parameters
 * of their base types. This node reloads them right after it commits a SearchParameter, and
 * every few seconds in case another node did. New writes index them at once; `$reindex`
 * backfills existing resources.
 */
import type { SearchParameter } from '@medplum/fhirtypes';
import type { Logger } from 'pino';
import type { Queryable } from '../../db/pool.ts';
import { setCustomSearchParameters } from '../definitions.ts';

export class CustomSearchParameters {
  private watermark: string | undefined;
  private timer: NodeJS.Timeout | undefined;
  private readonly db: Queryable;
  private readonly logger: Logger;

  constructor(db: Queryable, logger: Logger) {
    this.db = db;
    this.logger = logger;
  }

  /** Reloads the custom parameters when any SearchParameter changed since the last load. */
  async refresh(): Promise<void> {
    const { rows } = await this.db.query<{ mark: string }>(
      `SELECT count(*)::text || '|' || coalesce(max(last_updated)::text, '') AS mark FROM fhir_resource WHERE resource_type = 'SearchParameter'`,
    );
    const mark = rows[0]?.mark;
    if (mark === this.watermark) return;
    const { rows: stored } = await this.db.query<{ content: string }>(`SELECT content FROM fhir_resource WHERE resource_type = 'SearchParameter' AND NOT deleted`);
    const params = stored.map((r) => JSON.parse(r.content) as SearchParameter).filter((sp) => sp.status !== 'retired');
    setCustomSearchParameters(params, (sp, why) => this.logger.warn({ searchParameter: sp.url ?? sp.id, code: sp.code }, `custom search parameter not used: ${why}`));
    this.watermark = mark;
    this.logger.info({ count: params.length }, 'custom search parameters loaded');
  }

  start(intervalMs: number): void {
    this.timer = setInterval(() => {
      this.refresh().catch((err: unknown) => this.logger.warn({ err }, 'reloading custom search parameters failed'));
    }, intervalMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }
}
