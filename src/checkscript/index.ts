/** check-script: probing an operator's auth script the way a careful reviewer would. */
export { checkScript, type Report, type ProbeResult, type ProbeStatus } from './run.js';
export type { CheckOptions, KnownAccount, LatencyStats } from './context.js';
export { FindingIds, type Finding, type FindingId, type Severity } from './findings.js';
export { renderText, renderJson } from './report.js';
