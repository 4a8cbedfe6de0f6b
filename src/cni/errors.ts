/**
 * CNI error objects. The spec reserves codes below 100; weft's own are:
 *
 *   100  a kernel operation failed (the message names it and the errno)
 *   101  the node subnet has no free address
 *   102  the IPAM store cannot be read
 *   103  CHECK found the pod's network not as ADD left it
 */
import { WeftError } from "../lib/errors.ts";
import { IoError, SysError } from "../sys/syscalls.ts";

export const ERR_INCOMPATIBLE_VERSION = 1;
export const ERR_UNSUPPORTED_FIELD = 2;
export const ERR_INVALID_ENV = 4;
export const ERR_IO = 5;
export const ERR_DECODE = 6;
export const ERR_INVALID_CONFIG = 7;
export const ERR_TRY_AGAIN_LATER = 11;
export const ERR_NOT_AVAILABLE = 50;
export const ERR_KERNEL = 100;
export const ERR_IPAM_EXHAUSTED = 101;
export const ERR_IPAM_STORE = 102;
export const ERR_CHECK_FAILED = 103;

/** A failure to report as a CNI error object. */
export class CniError extends Error {
  readonly code: number;
  readonly details: string | undefined;
  constructor(code: number, msg: string, details?: string) {
    super(msg);
    this.name = "CniError";
    this.code = code;
    this.details = details;
  }
}

const CODE_OF: Record<string, number> = {
  SUBNET_FILE_MISSING: ERR_TRY_AGAIN_LATER,
  SUBNET_FILE_INVALID: ERR_INVALID_CONFIG,
  IPAM_EXHAUSTED: ERR_IPAM_EXHAUSTED,
  IPAM_STORE_CORRUPT: ERR_IPAM_STORE,
};

/** Converts anything thrown into a CniError with the most specific code. */
export function toCniError(err: unknown): CniError {
  if (err instanceof CniError) return err;
  if (err instanceof WeftError) return new CniError(CODE_OF[err.code] ?? ERR_KERNEL, err.message, err.hint);
  if (err instanceof IoError) return new CniError(ERR_IO, err.message);
  if (err instanceof SysError) return new CniError(ERR_KERNEL, err.message);
  // JavaScript's own errors are a bug in weft, whose words mean nothing to a user: they go in details.
  if (err instanceof Error && ENGINE_ERRORS.has(err.name)) {
    return new CniError(ERR_KERNEL, "the weft plugin hit an internal error (a bug in weft, not a problem with the input)", `please report it with this: ${err.name}: ${err.message}`);
  }
  return new CniError(ERR_KERNEL, err instanceof Error ? err.message : String(err));
}

const ENGINE_ERRORS = new Set(["TypeError", "RangeError", "ReferenceError", "SyntaxError", "URIError", "EvalError"]);
