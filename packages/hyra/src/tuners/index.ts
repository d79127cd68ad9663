/**
 * @file The registry of adapter methods: one line per method. A method's everything else lives in its
 * own folder (tuner.ts says what a method provides).
 */

import { hyraTuner } from "./hyra/tuner.ts";
import { loraTuner } from "./lora/tuner.ts";
import { mhLoraTuner } from "./mh-lora/tuner.ts";
import { registerTuner } from "./tuner.ts";
import { veraTuner } from "./vera/tuner.ts";

registerTuner(loraTuner);
registerTuner(mhLoraTuner);
registerTuner(hyraTuner);
registerTuner(veraTuner);
