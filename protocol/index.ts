/**
 * The wire protocol: every byte DFS puts on a socket is encoded and decoded here. One module
 * per section of PROTOCOL.md; this index re-exports them all for outside users, while the
 * modules inside protocol/ and the daemons import the section they need, so the data path
 * never loads the NameNode messages.
 */
export * from './errors.js';
export * from './limits.js';
export * from './wire-reader.js';
export * from './wire-writer.js';
export * from './codec.js';
export * from './handshake.js';
export * from './frame.js';
export * from './frame-decoder.js';
export * from './byte-pieces.js';
export * from './shared-structures.js';
export * from './client-namenode-messages.js';
export * from './admin-namenode-messages.js';
export * from './ha-admin-messages.js';
export * from './datanode-namenode-messages.js';
export * from './namenode-messages.js';
export * from './error-frame.js';
export * from './data-messages.js';
