/**
 * WebHDFS errors as HDFS's `WebHDFS.md` gives them ("Error Responses"): a JSON body
 *
 *   {"RemoteException": {"exception": "FileNotFoundException",
 *                        "javaClassName": "java.io.FileNotFoundException",
 *                        "message": "File does not exist: /foo"}}
 *
 * with the status of the exception's family: IllegalArgumentException and
 * UnsupportedOperationException 400, SecurityException 401, IOException and its subclasses
 * 403, FileNotFoundException 404, RuntimeException 500. Never a stack trace: the message is
 * the DfsError's, and a fault of ours is "internal error" (logged by the server).
 *
 *   | DfsError code                        | exception                          | status |
 *   |--------------------------------------|------------------------------------|--------|
 *   | NOT_FOUND                            | FileNotFoundException              | 404    |
 *   | INVALID_ARGUMENT, INVALID_PATH,      | IllegalArgumentException           | 400    |
 *   | MALFORMED                            |                                    |        |
 *   | ALREADY_EXISTS                       | FileAlreadyExistsException         | 403    |
 *   | ACCESS_DENIED                        | AccessControlException             | 403    |
 *   | NOT_A_DIRECTORY                      | ParentNotDirectoryException        | 403    |
 *   | NOT_EMPTY                            | PathIsNotEmptyDirectoryException   | 403    |
 *   | LEASE_CONFLICT                       | AlreadyBeingCreatedException       | 403    |
 *   | RECOVERY_IN_PROGRESS                 | RecoveryInProgressException        | 403    |
 *   | QUOTA_EXCEEDED                       | QuotaExceededException             | 403    |
 *   | SAFE_MODE                            | SafeModeException                  | 403    |
 *   | any other (a fault of the world)     | IOException                        | 403    |
 *   | INTERNAL, or not a DfsError          | RuntimeException                   | 500    |
 *
 * Refusals of the HTTP server itself (405, 413, 408...) keep their status and get the
 * nearest exception (`remoteExceptionBody`).
 */
import { DfsError, rethrowIfBug, type ErrorCode } from '../../protocol/errors.js';
import { HttpError, type HttpFailure } from '../common/http-router.js';

const EXCEPTIONS = {
  IllegalArgumentException: { status: 400, javaClassName: 'java.lang.IllegalArgumentException' },
  UnsupportedOperationException: { status: 400, javaClassName: 'java.lang.UnsupportedOperationException' },
  SecurityException: { status: 401, javaClassName: 'java.lang.SecurityException' },
  IOException: { status: 403, javaClassName: 'java.io.IOException' },
  FileNotFoundException: { status: 404, javaClassName: 'java.io.FileNotFoundException' },
  FileAlreadyExistsException: {
    status: 403,
    javaClassName: 'org.apache.hadoop.fs.FileAlreadyExistsException',
  },
  AccessControlException: { status: 403, javaClassName: 'org.apache.hadoop.security.AccessControlException' },
  ParentNotDirectoryException: {
    status: 403,
    javaClassName: 'org.apache.hadoop.fs.ParentNotDirectoryException',
  },
  PathIsNotEmptyDirectoryException: {
    status: 403,
    javaClassName: 'org.apache.hadoop.fs.PathIsNotEmptyDirectoryException',
  },
  AlreadyBeingCreatedException: {
    status: 403,
    javaClassName: 'org.apache.hadoop.hdfs.protocol.AlreadyBeingCreatedException',
  },
  RecoveryInProgressException: {
    status: 403,
    javaClassName: 'org.apache.hadoop.hdfs.protocol.RecoveryInProgressException',
  },
  QuotaExceededException: {
    status: 403,
    javaClassName: 'org.apache.hadoop.hdfs.protocol.QuotaExceededException',
  },
  SafeModeException: {
    status: 403,
    javaClassName: 'org.apache.hadoop.hdfs.server.namenode.SafeModeException',
  },
  RuntimeException: { status: 500, javaClassName: 'java.lang.RuntimeException' },
} as const;

export type RemoteExceptionName = keyof typeof EXCEPTIONS;

const EXCEPTION_OF_CODE: Partial<Record<ErrorCode, RemoteExceptionName>> = {
  NOT_FOUND: 'FileNotFoundException',
  INVALID_ARGUMENT: 'IllegalArgumentException',
  INVALID_PATH: 'IllegalArgumentException',
  MALFORMED: 'IllegalArgumentException',
  ALREADY_EXISTS: 'FileAlreadyExistsException',
  ACCESS_DENIED: 'AccessControlException',
  NOT_A_DIRECTORY: 'ParentNotDirectoryException',
  NOT_EMPTY: 'PathIsNotEmptyDirectoryException',
  LEASE_CONFLICT: 'AlreadyBeingCreatedException',
  RECOVERY_IN_PROGRESS: 'RecoveryInProgressException',
  QUOTA_EXCEEDED: 'QuotaExceededException',
  SAFE_MODE: 'SafeModeException',
  INTERNAL: 'RuntimeException',
};

/** A RemoteException to throw from a handler: the server answers with its status and body. */
export function remoteError(exception: RemoteExceptionName, message: string): HttpError {
  return new HttpError(EXCEPTIONS[exception].status, exception, message);
}

/**
 * A failure of a WebHDFS handler as a RemoteException (bugs are rethrown first). Anything
 * untyped is returned as it is: the server answers 500 "internal error" (a RuntimeException
 * body) and logs it with its stack.
 */
export function toRemoteError(err: unknown): unknown {
  rethrowIfBug(err);
  if (err instanceof DfsError) {
    const exception = EXCEPTION_OF_CODE[err.code] ?? 'IOException';
    return new HttpError(EXCEPTIONS[exception].status, exception, err.message);
  }
  return err;
}

function isExceptionName(code: string): code is RemoteExceptionName {
  return Object.hasOwn(EXCEPTIONS, code);
}

/** The route's error body (http-router.ts `Route.errorBody`). */
export function remoteExceptionBody(f: HttpFailure): unknown {
  let exception: RemoteExceptionName;
  if (isExceptionName(f.code)) exception = f.code;
  else if (f.status === 404) exception = 'FileNotFoundException';
  else if (f.status === 405 || f.status === 501) exception = 'UnsupportedOperationException';
  else if (f.status >= 500) exception = 'RuntimeException';
  else if (f.status === 400) exception = 'IllegalArgumentException';
  else exception = 'IOException';
  return {
    RemoteException: { exception, javaClassName: EXCEPTIONS[exception].javaClassName, message: f.message },
  };
}
