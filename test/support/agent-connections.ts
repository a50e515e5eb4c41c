import { readdirSync, readFileSync, readlinkSync } from 'node:fs';

/**
 * Established TCP connections from process `pid` to 127.0.0.1:`port` (or [::1]), read from
 * /proc (Linux only): the socket inodes the process holds (/proc/<pid>/fd) matched against the
 * namespace's TCP tables. Returns undefined where /proc cannot be read.
 */
export function connectionsTo(port: number, pid: number = process.pid): number | undefined {
  let inodes: Set<string>;
  try {
    inodes = new Set();
    for (const fd of readdirSync(`/proc/${pid}/fd`)) {
      try {
        const match = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
        if (match) inodes.add(match[1]!);
      } catch {
        // the descriptor closed while listing
      }
    }
  } catch {
    return undefined;
  }
  const portHex = port.toString(16).toUpperCase().padStart(4, '0');
  let count = 0;
  for (const table of ['tcp', 'tcp6']) {
    let text: string;
    try {
      text = readFileSync(`/proc/${pid}/net/${table}`, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const fields = line.trim().split(/\s+/);
      if (fields.length < 10) continue;
      const remote = fields[2]!;
      const state = fields[3]!;
      const inode = fields[9]!;
      if (state === '01' && remote.endsWith(`:${portHex}`) && inodes.has(inode)) count += 1;
    }
  }
  return count;
}
