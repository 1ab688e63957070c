// The standard Prometheus process metrics (process_cpu_seconds_total, resident memory, open
// and maximum file descriptors, start time) and glidein_build_info{version}, read per scrape
// from node:process and /proc (cheap: no database work).
import { readdirSync, readFileSync } from 'node:fs';
import { VERSION } from '../shared/version.ts';

const START_TIME = Math.round((Date.now() / 1000 - process.uptime()) * 1000) / 1000;

function openFds(): number | undefined {
  try {
    return readdirSync('/proc/self/fd').length;
  } catch {
    return undefined;
  }
}

function maxFds(): number | undefined {
  try {
    const m = /^Max open files\s+(\d+)/m.exec(readFileSync('/proc/self/limits', 'utf8'));
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

function gauge(out: string[], name: string, help: string, type: 'gauge' | 'counter', value: number | undefined): void {
  if (value === undefined) return;
  out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`, `${name} ${value}`);
}

export function renderProcessMetrics(): string[] {
  const out: string[] = [];
  const cpu = process.cpuUsage();
  gauge(out, 'process_cpu_seconds_total', 'Total user and system CPU time spent in seconds.', 'counter', (cpu.user + cpu.system) / 1e6);
  gauge(out, 'process_resident_memory_bytes', 'Resident memory size in bytes.', 'gauge', process.memoryUsage.rss());
  gauge(out, 'process_open_fds', 'Number of open file descriptors.', 'gauge', openFds());
  gauge(out, 'process_max_fds', 'Maximum number of open file descriptors.', 'gauge', maxFds());
  gauge(out, 'process_start_time_seconds', 'Start time of the process since unix epoch in seconds.', 'gauge', START_TIME);
  out.push('# HELP glidein_build_info The glidein release serving.', '# TYPE glidein_build_info gauge', `glidein_build_info{version="${VERSION.replace(/["\\\n]/g, '')}"} 1`);
  return out;
}
