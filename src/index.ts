/**
 * Gatehouse as a library: the external auth engine, the accounts layer, the bridge and the
 * configuration loader.
 */
export * from './extauth/index.js';
export * from './config/index.js';
export { Accounts, type QueryContext } from './accounts/accounts.js';
export { AccountsError, AccountsErrorCodes, type AccountsErrorCode } from './accounts/errors.js';
export { MemoryThrottle, type FailureThrottle } from './accounts/throttle.js';
export { ACCOUNT_CHANGES, type AccountChange, type AccountChangeKind, type AccountLifecycle } from './accounts/lifecycle.js';
export { runBridge, type BridgeOptions, type BridgeStats } from './bridge/bridge.js';
export { runLockstepBridge, type LockstepOptions, type LockstepStats } from './bridge/lockstep.js';
export { ExtauthSocketServer, type ExtauthSocketOptions } from './bridge/socket-server.js';
export { silentLogger, type Logger } from './log/logger.js';
export * from './checkscript/index.js';
export { DovecotAuthServer, type DovecotServerOptions } from './dovecot/server.js';
export type { ListenOptions } from './net/listen.js';
export { buildApp, type AppOptions } from './server/http-app.js';
export { buildServices, wireAccounts, type Services } from './server/services.js';
export { startService, type RunningService } from './server/service.js';
