/** @file Where the study's committed files live. */

/** The committed backbone (benchmarks/backbone/), made by the command in its pretrain.json. */
export const BACKBONE_DIR = new URL("../../backbone/", import.meta.url).pathname;
