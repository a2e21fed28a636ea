/**
 * Metrics of the external auth engines. Queries are counted by a listener on every engine
 * (engine.onQuery); pool state (queue depth, live processes, restarts, timeouts...) is read
 * from engine.stats() when Prometheus scrapes, so nothing is done for it on the query path.
 */
import { Counter, Gauge, Histogram } from 'prom-client';
import type { Accounts } from '../accounts/accounts.js';
import type { EngineStats, ExtauthEngine, QueryListener } from '../extauth/engine.js';
import { LATENCY_BUCKETS, type Registry } from './registry.js';

/** An engine with a name for labels and readiness reports. */
export interface NamedEngine {
  /** The hosts it answers for, comma-separated; `*` for hosts without a table of their own. */
  readonly name: string;
  readonly engine: ExtauthEngine;
}

/** A host name no configuration can hold: Accounts answers it with the default engine. */
const NO_HOST = '';

/**
 * Every engine of `accounts` now (a reload replaces them), named by the hosts it serves (hosts
 * with equal settings share an engine). The script's arguments are never part of a name: they
 * may hold a password.
 */
export function namedEngines(accounts: Accounts): NamedEngine[] {
  const config = accounts.config;
  const names = new Map<ExtauthEngine, string[]>();
  const add = (engine: ExtauthEngine | null, name: string): void => {
    if (engine === null) return;
    const list = names.get(engine);
    if (list === undefined) names.set(engine, [name]);
    else list.push(name);
  };
  if (!config.hosts.has(NO_HOST)) add(accounts.engineFor(NO_HOST), '*');
  for (const host of [...config.hosts.keys()].sort()) add(accounts.engineFor(host), host);
  return accounts.engines().map((engine, i) => {
    const hosts = names.get(engine);
    return { name: hosts === undefined ? `engine-${i}` : hosts.join(','), engine };
  });
}

/**
 * Register the engine metrics in `registry` and subscribe to every engine's queries.
 * Subscribing moves the engine off its fastest path (engine.ts #observedQuery): the listener
 * only increments a counter and observes a histogram. Queries refused before the pool (invalid
 * input, empty password) and positive-cache hits are not counted.
 */
export function instrumentEngines(registry: Registry, accounts: Accounts): void {
  const queries = new Counter({
    name: 'gatehouse_extauth_queries_total',
    help: 'Queries run on the auth script pool, by command and result (yes, no, or an error code such as ERR_EXTAUTH_TIMEOUT).',
    labelNames: ['command', 'result'] as const,
    registers: [registry],
  });
  const duration = new Histogram({
    name: 'gatehouse_extauth_query_duration_seconds',
    help: 'Time from handing a query to the pool to its answer, queue wait included.',
    labelNames: ['command'] as const,
    buckets: [...LATENCY_BUCKETS],
    registers: [registry],
  });
  const listener: QueryListener = (command, outcome, ms) => {
    queries.inc({ command, result: outcome });
    duration.observe({ command }, ms / 1000);
  };
  accounts.onQuery(listener);

  // Read at scrape time: reset, then one sample per engine (of the pools serving now) from its
  // current stats(). Gauges are set to the value, counters brought to it from zero.
  const samples = (read: (s: EngineStats) => number): [{ engine: string }, number][] =>
    namedEngines(accounts).map(({ name, engine }) => [{ engine: name }, read(engine.stats())]);
  const common = { labelNames: ['engine'] as const, registers: [registry] };
  const gauge = (name: string, help: string, read: (s: EngineStats) => number): void => {
    new Gauge({
      name,
      help,
      ...common,
      collect() {
        this.reset();
        for (const [labels, value] of samples(read)) this.set(labels, value);
      },
    });
  };
  const counter = (name: string, help: string, read: (s: EngineStats) => number): void => {
    new Counter({
      name,
      help,
      ...common,
      collect() {
        this.reset();
        for (const [labels, value] of samples(read)) this.inc(labels, value);
      },
    });
  };
  gauge('gatehouse_extauth_processes', 'Auth script processes configured.', (s) => s.size);
  gauge('gatehouse_extauth_processes_live', 'Auth script processes starting, idle or busy.', (s) => s.live);
  gauge('gatehouse_extauth_processes_busy', 'Auth script processes answering a query.', (s) => s.busy);
  gauge('gatehouse_extauth_queue_depth', 'Queries waiting for a free auth script process.', (s) => s.queued);
  gauge('gatehouse_extauth_start_failures', 'Consecutive times a script process ended before any good answer (0 when healthy).', (s) => s.failures);
  counter('gatehouse_extauth_restarts_total', 'Auth script processes replaced.', (s) => s.restarts);
  counter('gatehouse_extauth_timeouts_total', 'Auth script processes killed for answering late.', (s) => s.timeouts);
  counter('gatehouse_extauth_bad_replies_total', 'Auth script processes killed for a reply outside the protocol.', (s) => s.badReplies);
  counter('gatehouse_extauth_exits_total', 'Auth script processes that exited on their own.', (s) => s.exits);
}
