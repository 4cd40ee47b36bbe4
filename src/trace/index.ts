/** Trace files: format, recording, serialization, atomic writes, loading. */
export { errorOutcome, MODEL_DIED, performStep } from "./calls.ts";
export { listTraceFiles, loadTraceFile, parseTrace, TRACE_SCHEMA_ID, TraceLoadError } from "./load.ts";
export { type TraceMeta, TraceRecorder } from "./recorder.ts";
export { canonical, canonicalJson, serializeTrace } from "./serialize.ts";
export * from "./types.ts";
export { writeFileAtomic, writeTraceFile } from "./write.ts";
