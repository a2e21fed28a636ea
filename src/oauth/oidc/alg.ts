/**
 * The JWS algorithm of id_tokens: ES256 (RFC 7518 §3.4; why, see keys.ts). Registration
 * refuses any other id_token_signed_response_alg (OpenID Connect Dynamic Client Registration
 * §2). A module of its own that imports nothing, so registration can name the algorithm
 * without reaching the signing keys and, through them, the host.
 */
export const ID_TOKEN_ALG = 'ES256';
