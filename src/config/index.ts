export { loadConfigFile, parseConfigText, buildConfig } from './load.js';
export { ConfigError } from './errors.js';
export { KEYS, LOG_LEVELS, type KeyDef, type LogLevel } from './keys.js';
export { splitCommand } from './argv.js';
export { hostConfig, type GatehouseConfig, type HostConfig, type ExtauthConfig, type ThrottleConfig, type OAuthConfig } from './types.js';
