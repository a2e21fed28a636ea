export { ExtauthEngine, type EngineOptions, type EngineStats, type QueryOptions, type QueryListener } from './engine.js';
export { ExtauthPool, type PoolOptions, type PoolStats, type RunOptions } from './pool.js';
export { ExtauthError, ExtauthErrorCodes, isExtauthError, type ExtauthErrorCode } from './errors.js';
export {
  COMMANDS,
  DEFAULT_QUERY_LIMITS,
  encodeQuery,
  queryText,
  isCommand,
  parseQuery,
  takesPassword,
  validateQuery,
  type Command,
  type Query,
  type QueryLimits,
} from './query.js';
export { WireError, WireErrorCodes, type WireErrorCode } from './wire/errors.js';
export { LineDecoder, encodeLine } from './wire/line.js';
export { Frame16Decoder, encodeFrame16, FRAME16_MAX } from './wire/frame16.js';
export { ejabberd, generic, wireProtocol, PROTOCOL_NAMES, PARTIAL, YES, NO, type ProtocolName, type WireProtocol, type ReplyReader, type ReadResult } from './wire/protocol.js';
