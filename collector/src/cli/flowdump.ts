#!/usr/bin/env node
/** `pnpm flowdump [options] FILE...` — see flowdump-command.ts and the collector README. */
import { runFlowdump } from './flowdump-command.js';

// `| head` closes the pipe early: stop quietly instead of crashing with EPIPE.
process.stdout.on('error', (e: NodeJS.ErrnoException) => {
  if (e.code === 'EPIPE') process.exit(0);
  throw e;
});

const code = await runFlowdump(process.argv.slice(2), {
  out: (text) => void process.stdout.write(text),
  err: (text) => void process.stderr.write(text),
});
process.exitCode = code;
