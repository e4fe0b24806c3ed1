/** Entry point of the `rater` admin CLI (root script `pnpm rater ...`); see cli.ts. */
import { runRaterCli } from './cli.js';

process.exitCode = await runRaterCli(process.argv.slice(2), {
  env: process.env,
  out: (text) => process.stdout.write(text),
  err: (text) => process.stderr.write(text),
});
