/**
 * @file The low-data HyRA experiment, as the `tsgrad study` and `tsgrad theory` commands run it: the
 * study's plan and runs, the theory's curve, and where their committed files live (results/, beside
 * PROTOCOL.md). Node only: both read and write run files.
 */

import { fileURLToPath } from "node:url";

export { STUDY_PRESETS, type StudyPlan, study } from "./study.ts";
export { THEORY_PRESETS, type TheoryPlan, theory } from "./theory.ts";

/** The committed runs and reports of the full presets: the default --out of `tsgrad study` and `tsgrad theory`. */
export const RESULTS_DIR = fileURLToPath(new URL("../results/", import.meta.url));
