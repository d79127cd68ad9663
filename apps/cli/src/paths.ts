/** @file Where the command finds the committed files it defaults to. */

import { fileURLToPath } from "node:url";

/** The committed GPT backbone (pretrained/gpt-text/ at the repository's root), made by the command in its pretrain.json. */
export const GPT_BACKBONE_DIR = fileURLToPath(new URL("../../../pretrained/gpt-text/", import.meta.url));
