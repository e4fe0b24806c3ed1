export * from './batch.js';
export { FlowDecoder, DECODER_DEFAULTS, type DecoderOptions } from './decoder.js';
export type { DecodeErrorReason, ExporterStats } from './stats.js';
export { totalStats } from './stats.js';
export type { TemplateSnapshot } from './state.js';
export { IE, REVERSE_PEN } from './fields.js';
export type { TemplateField, TemplateDefinition } from './template.js';
