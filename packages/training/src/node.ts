/**
 * @file @tsgrad/training/node: the main entry, and the runs that read and write files: one fine-tuning
 * run (finetune), a grid of them (compare), the backbone's pretraining (pretrain), the store of finished
 * runs, and progress lines on a terminal.
 */

export { backboneFloor, type CompareOutcome, compare, estimateSeconds, type Grid, PRESETS, runsOf } from "./compare.ts";
export { finetune, RUN_FILE, type RunConfig, type RunResult } from "./finetune.ts";
export * from "./index.ts";
export { finishFacts, type MachineFacts, machineFacts } from "./machine.ts";
export { bitsPerChar, PRETRAIN_DEFAULTS, type PretrainResult, type PretrainSettings, pretrain, unigramBitsPerChar } from "./pretrain.ts";
export { formatDuration, Progress, type ProgressOptions } from "./progress.ts";
export { canonicalJson, RunStore, runKey, type StoredRun, writeTextFiles } from "./store.ts";
