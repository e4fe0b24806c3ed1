// Prints the suite's totals as one plain line CI can read: "tests: N passed, N failed, N skipped".
import { readFileSync } from 'node:fs';
const path = process.argv[2];
const r = JSON.parse(readFileSync(path, 'utf8'));
const skipped = (r.numPendingTests ?? 0) + (r.numTodoTests ?? 0);
console.log(`tests: ${r.numPassedTests} passed, ${r.numFailedTests} failed, ${skipped} skipped`);
if (r.numTotalTests === 0) {
  console.error('no test ran');
  process.exit(1);
}
