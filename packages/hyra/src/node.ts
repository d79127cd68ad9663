/**
 * @file @tsgrad/hyra/node: everything @tsgrad/hyra exports, with adapter folders on Node's file system:
 * importing it installs them, so that saveAdapter, loadAdapter, exportAsLora and fromPretrained work.
 */

import { readAdapterFolder, writeAdapterFolder } from "./adapter-folder.ts";
import { installAdapterFolderIO } from "./save.ts";

installAdapterFolderIO({ read: readAdapterFolder, write: writeAdapterFolder });

export * from "./index.ts";
