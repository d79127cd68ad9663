/**
 * @file @tsgrad/training: the runs the `tsgrad` command makes, as functions that hold no data set (the
 * caller passes a task's examples or a corpus's text). This entry loads in a browser: the training loop
 * (adapt, trainClassifier, predict, accuracy), the summaries and the plots; `@tsgrad/training/node` adds
 * the runs that read and write files (finetune, compare, pretrain, the run store).
 */

export { linePlot, type PlotPoint, type PlotSeries } from "./plot.ts";
export { aggregate, type Cell, markdownTable, type RunOutcome, verdict } from "./summary.ts";
export {
  type AdaptConfig,
  accuracy,
  adapt,
  type BatchLogits,
  cachedProbeLogits,
  DEFAULT_LR,
  encodeAll,
  type HyraAblation,
  METHODS,
  matchedLoraRank,
  predict,
  type StudyMethod,
  type TaskData,
  type TaskExample,
  tokenLogits,
  trainClassifier,
  trainSteps,
} from "./train.ts";
