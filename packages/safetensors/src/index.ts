/**
 * @file @tsgrad/safetensors: the safetensors format (a strict reader, a writer byte-identical to the
 * reference's) and the file policy every tsgrad file goes through, usable without @tsgrad/nn.
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
export {
  openRegularFile,
  type Refuse,
  readCappedFile,
  refuseLink,
  removeStaleTemporaries,
  type WrittenFile,
  writeFileAtomic,
} from "./files.ts";
export { MAX_HEADER_BYTES, parseHeader, readHeaderLength, type SafetensorsHeader, type SafetensorsTensorInfo } from "./header.ts";
export {
  loadTensors,
  readSafetensorsFile,
  type SafetensorsFile,
  type SaveOptions,
  saveTensors,
  uploadTensors,
} from "./named-tensors.ts";
