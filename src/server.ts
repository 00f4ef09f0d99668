/**
 * Composition root: builds every component with explicit dependencies, starts them in order
 * (database, migrations, store, HTTP) and stops them in reverse on SIGTERM/SIGINT, after
 * in-flight requests have finished.
 */
import fs from 'node:fs';
import pino from 'pino';
import type { Logger } from 'pino';
import type { Config } from './config.ts';
import { startEmbeddedPostgres } from './db/embedded-postgres.ts';
import type { EmbeddedDatabase } from './db/embedded-postgres.ts';
import { loadMigrations, migrate, migrationsApplied } from './db/migrate.ts';
import { createPool } from './db/pool.ts';
import { StatisticsKeeper } from './db/statistics-keeper.ts';
import type { Pool } from './db/pool.ts';
import { loadDefinitions } from './fhir/definitions.ts';
import { queueReindex, ReindexWorker, reindexStatus } from './fhir/operations/reindex.ts';
import type { ReindexService } from './fhir/rest/interactions/reindex.ts';
import { CustomSearchParameters } from './fhir/search/custom-parameters.ts';
import { PgFhirStore } from './fhir/store/pg-fhir-store.ts';
import { startMllpListener } from './hl7-adapters/mllp/listener.ts';
import { CachedCodeTranslator } from './hl7-adapters/process/code-translator.ts';
import { Hl7Processor } from './hl7-adapters/process/processor.ts';
import { Hl7RecoveryWorker } from './hl7-adapters/process/recovery.ts';
import { SenderConfigs } from './hl7-adapters/senders/sender-store.ts';
import { observationAlertHandler } from './care-plans/alerts/observation-alerts.ts';
import { observationFollowUp } from './care-plans/observation-follow-up.ts';
import { defaultThresholds } from './care-plans/alerts/thresholds.ts';
import { DISCHARGE_CRITERIA, defaultLabRechecks, dischargeHandler, dischargeOrderHandler } from './care-plans/discharge/discharge-follow-up.ts';
import { followUpOperations } from './care-plans/operations/follow-up-operations.ts';
import { systemClock, TestClock } from './clock/clock.ts';
import { chinaHolidayCalendar } from './care-plans/discharge/due-dates.ts';
import { installProtocols, ProtocolCache } from './care-plans/discharge/protocols.ts';
import { followUpRecordHandler } from './care-plans/follow-up/record.ts';
import { regradeHandler } from './care-plans/follow-up/regrade.ts';
import { resolveMissedReports, sweep } from './care-plans/reports/sweep.ts';
import { defaultComorbidityTable } from './care-plans/risk/comorbidity.ts';
import { SubscriptionEngine } from './subscriptions/engine/engine.ts';
import { Scheduler } from './subscriptions/scheduler/scheduler.ts';
import type { InternalEvent } from './subscriptions/subscription-model.ts';
import { subscriptionWriteRules } from './subscriptions/write-rules.ts';
import { subscriptionOperations } from './subscriptions/operations/subscription-operations.ts';
import { publishTopics, topicCapabilityExtensions } from './subscriptions/topics/publish.ts';
import type { MllpListener } from './hl7-adapters/mllp/listener.ts';
import { createHttpApp } from './http-app.ts';
import { createMetrics } from './observability/metrics.ts';

const PACKAGE = JSON.parse(fs.readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { name: string; version: string };

export interface RunningServer {
  /** Base URL of the HTTP server, e.g. http://127.0.0.1:8080 */
  url: string;
  fhirBaseUrl: string;
  /** Bound port of the HL7 v2 MLLP listener. */
  mllpPort: number;
  /** e.g. mllp://localhost:2575 (mllps:// with TLS) */
  mllpUrl: string;
  pool: Pool;
  logger: Logger;
  stop(): Promise<void>;
}

export function createLogger(config: Pick<Config, 'logLevel'>): Logger {
  return pino({ level: config.logLevel, base: { service: 'carebridge' }, timestamp: pino.stdTimeFunctions.isoTime });
}

/** Appends the session TimeZone so timestamps come back in UTC whatever the server's setting. */
function withUtc(url: string): string {
  const u = new URL(url);
  u.searchParams.set('options', `${u.searchParams.get('options') ?? ''} -c TimeZone=UTC`.trim());
  return u.toString();
}

export async function startServer(config: Config, logger: Logger = createLogger(config)): Promise<RunningServer> {
  const startedAt = new Date().toISOString();
  let embedded: EmbeddedDatabase | undefined;
  let pool: Pool | undefined;
  let accepting = false;
  let mllp: MllpListener | undefined;
  let stopWorkers = async (): Promise<void> => undefined;
  const metrics = createMetrics(() => pool);
  try {
    loadDefinitions();
    if (!config.databaseUrl) embedded = await startEmbeddedPostgres(config.dataDir, logger);
    pool = createPool(withUtc(config.databaseUrl ?? (embedded as EmbeddedDatabase).url), config.dbPoolSize);
    const migrations = await loadMigrations();
    const applied = await migrate(pool, migrations);
    if (applied.length) logger.info({ applied }, 'database migrations applied');
    const livePool = pool;
    const customParams = new CustomSearchParameters(pool, logger);
    await customParams.refresh();
    customParams.start(config.searchParameterPollMs);
    const reindexWorker = new ReindexWorker(pool, logger);
    reindexWorker.start();
    const statistics = new StatisticsKeeper({ pool, logger });
    statistics.start();
    let stopHl7Recovery = async (): Promise<void> => undefined;
    let stopSubscriptions = async (): Promise<void> => undefined;
    stopWorkers = async () => {
      customParams.stop();
      await statistics.stop();
      await reindexWorker.stop();
      await stopHl7Recovery();
      await stopSubscriptions();
    };
    let onConceptMapsChanged = (): void => undefined;
    let onProtocolsChanged = (): void => undefined;
    let onWrite = (): void => undefined;
    const store = new PgFhirStore(pool, {
      afterCommit: async (types) => {
        if (types.has('SearchParameter')) await customParams.refresh().catch((err: unknown) => logger.warn({ err }, 'reloading custom search parameters failed'));
        if (types.has('ConceptMap')) onConceptMapsChanged();
        if (types.has('PlanDefinition')) onProtocolsChanged();
        onWrite();
      },
      checkWrite: subscriptionWriteRules(config.subscriptionEndpointAllow),
    });
    // The FHIR base in notifications: the configured one, else this server's once it listens.
    let publicBaseUrl = config.baseUrl ?? `http://localhost:${config.port}/fhir`;
    const subscriptions = new SubscriptionEngine({
      pool,
      // The engine sets Subscription.status itself (active, error): a store without client write rules.
      store: new PgFhirStore(pool),
      logger,
      pollMs: config.subscriptionPollMs,
      timeoutMs: config.subscriptionDeliveryTimeoutMs,
      maxInFlight: config.subscriptionMaxInFlight,
      retryHorizonSeconds: config.subscriptionRetryHorizonSeconds,
      allowEndpoints: config.subscriptionEndpointAllow,
      websocketPath: '/ws',
      observe: (e) => metrics.observeSubscriptionDelivery(e),
      baseUrl: () => publicBaseUrl,
    });
    const codeTranslator = new CachedCodeTranslator(store, 10_000);
    onConceptMapsChanged = () => codeTranslator.invalidate();
    const protocols = new ProtocolCache(store, 10_000);
    onProtocolsChanged = () => protocols.invalidate();
    const reindex: ReindexService = {
      queue: async (types) => {
        const job = await queueReindex(livePool, types);
        reindexWorker.nudge();
        return job;
      },
      status: (id) => reindexStatus(livePool, id),
    };
    // The follow-up engine: shipped protocols installed (never overwritten), discharges followed up.
    await installProtocols(store);
    // The subscription topics, published as Basic resources for R4 clients.
    await publishTopics(store);
    const transactionContext = { baseUrl: config.baseUrl ?? `http://localhost:${config.port}/fhir`, server: { name: PACKAGE.name, version: PACKAGE.version, startedAt }, reindex };
    // The follow-up engine's "now": the system clock, or one POST /admin/clock moves (CAREBRIDGE_TEST_CLOCK=1).
    const testClock = config.testClock ? new TestClock() : undefined;
    const clock = testClock ?? systemClock;
    if (testClock) logger.warn('CAREBRIDGE_TEST_CLOCK is on: POST /admin/clock moves the follow-up clock (tests and demos only)');
    const calendar = chinaHolidayCalendar();
    if (calendar.provisionalYears.length) logger.warn({ years: calendar.provisionalYears }, 'holiday calendar: statutory holidays only for these years (no State Council notice in protocols/holidays-cn.json yet); bridging days off and make-up working days are missing');
    const dischargeDeps = {
      store,
      fhir: transactionContext,
      logger,
      comorbidities: defaultComorbidityTable(),
      calendar,
      timeZone: config.timeZone,
      labRechecks: defaultLabRechecks(),
      clock,
      backfillDays: config.followUpBackfillDays,
      protocols,
    };
    // Follow-up subscribers handle several events at once: in order per encounter or per patient
    // (their order key), side by side across them — one at a time capped discharges at ~20/s.
    const byEncounter = { concurrency: 4, orderKey: (e: InternalEvent) => (e.resource as { encounter?: { reference?: string } } | undefined)?.encounter?.reference ?? `${e.resourceType}/${e.resourceId}` };
    const byPatient = { concurrency: 4, orderKey: (e: InternalEvent) => (e.resource as { subject?: { reference?: string } } | undefined)?.subject?.reference ?? `${e.resourceType}/${e.resourceId}` };
    subscriptions.subscribe('discharge-follow-up', DISCHARGE_CRITERIA, dischargeHandler(dischargeDeps), { concurrency: 4 });
    // Orders arriving after the discharge (RDE after the A03, a lab re-check ordered later) update its follow-up.
    subscriptions.subscribe('discharge-medication', 'MedicationRequest', dischargeOrderHandler(dischargeDeps), byEncounter);
    subscriptions.subscribe('discharge-lab-orders', 'ServiceRequest', dischargeOrderHandler(dischargeDeps), byEncounter);
    subscriptions.subscribe('follow-up-records', 'QuestionnaireResponse?status=completed', followUpRecordHandler({ store, fhir: transactionContext, logger, clock, timeZone: config.timeZone }), byPatient);
    const sweepDeps = {
      store,
      fhir: transactionContext,
      logger,
      missedAfterDays: config.missedReportDays,
      monitored: () => protocols.monitoringCodes(),
    };
    const observationChecks = observationFollowUp({
      store,
      translator: codeTranslator,
      alerts: observationAlertHandler({ store, fhir: transactionContext, logger, thresholds: defaultThresholds(), protocols }),
      missedReports: resolveMissedReports(sweepDeps),
      regrade: regradeHandler({ store, fhir: transactionContext }),
    });
    subscriptions.subscribe('observation-follow-up', 'Observation', observationChecks.handle, { ...byPatient, handleGroup: observationChecks.handleGroup });
    const scheduler = new Scheduler({ pool, logger, pollMs: 1_000, leaseMs: 10 * 60_000, ...(testClock ? { clock: testClock } : {}) });
    scheduler.handle('follow-up-sweep', async () => void (await sweep(sweepDeps, clock.now())));
    if (config.subscriptionEngine) {
      subscriptions.start();
      onWrite = () => subscriptions.nudge();
      await scheduler.schedule({ key: 'follow-up-sweep', kind: 'follow-up-sweep', runAt: clock.now(), everySeconds: config.followUpSweepSeconds });
      scheduler.start();
      stopSubscriptions = async () => {
        await scheduler.stop();
        await subscriptions.stop();
      };
    }
    const hl7Senders = new SenderConfigs(pool, 2_000);
    const hl7Processor = new Hl7Processor({
      pool,
      senders: hl7Senders,
      logger,
      fhir: transactionContext,
      translator: codeTranslator,
      observe: (e) => metrics.observeHl7Message(e),
    });
    const hl7Recovery = new Hl7RecoveryWorker({ pool, logger, processor: hl7Processor, intervalMs: config.hl7RecoveryIntervalMs, graceMs: 2_000 });
    hl7Recovery.start();
    stopHl7Recovery = () => hl7Recovery.stop();
    const app = createHttpApp({
      hl7Admin: { pool, processor: hl7Processor, senders: hl7Senders },
      subscriptionAdmin: { pool },
      clock: { clock, testClock, scheduler },
      store,
      logger,
      metrics,
      server: {
        name: PACKAGE.name,
        version: PACKAGE.version,
        startedAt,
        websocketPath: config.subscriptionEngine ? '/ws' : undefined,
        operations: [...subscriptionOperations({ pool, websocketPath: config.subscriptionEngine ? '/ws' : undefined }), ...followUpOperations(clock)],
        resourceExtensions: { Subscription: topicCapabilityExtensions() },
      },
      reindex,
      baseUrl: config.baseUrl,
      maxBodyBytes: config.maxBodyBytes,
      ready: async () => accepting && (await migrationsApplied(livePool, migrations.length)),
    });
    mllp = await startMllpListener({
      processor: hl7Processor,
      senders: hl7Senders,
      pool,
      logger,
      port: config.mllpPort,
      host: config.mllpHost,
      maxMessageBytes: config.mllpMaxMessageBytes,
      idleTimeoutMs: config.mllpIdleTimeoutMs,
      defaultCharset: config.hl7DefaultCharset,
      tls: config.mllpTls && {
        cert: fs.readFileSync(config.mllpTls.certFile),
        key: fs.readFileSync(config.mllpTls.keyFile),
        ca: config.mllpTls.caFile === undefined ? undefined : fs.readFileSync(config.mllpTls.caFile),
      },
    });
    const liveMllp = mllp;
    if (config.subscriptionEngine) subscriptions.attach(app.server);
    await app.listen({ port: config.port, host: config.host });
    accepting = true;
    const address = app.server.address();
    const port = typeof address === 'object' && address ? address.port : config.port;
    const url = `http://${config.host === '0.0.0.0' || config.host === '::' ? 'localhost' : config.host}:${port}`;
    const fhirBaseUrl = config.baseUrl ?? `${url}/fhir`;
    publicBaseUrl = fhirBaseUrl;
    const mllpUrl = `${config.mllpTls ? 'mllps' : 'mllp'}://${config.mllpHost === '0.0.0.0' || config.mllpHost === '::' ? 'localhost' : config.mllpHost}:${liveMllp.port}`;
    let stopping: Promise<void> | undefined;
    return {
      url,
      fhirBaseUrl,
      mllpPort: liveMllp.port,
      mllpUrl,
      pool,
      logger,
      stop: () =>
        (stopping ??= (async () => {
          accepting = false;
          await app.close(); // stops accepting, waits for in-flight requests
          await liveMllp.close(); // stops accepting, waits for messages being stored
          await stopWorkers();
          await livePool.end();
          await embedded?.stop();
        })()),
    };
  } catch (err) {
    await mllp?.close().catch(() => undefined);
    await stopWorkers().catch(() => undefined);
    await pool?.end().catch(() => undefined);
    await embedded?.stop().catch(() => undefined);
    throw err;
  }
}
