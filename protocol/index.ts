/** The wire protocol: every byte DFS puts on a socket is encoded and decoded here. */
export * from './errors.js';
export * from './limits.js';
export * from './frame.js';
export * from './frame-decoder.js';
export * from './handshake.js';
export * from './types.js';
export * from './wire-reader.js';
export * from './wire-writer.js';
export * from './namenode-messages.js';
export * from './data-messages.js';
export * from './byte-pieces.js';
