/** @file The commands of `tsgrad`, in the order its --help lists them. */

import type { Command } from "../command.ts";
import { compareCommand } from "./compare.ts";
import { evaluateCommand } from "./evaluate.ts";
import { finetuneCommand } from "./finetune.ts";
import { generateCommand } from "./generate.ts";
import { predictCommand } from "./predict.ts";
import { pretrainCommand } from "./pretrain.ts";
import { studyCommand } from "./study.ts";
import { theoryCommand } from "./theory.ts";

export const COMMANDS: readonly Command[] = [
  compareCommand,
  studyCommand,
  theoryCommand,
  finetuneCommand,
  evaluateCommand,
  predictCommand,
  pretrainCommand,
  generateCommand,
] as readonly Command[];
