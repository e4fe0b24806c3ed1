#!/usr/bin/env node
/** `pnpm subscribers <command>`: see command.ts and README.md in this folder. */
import { runSubscribersCli } from './command.js';

process.exitCode = await runSubscribersCli(process.argv.slice(2), {
  out: (text) => void process.stdout.write(text),
  err: (text) => void process.stderr.write(text),
});
