/** Stateless dynamic client registration (RFC 7591): the public surface of this folder. */
export { issueClient, verifyClient, verifyClientSecret, CLIENT_ID_TYP, MAX_CLIENT_ID_LENGTH } from './client-id.js';
export type { ClientInformation, IssueOptions, VerifyOptions } from './client-id.js';
export { clientSecretFor } from './client-secret.js';
export { HostKey, RegistrationKeys, keyId, perHostKey } from './keys.js';
export { METADATA_LIMITS, validateClientMetadata } from './metadata.js';
export type { ClientMetadata } from './metadata.js';
export * from './vocabulary.js';
