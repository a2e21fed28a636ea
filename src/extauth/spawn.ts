/**
 * How an auth script is started and stopped, the same for the engine and for check-script
 * (DESIGN.md, engine rules 1 and 9): no shell; three separate pipes, never a pty, so no line
 * discipline rewrites or echoes a byte; and its own process group (detached), so that it has
 * no controlling terminal and a kill reaches anything it forked.
 */
import { spawn, type ChildProcess } from 'node:child_process';

export interface ScriptCommand {
  /** The program and its arguments, run without a shell. */
  readonly argv: readonly string[];
  readonly cwd?: string | undefined;
  readonly env?: NodeJS.ProcessEnv | undefined;
}

/** Starts the script; its stdin, stdout and stderr are pipes. */
export function spawnScript(command: ScriptCommand): ChildProcess {
  const [file, ...args] = command.argv as [string, ...string[]];
  return spawn(file, args, {
    stdio: ['pipe', 'pipe', 'pipe'],
    detached: true,
    cwd: command.cwd,
    env: command.env,
    windowsHide: true,
  });
}

/**
 * Signals the script's whole process group. Returns false when the group is already empty
 * (or the script never started); the script itself is then signalled directly, should it
 * have left its group.
 */
export function signalGroup(child: ChildProcess, signal: NodeJS.Signals): boolean {
  const pid = child.pid;
  if (pid === undefined) return false;
  try {
    process.kill(-pid, signal);
    return true;
  } catch {
    try {
      child.kill(signal);
    } catch {
      /* already gone */
    }
    return false;
  }
}
