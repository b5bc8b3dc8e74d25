/**
 * Children that die with this process, however it dies. A handler on `exit` kills them when node
 * exits normally, but SIGKILL (and SIGTERM, SIGINT with no handler) end node with no `exit` event,
 * and a nats-server or worker it started lives on as an orphan. So one tiny watchdog process per
 * process (`sh`, started at the first child watched) reads the PIDs to watch on a pipe from this
 * process: `+<pid>` when a child starts, `-<pid>` when it exits (so a PID the system reuses later
 * is never killed). When this process dies, whatever the signal, the system closes the pipe; the
 * watchdog reads its end and kills (SIGCONT, then SIGKILL) every child still listed, then exits.
 * The watchdog and its pipe hold nothing open: they never keep this process alive.
 */
import { spawn, type ChildProcess } from 'node:child_process';

/**
 * Reads `+pid` / `-pid` lines until end of input, then kills the PIDs still listed (a negative
 * one is a process group). It ignores
 * SIGINT and SIGHUP, which a terminal sends to the whole process group: it outlives this process
 * to kill what is left, and ends at the end of its input in any case.
 */
const WATCHDOG_SCRIPT = `
trap '' INT HUP
pids=" "
while IFS= read -r line; do
  case "$line" in
    +*) pids="$pids\${line#+} " ;;
    -*) p="\${line#-}"; case "$pids" in *" $p "*) pids="\${pids%% $p *} \${pids#* $p }" ;; esac ;;
  esac
done
for p in $pids; do kill -s CONT -- "$p" 2>/dev/null; kill -s KILL -- "$p" 2>/dev/null; done
exit 0
`;

let watchdog: ChildProcess | null = null;

function tell(line: string): void {
  if (watchdog === null) {
    const started = spawn('/bin/sh', ['-c', WATCHDOG_SCRIPT], { stdio: ['pipe', 'ignore', 'ignore'] });
    started.unref();
    // Not a handle that keeps the event loop alive; a failed write (watchdog gone) is not fatal.
    (started.stdin as unknown as { unref?: () => void }).unref?.();
    started.stdin!.on('error', () => undefined);
    started.on('error', () => undefined);
    started.once('exit', () => {
      if (watchdog === started) watchdog = null;
    });
    watchdog = started;
  }
  watchdog.stdin!.write(`${line}\n`);
}

/**
 * Kills `child` when this process dies, by any signal: it is listed with the watchdog until it
 * exits. `group`: the child leads its own process group (spawned `detached`), and the whole group
 * is killed. The usual cleanup (`await using`, `stop()`) still ends it first when it can.
 */
export function dieWithThisProcess(child: ChildProcess, group = false): void {
  const pid = child.pid === undefined ? undefined : group ? -child.pid : child.pid;
  if (pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  tell(`+${pid}`);
  child.once('exit', () => {
    if (watchdog !== null) tell(`-${pid}`);
  });
}

/** The watchdog's PID, once one runs (tests check it). */
export function watchdogPid(): number | undefined {
  return watchdog?.pid;
}
