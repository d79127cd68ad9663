/**
 * @file @tsgrad/safetensors/node: everything @tsgrad/safetensors exports, and files (Node): the file
 * policy every tsgrad file goes through (regular files only, capped reads, atomic writes) and named
 * tensors saved to and read from safetensors files.
 */

export { openRegularFile, type Refuse, readCappedFile, refuseLink, removeStaleTemporaries, writeFileAtomic } from "./files.ts";
export * from "./index.ts";
export { loadTensors, readSafetensorsFile, type SafetensorsFile, saveTensors } from "./named-tensor-files.ts";
export { STAGED_SUFFIX, saveVouchedFolder, type VouchedFile, vouchedPath } from "./vouched-folder.ts";
