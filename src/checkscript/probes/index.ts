/**
 * The probes, in the order they run. The baseline comes first: it decides whether the
 * others can run at all. eof-exit comes last: it ends the process it probes.
 */
import { backToBack } from './back-to-back.js';
import { baseline } from './baseline.js';
import { colonPassword } from './colon-password.js';
import { controlCharPassword } from './control-char-password.js';
import { eofExit } from './eof-exit.js';
import { knownUser } from './known-user.js';
import { latency } from './latency.js';
import { longInput } from './long-input.js';
import type { Probe } from './probe.js';
import { randomUserAccepted } from './random-user.js';
import { unknownCommandProbe } from './unknown-command.js';
import { utf8Password } from './utf8-password.js';

export const PROBES: readonly Probe[] = Object.freeze([
  baseline,
  randomUserAccepted,
  knownUser,
  colonPassword,
  utf8Password,
  controlCharPassword,
  longInput,
  unknownCommandProbe,
  backToBack,
  latency,
  eofExit,
]);

export type { Probe, ProbeReturn, Needs } from './probe.js';
