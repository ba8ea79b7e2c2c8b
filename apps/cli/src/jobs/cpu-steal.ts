import { readFileSync } from 'node:fs';

/**
 * CPU time the hypervisor gave to other guests while ours wanted to run ("steal", the 8th field of /proc/stat's
 * first line, in USER_HZ ticks of 1/100 s summed over every CPU). On a shared virtual machine it makes wall-clock
 * times longer with no process of ours or anyone's to show for it, so a timed run reports it beside its times.
 * Undefined where /proc/stat is missing (not Linux).
 */
export function cpuStealSeconds(): number | undefined {
  return cpuSeconds()?.steal;
}

/**
 * The machine's CPU time from /proc/stat's first line, in seconds summed over every CPU: `busy` is what processes
 * ran (everything but idle, iowait and steal), `steal` what the hypervisor gave to other guests. Undefined off Linux.
 */
export function cpuSeconds(): { busy: number; steal: number } | undefined {
  try {
    const ticks = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!.trim().split(/\s+/).slice(1).map(Number);
    const [idle = 0, iowait = 0, steal = Number.NaN] = [ticks[3], ticks[4], ticks[7]];
    if (!ticks.every(Number.isFinite) || !Number.isFinite(steal)) return undefined;
    const total = ticks.reduce((a, b) => a + b, 0);
    return { busy: (total - idle - iowait - steal) / 100, steal: steal / 100 };
  } catch {
    return undefined;
  }
}

/** Mean cores stolen over a span that started at `startSteal` and lasted `seconds` (undefined off Linux). */
export function stolenCores(startSteal: number | undefined, seconds: number): number | undefined {
  const now = cpuStealSeconds();
  return startSteal === undefined || now === undefined || !(seconds > 0) ? undefined : Math.max(0, now - startSteal) / seconds;
}
