/**
 * Wire-level protocol violations. A decoder throws one of these; the process that sent the
 * bytes is then retired (DESIGN.md: "the query fails as an error ... and the process is recycled").
 */
export const WireErrorCodes = {
  ERR_WIRE_LINE_TOO_LONG: 'line exceeds the maximum length',
  ERR_WIRE_FRAME_TOO_LONG: 'frame exceeds the maximum length',
  ERR_WIRE_EMPTY_FRAME: 'zero-length frame',
  ERR_WIRE_BAD_REPLY: 'reply is not a valid yes/no answer',
  ERR_WIRE_EXTRA_DATA: 'more than one reply for one query',
  ERR_WIRE_UNEXPECTED_DATA: 'data arrived while no query was outstanding',
  ERR_WIRE_TRUNCATED: 'stream ended inside a message',
} as const;

export type WireErrorCode = keyof typeof WireErrorCodes;

export class WireError extends Error {
  override readonly name = 'WireError';
  readonly code: WireErrorCode;
  constructor(code: WireErrorCode, message?: string) {
    super(message ?? WireErrorCodes[code]);
    this.code = code;
  }
}
