import { readFile } from 'node:fs/promises';
import { runQuote } from './quote-command.js';

process.exitCode = await runQuote(process.argv.slice(2), {
  readTextFile: (path) => readFile(path, 'utf8'),
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
});
