import { readFileSync } from 'node:fs';

/**
 * CPU time the hypervisor gave to other guests while ours wanted to run ("steal", the 8th field of /proc/stat's
 * first line, in USER_HZ ticks of 1/100 s summed over every CPU). On a shared virtual machine it makes wall-clock
 * times longer with no process of ours or anyone's to show for it, so a timed run reports it beside its times.
 * Undefined where /proc/stat is missing (not Linux).
 */
export function cpuStealSeconds(): number | undefined {
  try {
    const fields = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!.trim().split(/\s+/);
    const steal = Number(fields[8]);
    return Number.isFinite(steal) ? steal / 100 : undefined;
  } catch {
    return undefined;
  }
}

/** Mean cores stolen over a span that started at `startSteal` and lasted `seconds` (undefined off Linux). */
export function stolenCores(startSteal: number | undefined, seconds: number): number | undefined {
  const now = cpuStealSeconds();
  return startSteal === undefined || now === undefined || !(seconds > 0) ? undefined : Math.max(0, now - startSteal) / seconds;
}
