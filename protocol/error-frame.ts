/**
 * The ERROR frame (PROTOCOL.md section 7): the answer to a failed request on every kind of
 * connection, NameNode and data alike, and the connection-level error (opcode 0, request
 * id 0) a receiver sends before it closes. Its own module so that the data path and the
 * frame server can answer and read errors without importing NameNode messages; the error
 * codes and the `DfsError` family are in errors.ts.
 *
 *   ERROR body: | code u16 | message str |   (the opcode echoes the failed request's)
 */
import { DfsError, errorCodeFromWire, errorCodeToWire } from './errors.js';
import { FrameKind, frameWriter, sealFrame, type Frame } from './frame.js';
import { WireReader } from './wire-reader.js';

/** The message keeps its first 4096 UTF-16 units, so an error never needs a large frame. */
const ERROR_MESSAGE_UNITS_MAX = 4096;

export function encodeError(opcode: number, requestId: number, err: DfsError): Buffer {
  const w = frameWriter(64 + err.message.length);
  w.u16(errorCodeToWire(err.code)).str(err.message.slice(0, ERROR_MESSAGE_UNITS_MAX));
  return sealFrame(w, FrameKind.ERROR, opcode, requestId);
}

export function decodeError(frame: Frame): DfsError {
  const r = new WireReader(frame.body, 'error');
  const code = errorCodeFromWire(r.u16('code'));
  const message = r.str('message');
  r.end();
  return new DfsError(code, message);
}
