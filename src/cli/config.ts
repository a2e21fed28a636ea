/** Locating and loading the configuration for a command. */
import { loadConfigFile } from '../config/load.js';
import type { GatehouseConfig } from '../config/types.js';

export function configPath(flag: string | undefined): string {
  return flag ?? process.env['GATEHOUSE_CONFIG'] ?? 'gatehouse.toml';
}

/** Load with environment overrides. Throws ConfigError. */
export function loadForCli(flag: string | undefined): GatehouseConfig {
  return loadConfigFile(configPath(flag), { env: process.env });
}
