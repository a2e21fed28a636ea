/** Paths of the device pages, under the issuer: `verify` is the verification_uri (RFC 8628 §3.2). */
export const DEVICE_PATHS = {
  verify: '/oauth2/device/verify',
  consent: '/oauth2/device/consent',
  login: '/oauth2/device/login',
  done: '/oauth2/device/done',
} as const;
