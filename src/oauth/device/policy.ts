/**
 * The numbers of the device authorization grant (RFC 8628), in one place so that a reviewer
 * can weigh them together: how long a code lives, how often a device may poll, and how many
 * wrong user codes one client address may type before it is refused (§5.1).
 */

/** Seconds a device code and its user code stay valid (§3.2 `expires_in`). */
export const DEVICE_CODE_TTL_S = 600;

/** Seconds a device waits between polls (§3.2 `interval`; 5 is the RFC's default). */
export const POLL_INTERVAL_S = 5;

/** Seconds added to the interval on every `slow_down` (§3.5: "MUST be increased by 5 seconds"). */
export const SLOW_DOWN_STEP_S = 5;

/**
 * Wrong user codes allowed per client address per window (§5.1). With 20^8 ≈ 2.6e10 codes,
 * 10 guesses per 10 minutes while 1,000 devices wait hit one with a chance of about
 * 10 × 1,000 / 2.6e10 ≈ 1 in 2.6 million per address and window.
 */
export const USER_CODE_FAILURE_LIMIT = 10;
export const USER_CODE_FAILURE_WINDOW_MS = 10 * 60_000;

/** How many times a colliding user code is drawn again before giving up (a collision is ~1e-7). */
export const USER_CODE_ATTEMPTS = 5;
