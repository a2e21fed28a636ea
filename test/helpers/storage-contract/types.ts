/** What each part of the contract suite receives. */
import type { TestContext } from 'node:test';
import type { OAuthStore } from '../../../src/storage/port.js';

export interface ContractOptions {
  /**
   * True when every `open()` reaches the same database (a file, a server): the suite then
   * also checks that data survives close and reopen.
   */
  readonly persistent?: boolean;
}

export interface Suite {
  readonly name: string;
  readonly open: () => Promise<OAuthStore>;
  readonly persistent: boolean;
}

/** Opens a store for one test and closes it when the test ends. */
export async function storeFor(t: TestContext, suite: Suite): Promise<OAuthStore> {
  const store = await suite.open();
  t.after(() => store.close());
  return store;
}

/** Runs `n` calls at once and returns their results in call order. */
export function race<T>(n: number, call: (i: number) => Promise<T>): Promise<T[]> {
  return Promise.all(Array.from({ length: n }, (_, i) => call(i)));
}

/** How many of `values` equal `value`. */
export function count<T>(values: readonly T[], value: T): number {
  return values.filter((v) => v === value).length;
}
