/** Templates of the device authorization pages (RFC 8628 §3.3: the user enters the user code). */
export const DEVICE_TEMPLATES = {} as const;
