/**
 * The decoder's template state in COLLECTOR_STATE_FILE: restored at start so a restarted
 * collector decodes at once instead of waiting minutes for every router's next template,
 * saved every minute and at stop. Used by whichever thread runs the decoder (the main
 * thread, or the receive thread: receiver/receive-pipeline.ts).
 */
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import type { FlowDecoder } from '../decoder/index.js';

/** Restore from `file` if it exists; a damaged file is logged and ignored (it costs minutes of waiting for templates, not the collector). */
export function restoreTemplateState(decoder: FlowDecoder, file: string, log: (message: string) => void): void {
  if (!file || !existsSync(file)) return;
  try {
    const r = decoder.restoreState(JSON.parse(readFileSync(file, 'utf8')));
    log(`restored ${r.templates} templates of ${r.exporters} exporters from ${file}`);
  } catch (e) {
    log(`ignoring template state in ${file}: ${(e as Error).message}`);
  }
}

/** Save to `file` (written beside it, then renamed: never half a file); failures are logged. */
export function saveTemplateState(decoder: FlowDecoder, file: string, log: (message: string) => void): void {
  if (!file) return;
  try {
    writeFileSync(`${file}.tmp`, JSON.stringify(decoder.exportState(Date.now())));
    renameSync(`${file}.tmp`, file);
  } catch (e) {
    log(`could not save template state to ${file}: ${(e as Error).message}`);
  }
}
