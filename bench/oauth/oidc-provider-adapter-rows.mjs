/**
 * What the benchmark's two durable oidc-provider adapters share: every model is one row of a
 * table `oidc` (model, id, payload as JSON text, the lookup columns, expiry and consumption
 * in epoch seconds), and a row is read back into the payload oidc-provider saved.
 */

/** Seconds since the epoch: oidc-provider's unit for expiry and consumption. */
export const nowS = () => Math.floor(Date.now() / 1000);

/**
 * The payload of a row `{ payload, expires_at, consumed_at }`, or undefined for no row or an
 * expired one; a consumed row carries `consumed` as the memory adapter sets it.
 */
export function payloadOf(r) {
  if (r === undefined) return undefined;
  if (r.expires_at !== null && Number(r.expires_at) <= nowS()) return undefined;
  const payload = JSON.parse(r.payload);
  if (r.consumed_at !== null) payload.consumed = Number(r.consumed_at);
  return payload;
}
