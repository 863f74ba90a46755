/**
 * `weft top`: the golden metrics live, redrawn every 2 s (like `linkerd viz
 * top`/`stat -w`); q or Ctrl-C quits. Without a terminal (output piped, or
 * --once) it prints one frame and exits, so scripts and tests can read it.
 */

import { messageOf } from '@weft/shared';
import type { Command } from 'commander';
import { apiOption, fetchStats } from '../stats-client.js';
import { formatStats } from '../stats-format.js';

const CLEAR = '\x1b[H\x1b[2J';

export function topCommand(program: Command): void {
  program
    .command('top [service]')
    .description('live golden metrics per service and edge, refreshed every 2 s (q or Ctrl-C quits)')
    .option(...apiOption)
    .option('--window <duration>', 'the window each frame covers: 10s..15m, a multiple of 10s', '1m')
    .option('--interval <seconds>', 'seconds between frames', '2')
    .option('--once', 'print one frame and exit (also when stdout is not a terminal)')
    .action(async (service: string | undefined, o: { api: string; window: string; interval: string; once?: boolean }) => {
      const frame = async () => {
        const s = await fetchStats(o.api, o.window);
        const when = new Date(s.generatedAtMs).toISOString().replace(/\.\d+Z$/, 'Z');
        return `weft top — ${o.api}, last ${s.windowSeconds}s, ${when}\n\n${formatStats(s, service)}\n`;
      };
      if (o.once || !process.stdout.isTTY) {
        process.stdout.write(await frame());
        return;
      }
      const intervalMs = Math.max(0.5, Number(o.interval) || 2) * 1000;
      await new Promise<void>((resolve) => {
        let timer: NodeJS.Timeout | undefined;
        let stopped = false;
        const stop = () => {
          stopped = true;
          clearTimeout(timer);
          if (process.stdin.isTTY) process.stdin.setRawMode(false);
          process.stdin.pause();
          process.stdout.write('\n');
          resolve();
        };
        const draw = async () => {
          let text: string;
          try {
            text = await frame();
          } catch (err) {
            text = `weft top — ${messageOf(err)} (retrying)\n`;
          }
          if (stopped) return;
          process.stdout.write(CLEAR + text + '\n(q to quit)');
          timer = setTimeout(() => void draw(), intervalMs);
        };
        if (process.stdin.isTTY) process.stdin.setRawMode(true);
        process.stdin.resume();
        process.stdin.on('data', (key: Buffer) => {
          // q, Q, Ctrl-C (raw mode delivers it as a byte, not a signal)
          if (key.includes(0x71) || key.includes(0x51) || key.includes(0x03)) stop();
        });
        process.once('SIGINT', stop);
        void draw();
      });
    });
}
