/**
 * @file @tsgrad/safetensors: the safetensors format (a strict reader, a writer byte-identical to the
 * reference's) usable without @tsgrad/nn and in a browser;
 * @tsgrad/safetensors/node adds the file policy every tsgrad file goes through.
 * Only what is listed here is public; the split files share helpers that are not.
 */

export { bfloat16ToNumber, decodeTensor, float16ToNumber, parseSafetensors, type Safetensors, type SafetensorsTensor } from "./decode.ts";
export { dtypeSize, naturalDType, type SafetensorsDType, type WritableDType, writableDType } from "./dtypes.ts";
export {
  encodeValues,
  planSafetensors,
  type SafetensorsPlan,
  type SafetensorsPlannedTensor,
  type SafetensorsTensorSpec,
  serializeSafetensors,
} from "./encode.ts";
export { SafetensorsError, type SafetensorsErrorCode } from "./errors.ts";
export { MAX_HEADER_BYTES, parseHeader, readHeaderLength, type SafetensorsHeader, type SafetensorsTensorInfo } from "./header.ts";
export {
  checkFileRecord,
  checkSibling,
  fileRecord,
  type JsonTextOptions,
  parseJsonText,
  sha256Hex,
} from "./json-files.ts";
export { type SaveOptions, serializeTensors, uploadTensors } from "./named-tensors.ts";
export type { WrittenFile } from "./written-file.ts";
