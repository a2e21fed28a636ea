/**
 * The storage contract: one suite that every OAuthStore implementation must pass (DESIGN.md
 * "Storage"). An implementation's test file calls `storeContract` with a way to open a store;
 * each test opens its own and closes it after. Tests use random ids, so implementations may
 * hand every test the same database.
 */
import type { OAuthStore } from '../../src/storage/port.js';
import { accountsContract } from './storage-contract/accounts.js';
import { codesContract } from './storage-contract/codes.js';
import { devicesContract } from './storage-contract/devices.js';
import { grantsContract } from './storage-contract/grants.js';
import { lifecycleContract } from './storage-contract/lifecycle.js';
import { revocationContract } from './storage-contract/revocation.js';
import { sessionsContract } from './storage-contract/sessions.js';
import { sweepContract } from './storage-contract/sweep.js';
import { throttleContract } from './storage-contract/throttle.js';
import { tokensContract } from './storage-contract/tokens.js';
import type { ContractOptions } from './storage-contract/types.js';

export type { ContractOptions } from './storage-contract/types.js';

/** Registers the contract tests for the store that `open` returns, prefixed with `name`. */
export function storeContract(name: string, open: () => Promise<OAuthStore>, options: ContractOptions = {}): void {
  const suite = { name, open, persistent: options.persistent ?? false };
  grantsContract(suite);
  tokensContract(suite);
  codesContract(suite);
  revocationContract(suite);
  devicesContract(suite);
  throttleContract(suite);
  sweepContract(suite);
  sessionsContract(suite);
  lifecycleContract(suite);
  accountsContract(suite);
}
